"""Settings of the example project. The errands parts: "errands.integrations.django" in
INSTALLED_APPS, ERRANDS (the store and the project's errands app) and TASKS (Django's Tasks
framework sends its tasks to errands)."""

import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev only: set DJANGO_SECRET_KEY")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    *(["django_tasks"] if django.VERSION < (6,) else []),  # Django 6 ships django.tasks itself
    "errands.integrations.django",
    "exports",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "mysite.urls"
DATABASES: dict[str, dict[str, str]] = {}  # the example keeps no models; errands has its own store
USE_TZ = True

ERRANDS = {
    "URL": os.environ.get("ERRANDS_URL", f"sqlite:///{BASE_DIR / 'errands.db'}"),
    "APP": "exports.jobs:jobs",
}
TASKS = {
    "default": {"BACKEND": "errands.integrations.django.backend.ErrandsBackend"},
}
