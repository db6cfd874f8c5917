from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    label = "training"
    verbose_name = "Training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance.catalog import hooks

        # Lineage graphs link model-version nodes to their page.
        hooks.node_urls["model_version"] = lambda ident: f"/model-versions/{ident}/"
        # Labeling scores rows with registered versions (pre-labels, uncertainty, pseudo-labels) through its hook.
        from governance.labeling import hooks as labeling_hooks

        labeling_hooks.register_model_scorer(score_rows=_score_rows, describe=_describe)


_predictors: dict[int, Any] = {}


def _describe(pk: int) -> str | None:
    from training.models import ModelVersion

    version = ModelVersion.objects.select_related("model").filter(pk=pk).first()
    return version.label if version else None


def _score_rows(pk: int, table: Any) -> list[list[float]]:
    """[p(0), p(1)] per row from the version's click model; the last version used stays loaded in the process."""
    from training.ml import load_artifact
    from training.models import ModelVersion

    if pk not in _predictors:
        _predictors.clear()
        _predictors[pk] = load_artifact(ModelVersion.objects.get(pk=pk).artifact_path(), device="cpu")
    return [[1.0 - float(p), float(p)] for p in _predictors[pk].predict(table)]
