"""Views that start jobs and answer at once: an errands job followed live by the visitor's page
(errands.js), and a Django task whose result is read back through the Tasks API."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from .jobs import export_csv, jobs
from .tasks import build_report

try:
    from django.tasks import TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
except ImportError:
    from django_tasks import TaskResultStatus
    from django_tasks.exceptions import TaskResultDoesNotExist


@require_GET
@ensure_csrf_cookie  # the page's fetch() sends it back in X-CSRFToken
def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


@require_POST
async def start_export(request: HttpRequest) -> JsonResponse:
    job = await export_csv.enqueue_async(rows=int(request.POST.get("rows", 100)),
                                         pause=float(request.POST.get("pause", 0.05)))
    return JsonResponse({"id": job.id, "follow": jobs.follow_url(job.id)})


@require_POST
def start_report(request: HttpRequest) -> JsonResponse:
    result = build_report.enqueue(title=request.POST.get("title", "Report"), rows=int(request.POST.get("rows", 10)))
    return JsonResponse({"id": result.id, "status": result.status})


@require_GET
def report(request: HttpRequest, result_id: str) -> JsonResponse:
    try:
        result = build_report.get_result(result_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": f"no report {result_id}"}, status=404)
    body: dict[str, Any] = {"id": result.id, "status": result.status, "attempts": result.attempts,
                            "errors": [error.exception_class_path for error in result.errors]}
    if result.status == TaskResultStatus.SUCCESSFUL:
        body["return_value"] = result.return_value
    return JsonResponse(body)


PAGE = """<!doctype html>
<title>Export</title>
<button id="start">Export 100 rows</button>
<p id="status"></p>
<script src="/errands/errands.js"></script>
<script>
document.getElementById("start").onclick = async () => {
  const status = document.getElementById("status");
  const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
  const response = await fetch("/exports/", {
    method: "POST", headers: {"X-CSRFToken": csrf}, body: new URLSearchParams({rows: 100}),
  });
  const started = await response.json();
  errands.follow(started.follow, {
    onUpdate(job) { status.textContent = job.state + " " + (job.progress.message || ""); },
    onDone(job) {
      if (job.state !== "succeeded") return;
      const [path, query] = started.follow.split("?");
      status.innerHTML = `<a href="${path}/files/export.csv?${query}">Download the export</a>`;
    },
    onError(err) { status.textContent = "cannot follow the export: " + err.message; },
  });
};
</script>
"""
