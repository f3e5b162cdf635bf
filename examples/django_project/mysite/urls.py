"""The example's pages; the errands API is not here but in asgi.py, under /errands."""

from django.urls import include, path

urlpatterns = [path("", include("exports.urls"))]
