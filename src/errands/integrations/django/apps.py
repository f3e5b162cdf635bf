"""The Django app config for "errands.integrations.django": it gives the app the label `errands`
and checks settings.ERRANDS when Django starts."""

from __future__ import annotations

from django.apps import AppConfig

from .conf import errands_settings


class ErrandsConfig(AppConfig):
    name = "errands.integrations.django"
    label = "errands"
    verbose_name = "errands"

    def ready(self) -> None:
        errands_settings()  # a typo in settings.ERRANDS fails at startup, not at the first job
