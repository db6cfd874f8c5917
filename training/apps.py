from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    label = "training"
    verbose_name = "Training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance.catalog import hooks

        # Lineage graphs link model-version nodes to their page.
        hooks.register_node_url("model_version", lambda ident: f"/model-versions/{ident}/")
