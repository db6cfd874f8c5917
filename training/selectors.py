"""Reads of the training app: the model registry, training jobs, and whether a dataset version may
be trained on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from core.errors import NotFound
from core.models import Job
from governance.catalog.models import DatasetVersion
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


def version_by_id(pk: int) -> ModelVersion:
    mv = ModelVersion.objects.select_related("model").filter(pk=pk).first()
    if mv is None:
        raise NotFound(f"Model version {pk} does not exist.")
    return mv


def versions_numbered(model: RegisteredModel, numbers: Iterable[int]) -> list[ModelVersion]:
    """The versions of `model` with these numbers, oldest first (numbers it lacks are skipped)."""
    return list(version_list(model).filter(version__in=list(numbers)).order_by("version"))


def alias_list(model: RegisteredModel) -> QuerySet[ModelAlias]:
    return model.aliases.select_related("version", "updated_by")


def alias_get(model: RegisteredModel, name: str) -> ModelAlias:
    row = alias_list(model).filter(name=name).first()
    if row is None:
        raise NotFound(f"Model {model.name!r} has no alias {name!r}.", field="alias")
    return row


def alias_history(model: RegisteredModel) -> QuerySet[ModelAliasEvent]:
    return model.alias_events.select_related("from_version", "to_version", "actor")


def training_jobs(*, model_name: str | None = None, limit: int = 50) -> QuerySet[Job]:
    jobs = Job.objects.filter(kind="training").select_related("actor")
    if model_name:
        jobs = jobs.filter(params__model_name=model_name)
    return jobs.order_by("-created_at", "-id")[:limit]


def training_job_get(pk: int) -> Job:
    job = Job.objects.select_related("actor").filter(pk=pk, kind="training").first()
    if job is None:
        raise NotFound(f"Training job {pk} does not exist.")
    return job


def version_of_job(job: Job) -> ModelVersion | None:
    """The model version a training job registered, if it got that far."""
    return ModelVersion.objects.filter(job=job).select_related("model").first()


def dataset_version_get(pk: int) -> DatasetVersion:
    version = DatasetVersion.objects.select_related("dataset").filter(pk=pk).first()
    if version is None:
        raise NotFound(f"Dataset version {pk} does not exist.")
    return version


def training_gate_reasons(version: DatasetVersion) -> list[str]:
    """Why a version may not be trained on: unresolved PII (an unscanned version counts as
    unresolved) and a latest quality check that failed blocking rules (named in the reason)."""
    from governance.privacy.selectors import pii_gate_reasons
    from governance.quality.selectors import quality_gate_reasons

    return [*pii_gate_reasons(version), *quality_gate_reasons(version)]


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


def openlineage_model_dataset(ref: Any) -> tuple[str, list[tuple[str, str]]] | None:
    """A model version as an OpenLineage output: `models/<model>:<version>` (its inputs are the training data)."""
    if (
        not isinstance(ref, dict)
        or not ModelVersion.objects.filter(model__name=ref.get("model"), version=ref.get("version")).exists()
    ):
        return None
    return f"models/{ref['model']}:{ref['version']}", []


def baseline_table(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """Rows of the compare page's baseline block: each version's baseline AUC and lift."""
    aucs = [(mv.baseline_metrics or {}).get("auc") for mv in versions]
    return [
        {"metric": "baseline auc", "values": [f"{a:.4f}" if isinstance(a, int | float) else None for a in aucs]},
        {"metric": "lift (auc - baseline)", "values": [mv.lift_display or None for mv in versions]},
    ]
