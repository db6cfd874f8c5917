"""Reads of the model registry."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from core.errors import NotFound
from core.models import Job
from training.models import ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel


def model_list() -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.annotate(version_count=Count("versions")).prefetch_related(
        Prefetch("aliases", queryset=ModelAlias.objects.select_related("version"))
    )


def model_get(name: str) -> RegisteredModel:
    model = RegisteredModel.objects.filter(name=name).first()
    if model is None:
        raise NotFound(f"No model named {name!r}.")
    return model


def version_list(model: RegisteredModel) -> QuerySet[ModelVersion]:
    return (
        model.versions.select_related("model", "created_by", "job")
        .prefetch_related("aliases", "dataset_versions__dataset")
        .order_by("-version")
    )


def version_get(model: RegisteredModel, number: int) -> ModelVersion:
    mv = version_list(model).filter(version=number).first()
    if mv is None:
        raise NotFound(f"Model {model.name!r} has no version {number}.", field="version")
    return mv


def alias_history(model: RegisteredModel) -> QuerySet[ModelAliasEvent]:
    return model.alias_events.select_related("from_version", "to_version", "actor")


def training_jobs(*, model_name: str | None = None, limit: int = 50) -> QuerySet[Job]:
    jobs = Job.objects.filter(kind="training").select_related("actor")
    if model_name:
        jobs = jobs.filter(params__model_name=model_name)
    return jobs.order_by("-created_at", "-id")[:limit]


def aliases_of(mv: ModelVersion) -> list[str]:
    return sorted(a.name for a in mv.aliases.all())


def metric_table(versions: list[ModelVersion], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of (metric, values per version, index of the best) for side-by-side comparison."""
    lower_is_better = {"logloss"}
    rows = []
    for name in names:
        values = [(mv.metrics or {}).get(name) for mv in versions]
        known = [(v, i) for i, v in enumerate(values) if isinstance(v, (int, float))]
        best = None
        if len(known) > 1:
            pick = min if name in lower_is_better else max
            best = pick(known)[1]
        rows.append({"metric": name, "values": values, "best": best})
    return rows
