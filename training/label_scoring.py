"""What the labeling app's model-scorer hook calls: describe a registered version and score table rows with it
(pre-labels, uncertainty sampling, pseudo-labels). Registered in TrainingConfig.ready()."""

from __future__ import annotations

from typing import Any

from training.models import ModelVersion

_predictors: dict[int, Any] = {}


def describe_version(pk: int) -> str | None:
    version = ModelVersion.objects.select_related("model").filter(pk=pk).first()
    return version.label if version else None


def score_rows(pk: int, table: Any) -> list[list[float]]:
    """[p(0), p(1)] per row from the version's click model; the last version used stays loaded in the process."""
    from training.ml import load_artifact

    if pk not in _predictors:
        _predictors.clear()
        _predictors[pk] = load_artifact(ModelVersion.objects.get(pk=pk).artifact_path(), device="cpu")
    return [[1.0 - float(p), float(p)] for p in _predictors[pk].predict(table)]
