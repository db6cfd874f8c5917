from __future__ import annotations

from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "governance.labeling"
    label = "labeling"
    verbose_name = "Labeling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.openlineage import register_dataset_resolver, register_hidden_columns_resolver
        from governance.labeling.selectors import openlineage_project_dataset, openlineage_project_hidden_columns

        # An export job's subject is its project; its input is the project's dataset version.
        register_dataset_resolver("labeling_project", openlineage_project_dataset)
        register_hidden_columns_resolver("labeling_project", openlineage_project_hidden_columns)
