"""A task for Django's own Tasks framework; TASKS sends it to errands, whose worker runs it."""

from typing import Any

try:
    from django.tasks import TaskContext, task  # Django 6
except ImportError:
    from django_tasks import TaskContext, task  # the backport, for Django 5.2


@task(takes_context=True)
def build_report(context: TaskContext, title: str, rows: int) -> dict[str, Any]:
    if rows < 0:
        raise ValueError(f"a report needs zero or more rows, not {rows}")
    return {"title": title, "rows": rows, "total": sum(range(rows)), "attempt": context.attempt}
