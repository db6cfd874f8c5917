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
        # Labeling scores rows with registered versions (pre-labels, uncertainty, pseudo-labels) through its hook.
        from governance.labeling import hooks as labeling_hooks
        from training.label_scoring import describe_version, score_rows

        labeling_hooks.register_model_scorer(score_rows=score_rows, describe=describe_version)
        # OpenLineage: a training job's output is a model version.
        from core.openlineage import register_dataset_resolver
        from training.selectors import openlineage_model_dataset

        register_dataset_resolver("model_version", openlineage_model_dataset)
