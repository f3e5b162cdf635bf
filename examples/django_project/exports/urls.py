"""Routes of the exports app."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.page),
    path("exports/", views.start_export),
    path("reports/", views.start_report),
    path("reports/<str:result_id>/", views.report),
]
