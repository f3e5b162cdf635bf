"""Django tasks for the backend tests; imported once Django is configured (the @task decorator
checks each task against the configured backend)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from errands.integrations.django.framework import TaskContext

if TYPE_CHECKING:  # type-checked against the backport, which ships its types (as errands' framework.py is)
    from django_tasks import task
else:
    try:
        from django.tasks import task
    except ImportError:
        from django_tasks import task


@task
def add(a: int, b: int) -> int:
    return a + b


@task(queue_name="reports", priority=7)
def shout(words: list[str]) -> str:
    return " ".join(words).upper()


@task
async def add_later(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
def which_attempt(context: TaskContext) -> dict[str, object]:
    return {"attempt": context.attempt, "id": context.task_result.id}


@task
def explode() -> None:
    raise KeyError("no such thing")
