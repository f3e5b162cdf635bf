// errands dashboard: keeps server-rendered pages live without reloading them.
// Regions marked [data-region] are refreshed from the server (fetch + swap) when the SSE stream
// says something changed; progress bars move in place. When the stream breaks, the page polls
// instead and says so. Also: local times, confirmations, actions without reloads, the theme.

const body = document.body;
const POLL_MS = 3000;
const EVENT_KINDS = ["state", "progress", "log", "checkpoint", "file", "rescued", "aged", "cancel_requested", "overflow"];
const status = document.getElementById("live-status");
let source = null;
let sourceUrl = "";
let pollTimer = null;
let refreshTimer = null;
let lastEventId = null;

function setStatus(kind, text) {
  if (!status) return;
  status.hidden = !kind;
  status.className = `live-status ${kind}`;
  status.textContent = text;
}

function localTimes(root) {
  for (const el of root.querySelectorAll("time[data-local]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    const options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (at.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
    el.textContent = at.toLocaleString(undefined, options);
  }
}

async function refresh() {
  refreshTimer = null;
  let response;
  try {
    response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
  } catch {
    return;
  }
  if (!response.ok) return;
  swap(await response.text());
}

function swap(html, force = false) {
  const fresh = new DOMParser().parseFromString(html, "text/html");
  const typing = document.activeElement?.closest("input, select, textarea, summary");
  for (const region of fresh.querySelectorAll("[data-region][id]")) {
    const here = document.getElementById(region.id);
    // Never pull a field from under someone typing in it (an action's answer always lands).
    if (!here || (!force && typing && here.contains(typing))) continue;
    here.replaceWith(document.adoptNode(region));
    localTimes(region);
  }
  follow();
}

function refreshSoon(delay) {
  if (refreshTimer === null) refreshTimer = setTimeout(refresh, delay);
}

function visibleJobs() {
  return [...document.querySelectorAll("[data-job]")].map((row) => Number(row.dataset.job));
}

function concerns(event) {
  // The jobs list redraws for its own rows, and on its first page for jobs newer than them.
  if (!document.getElementById("jobs")) return true;
  const shown = visibleJobs();
  if (shown.includes(event.job_id)) return true;
  const firstPage = !new URL(location.href).searchParams.has("before");
  return firstPage && event.kind === "state" && event.job_id > Math.max(0, ...shown);
}

function moveProgress(event) {
  const data = event.data || {};
  for (const box of document.querySelectorAll(`[data-progress="${event.job_id}"]`)) {
    const bar = box.querySelector("progress");
    if (bar && data.total) {
      bar.max = data.total;
      bar.value = data.current ?? 0;
      const pct = box.querySelector(".pct");
      if (pct) pct.textContent = `${Math.round(((data.current ?? 0) / data.total) * 100)} %`;
    }
    const message = box.querySelector(".message");
    if (message) message.textContent = data.message ?? "";
  }
}

function onEvent(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  lastEventId = message.lastEventId || lastEventId;
  if (message.type === "overflow") {
    refreshSoon(0);
    return;
  }
  if (event.kind === "progress") {
    moveProgress(event);
    return;
  }
  if (!concerns(event)) return;
  // Summaries (overview, workers) fold bursts of changes into one redraw every few seconds.
  refreshSoon(document.getElementById("jobs") || document.getElementById("job") ? 500 : 3000);
}

function startPolling(reason) {
  setStatus("polling", `${reason}: refreshing every ${POLL_MS / 1000} s instead`);
  if (pollTimer === null) pollTimer = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== null) clearInterval(pollTimer);
  pollTimer = null;
}

function streamUrl() {
  const region = document.querySelector("[data-stream]:not(body)");
  const own = region ? region.dataset.stream : body.dataset.stream;
  return own ? `${body.dataset.base}/${own}` : "";
}

function follow() {
  const url = streamUrl();
  if (url === sourceUrl) return;
  if (source) source.close();
  source = null;
  sourceUrl = url;
  if (!url) {
    stopPolling();
    setStatus("", "");
    return;
  }
  connect(url);
}

function connect(url) {
  const es = new EventSource(url);
  source = es;
  es.onopen = () => {
    stopPolling();
    setStatus("live", "Live");
  };
  es.onerror = () => {
    if (source !== es) return;
    startPolling("Live updates interrupted");
    if (es.readyState === EventSource.CLOSED) {
      // The stream was refused or ended: try it again later, from where this page stands.
      source = null;
      setTimeout(() => {
        if (sourceUrl === url && source === null) connect(lastEventId ? resume(url) : url);
      }, 10000);
    }
  };
  for (const kind of EVENT_KINDS) es.addEventListener(kind, onEvent);
}

function resume(url) {
  const next = new URL(url, location.href);
  next.searchParams.set("last_event_id", lastEventId);
  return next.pathname + next.search;
}

function confirmFirst(event) {
  const form = event.target;
  const submitter = event.submitter;
  const question = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
  if (question) {
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    let field = form.querySelector("input[name=confirm]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirm";
      form.append(field);
    }
    field.value = "yes";
  }
  if (form.method.toLowerCase() !== "post") {
    // Shareable URLs: leave the empty filters out of the query string.
    for (const field of form.elements) if (field.name && field.value === "") field.disabled = true;
    setTimeout(() => { for (const field of form.elements) field.disabled = false; }, 0);
    return;
  }
  if ("navigate" in form.dataset) return;
  // An action: post it and swap in the page the server sends back, without a reload.
  event.preventDefault();
  const data = new URLSearchParams(new FormData(form, submitter));
  fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
    .then(async (response) => {
      if (response.redirected && new URL(response.url).pathname !== location.pathname) {
        location.assign(response.url);
        return;
      }
      swap(await response.text(), true);
      document.getElementById("main")?.focus();
    })
    .catch(() => form.submit());
}

const THEMES = ["system", "light", "dark"];

function applyTheme(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme");
  if (button) {
    button.setAttribute("aria-label", `Colour theme: ${theme === "system" ? "follows the system" : theme}`);
    button.title = button.getAttribute("aria-label");
  }
}

function setupTheme() {
  let theme = localStorage.getItem("errands-theme") || "system";
  applyTheme(theme);
  document.getElementById("theme")?.addEventListener("click", () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    localStorage.setItem("errands-theme", theme);
    applyTheme(theme);
  });
}

function setupBulkPolling() {
  if (Number(body.dataset.poll) > 0) {
    const timer = setInterval(async () => {
      await refresh();
      const region = document.getElementById("bulk");
      if (region && region.dataset.done === "yes") clearInterval(timer);
    }, Number(body.dataset.poll));
  }
}

function setupKeys() {
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, select, textarea");
    if (event.key === "/" && !typing) {
      const search = document.getElementById("search");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });
}

setupTheme();
localTimes(document);
document.addEventListener("submit", confirmFirst);
setupKeys();
setupBulkPolling();
follow();
if (document.getElementById("overview") || document.getElementById("workers")) {
  setInterval(() => refreshSoon(0), 15000); // ages and heartbeats move on even when no job does
}
