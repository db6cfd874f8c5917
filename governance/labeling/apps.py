from __future__ import annotations

from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "governance.labeling"
    label = "labeling"
    verbose_name = "Labeling"
    default_auto_field = "django.db.models.BigAutoField"
