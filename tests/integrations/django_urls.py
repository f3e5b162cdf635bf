"""A URLconf for the in-process Django tests: one view that enqueues a Django task."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from errands.integrations.django import get_app
from tests.integrations.django_tasks_defs import add


def start_add(request: HttpRequest) -> JsonResponse:
    result = add.enqueue(int(request.POST["a"]), int(request.POST["b"]))
    return JsonResponse({"id": result.id, "follow": get_app().follow_url(int(result.id))})


urlpatterns = [path("add/", start_add)]
