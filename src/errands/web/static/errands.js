/* errands.js: follow one job from the browser, with no dependencies.
 *
 *   const stop = errands.follow("/errands/api/jobs/42?token=...", {
 *     onUpdate(job) { ... },        // the job (state, progress, result, error) whenever it changes
 *     onDone(job) { ... },          // once, when it succeeded, failed or was cancelled
 *     onError(err) { ... },         // the job could not be read (bad token, network)
 *   });
 *
 * It listens to the job's Server-Sent Events and re-reads the job on each one;
 * where EventSource is missing or keeps failing, it polls every `interval` ms.
 */
(function (root) {
  "use strict";
  var FINISHED = { succeeded: true, failed: true, cancelled: true };

  function follow(url, options) {
    options = options || {};
    var interval = options.interval || 2000;
    var parts = url.split("?");
    var jobUrl = parts[0];
    var query = parts.length > 1 ? "?" + parts[1] : "";
    var source = null, timer = null, stopped = false, failures = 0, busy = false;

    function stop() {
      stopped = true;
      if (source) source.close();
      if (timer) clearTimeout(timer);
    }

    function read() {
      if (stopped || busy) return Promise.resolve();
      busy = true;
      return fetch(jobUrl + query, { headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
            return body;
          });
        })
        .then(function (job) {
          busy = false;
          if (stopped) return;
          if (options.onUpdate) options.onUpdate(job);
          if (FINISHED[job.state]) {
            stop();
            if (options.onDone) options.onDone(job);
          }
        })
        .catch(function (err) {
          busy = false;
          if (options.onError) options.onError(err);
        });
    }

    function poll() {
      if (stopped) return;
      read().then(function () {
        if (!stopped) timer = setTimeout(poll, interval);
      });
    }

    function stream() {
      source = new root.EventSource(jobUrl + "/events" + query);
      source.onmessage = read;
      ["state", "progress", "log", "checkpoint", "cancel_requested", "rescued", "file"].forEach(function (kind) {
        source.addEventListener(kind, read);
      });
      source.onopen = function () { failures = 0; };
      source.onerror = function () {
        failures += 1;
        if (failures >= 3 && !stopped) {  // the stream keeps failing: fall back to polling
          source.close();
          poll();
        }
      };
    }

    read();
    if (root.EventSource && !options.poll) stream(); else poll();
    return stop;
  }

  root.errands = { follow: follow };
})(typeof window !== "undefined" ? window : this);
