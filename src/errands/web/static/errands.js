/* errands.js: follow one job from the browser, with no dependencies.
 *
 *   const stop = errands.follow("/errands/api/jobs/42?token=...", {
 *     onUpdate(job) { ... },        // the job (state, progress, result, error) whenever it changes
 *     onDone(job) { ... },          // once, when it succeeded, failed or was cancelled
 *     onError(err) { ... },         // the job could not be read (bad token, network)
 *     onMode(mode, why) { ... },    // "stream" (Server-Sent Events) or "polling"; why: "fallback"
 *                                   // (the stream failed) or "limit" (errands.maxStreams are open)
 *     interval: 2000,               // ms between reads when polling
 *   });
 *
 *   errands.files("/errands/api/jobs/42?token=...").then(files => ...)
 *     // [{name, size, content_type, url}], each url carrying the same token
 *
 * It listens to the job's Server-Sent Events and re-reads the job on each one (events that
 * arrive during a read cause one more read, never a lost update). Where EventSource is
 * missing, where the stream cannot open or keeps failing, it polls every `interval` ms.
 * A browser opens about six HTTP/1.1 connections per site, so at most `errands.maxStreams`
 * (4) streams are open at once; other followers poll until a stream is free.
 */
(function (root) {
  "use strict";
  var FINISHED = { succeeded: true, failed: true, cancelled: true };
  var api = { maxStreams: 4, follow: follow, files: files };
  var open = 0;  // streams open on this page
  var EVENTS = ["state", "progress", "log", "checkpoint", "cancel_requested", "rescued", "file", "overflow"];

  function split(url) {
    var at = url.indexOf("?");
    return at < 0 ? { path: url, query: "" } : { path: url.slice(0, at), query: url.slice(at) };
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
          return body;
        });
      });
  }

  function follow(url, options) {
    options = options || {};
    var interval = options.interval || 2000;
    var parts = split(url);
    var source = null, timer = null, stopped = false, opened = false, failures = 0;
    var reading = null, again = false, mode = null, why = null;

    function setMode(next, reason) {
      if (next === mode && reason === why) return;
      mode = next;
      why = reason;
      if (options.onMode) options.onMode(next, reason);
    }

    function close() {
      if (!source) return;
      source.close();
      source = null;
      open -= 1;
    }

    function stop() {
      stopped = true;
      close();
      if (timer) clearTimeout(timer);
    }

    function read() {
      if (stopped) return Promise.resolve();
      if (reading) {  // an event arrived mid-read: read once more when this read ends
        again = true;
        return reading;
      }
      reading = getJson(parts.path + parts.query)
        .then(function (job) {
          if (stopped) return;
          if (options.onUpdate) options.onUpdate(job);
          if (FINISHED[job.state]) {
            stop();
            if (options.onDone) options.onDone(job);
          }
        })
        .catch(function (err) {
          if (!stopped && options.onError) options.onError(err);
        })
        .then(function () {
          reading = null;
          if (again && !stopped) {
            again = false;
            return read();
          }
        });
      return reading;
    }

    function tick() {
      if (stopped) return;
      if (why === "limit" && open < api.maxStreams) return stream();
      read().then(function () {
        if (!stopped) timer = setTimeout(tick, interval);
      });
    }

    function poll(reason) {
      close();
      setMode("polling", reason);
      tick();
    }

    function stream() {
      if (open >= api.maxStreams) return poll("limit");
      open += 1;
      setMode("stream", null);
      source = new root.EventSource(parts.path + "/events" + parts.query);
      source.onmessage = read;
      EVENTS.forEach(function (kind) { source.addEventListener(kind, read); });
      source.onopen = function () { opened = true; failures = 0; };
      source.onerror = function () {
        if (stopped) return;
        failures += 1;
        // Never opened, refused for good (an HTTP error closes it), or failing again and again: poll.
        if (!opened || failures >= 3 || this.readyState === root.EventSource.CLOSED) poll("fallback");
        else read();  // EventSource reconnects by itself; meanwhile read the job once
      };
    }

    if (root.EventSource && !options.poll) {
      read().then(function () { if (!stopped) stream(); });  // a finished job needs no stream
    } else {
      poll("fallback");
    }
    return stop;
  }

  function files(url) {
    var parts = split(url);
    return getJson(parts.path + "/files" + parts.query).then(function (body) {
      return body.files.map(function (file) {
        return { name: file.name, size: file.size, content_type: file.content_type, url: file.url + parts.query };
      });
    });
  }

  root.errands = api;
})(typeof window !== "undefined" ? window : this);
