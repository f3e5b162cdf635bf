/* The demo page: start jobs through the demo's endpoint and follow each one with errands.js.
 * Values only ever reach the page through textContent and attributes, never as HTML. */
(function () {
  "use strict";
  var FINISHED = { succeeded: true, failed: true, cancelled: true };
  var list, modes = {};

  function text(el, selector, value) {
    el.querySelector(selector).textContent = value;
  }

  function setMode(id, mode, why) {
    modes[id] = mode === "polling" && why === "fallback" ? "fallback" : "live";
    var polling = Object.keys(modes).some(function (k) { return modes[k] === "fallback"; });
    var el = document.getElementById("mode");
    el.dataset.mode = polling ? "polling" : "stream";
    el.textContent = polling ? "polling every second (the event stream is unavailable)"
                             : "live, over Server-Sent Events";
  }

  function render(row, job) {
    var state = row.querySelector(".state");
    state.className = "state state-" + job.state;
    state.textContent = job.state;
    row.dataset.state = job.state;
    var fraction = job.progress && job.progress.fraction;
    if (job.state === "succeeded") fraction = 1;
    var percent = fraction == null ? 0 : Math.round(fraction * 100);
    row.querySelector(".bar").value = percent;
    var message = (job.progress && job.progress.message) || "";
    if (job.state === "succeeded" && job.started_at && job.finished_at) {
      var took = (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000;
      message = "done in " + took.toFixed(1) + " s" + (job.task === "demo.wait" ? "" : " · " + message);
    }
    if (job.state === "scheduled" && job.error) message = "failed, retrying soon (attempt " + job.attempt + ")";
    if (job.state === "queued") message = message ? message + " (waiting for a worker)" : "waiting for a worker";
    text(row, ".job-message", message);
    var error = row.querySelector(".job-error");
    error.hidden = !(job.error && job.state === "failed");
    if (job.error) error.textContent = job.error.type + ": " + job.error.message;
  }

  function notice(message, link, state) {
    var box = document.createElement("div");
    box.className = "toast";
    if (state) box.dataset.state = state;
    var span = document.createElement("span");
    span.textContent = message;
    box.appendChild(span);
    if (link) box.appendChild(link);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "ghost";
    close.textContent = "×";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
    document.getElementById("toasts").appendChild(box);
    setTimeout(function () { box.remove(); }, 12000);
  }

  function offerFiles(row, url) {
    return errands.files(url).then(function (files) {
      var holder = row.querySelector(".job-files");
      holder.textContent = "";
      var links = files.map(function (file) {
        var a = document.createElement("a");
        a.href = file.url;
        a.className = "download";
        a.setAttribute("download", file.name);
        a.textContent = "Download " + file.name + " (" + (file.size / 1e6).toFixed(1) + " MB)";
        holder.appendChild(a);
        return a;
      });
      return links;
    });
  }

  function follow(row, announce) {
    var url = row.dataset.follow, id = row.dataset.id;
    var label = row.querySelector(".job-label").textContent;
    errands.follow(url, {
      interval: 1000,
      onUpdate: function (job) { render(row, job); },
      onMode: function (mode, why) { setMode(id, mode, why); },
      onError: function (err) { text(row, ".job-message", "could not read the job: " + err.message); },
      onDone: function (job) {
        delete modes[id];
        offerFiles(row, url).then(function (links) {
          if (!announce) return;
          var link = links[0] ? links[0].cloneNode(true) : null;
          var outcome = job.state === "failed" && job.error ? "failed: " + job.error.message : job.state;
          notice(label + " (#" + job.id + ") " + outcome + ".", link, job.state);
        });
      },
    });
  }

  function addRow(started) {
    var existing = list.querySelector('li[data-id="' + String(Number(started.id)) + '"]');
    if (existing) return existing;  // the newsletter runs once at a time: its row is already here
    var row = document.getElementById("job-row").content.firstElementChild.cloneNode(true);
    row.dataset.id = String(started.id);
    row.dataset.follow = started.follow_url;
    text(row, ".job-label", started.label);
    text(row, ".job-id", "#" + started.id);
    row.querySelector(".bar").setAttribute("aria-label", "Progress of job " + started.id);
    list.insertBefore(row, list.firstChild);
    document.getElementById("empty").hidden = true;
    follow(row, true);
    return row;
  }

  function start(button) {
    button.disabled = true;
    fetch("/demo/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ kind: button.dataset.kind }),
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
          return body;
        });
      })
      .then(addRow)
      .catch(function (err) { notice("Could not start the job: " + err.message, null, "failed"); })
      .then(function () { button.disabled = false; });
  }

  function showInbox(box) {
    var reach = document.getElementById("reach");
    if (box.newsletter) {
      var n = box.newsletter;
      var twice = n.messages - n.reached;
      reach.textContent = "Newsletter #" + n.job + ": " + n.reached.toLocaleString("en") + " of "
        + reach.dataset.subscribers + " subscribers reached"
        + (twice ? " (" + twice.toLocaleString("en") + " sent twice, from the batch in flight at a restart)." : ".");
    }
    var mails = document.getElementById("mails");
    if (!box.notifications.length) return;
    mails.textContent = "";
    box.notifications.forEach(function (mail) {
      var li = document.createElement("li");
      var when = document.createElement("time");
      var at = new Date(mail.at * 1000);
      when.dateTime = at.toISOString();
      when.title = at.toISOString();
      when.textContent = at.toLocaleTimeString();
      li.appendChild(when);
      li.appendChild(document.createTextNode(" to " + mail.to + ": " + mail.subject));
      mails.appendChild(li);
    });
  }

  function pollInbox() {
    fetch("/demo/inbox", { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (box) { if (box) showInbox(box); })
      .catch(function () {})
      .then(function () { setTimeout(pollInbox, 2000); });
  }

  var THEMES = ["system", "light", "dark"];  // the dashboard's toggle, same key: one choice for both pages

  function applyTheme(name) {
    if (name === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = name;
    var label = "Colour theme: " + (name === "system" ? "follows the system" : name);
    var button = document.getElementById("theme");
    button.setAttribute("aria-label", label);
    button.title = label;
  }

  function theme() {
    var current = localStorage.getItem("errands-theme") || "system";
    if (THEMES.indexOf(current) < 0) current = "system";
    applyTheme(current);
    document.getElementById("theme").addEventListener("click", function () {
      current = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
      localStorage.setItem("errands-theme", current);
      applyTheme(current);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    list = document.getElementById("jobs");
    theme();
    document.querySelectorAll("button[data-kind]").forEach(function (button) {
      button.addEventListener("click", function () { start(button); });
    });
    list.querySelectorAll("li.job").forEach(function (row) { follow(row, false); });
    pollInbox();
  });
})();
