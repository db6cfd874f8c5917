"""Serving's view of the model registry (the `training` app): names, versions, aliases, artifacts.

Everything serving reads from the registry goes through this module, so the request path's only
query is `resolve_alias` (called at most every STEWARD_SERVING_ALIAS_TTL_MS per alias and process).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import NotFound
from serving.cache import VersionRef


def _models():
    from training import models

    return models


def _ref(mv) -> VersionRef:
    spec = mv.feature_spec or {}
    return VersionRef(
        pk=mv.pk,
        model=mv.model.name,
        version=mv.version,
        artifact=mv.artifact,
        extra={"item_column": spec.get("item_column"), "user_column": spec.get("user_column")},
    )


def version_ref(mv) -> VersionRef:
    """A ModelVersion (with its model) as serving needs it."""
    return _ref(mv)


def artifact_dir(ref: VersionRef) -> Path:
    """A local directory with the version's artifact; with remote storage the first call downloads
    it, so it runs in the loader (a background thread during a swap), never on the request path."""
    from training.artifacts import artifact_local_path

    return artifact_local_path(ref.artifact)


def model_exists(name: str) -> bool:
    return _models().RegisteredModel.objects.filter(name=name).exists()


def resolve_version(name: str, number: int) -> VersionRef:
    mv = _models().ModelVersion.objects.select_related("model").filter(model__name=name, version=number).first()
    if mv is None:
        if not model_exists(name):
            raise NotFound(f"No model named {name!r}.")
        raise NotFound(f"Model {name!r} has no version {number}.", field="version")
    return _ref(mv)


def resolve_alias(name: str, alias: str) -> VersionRef:
    row = (
        _models()
        .ModelAlias.objects.select_related("version", "version__model")
        .filter(model__name=name, name=alias)
        .first()
    )
    if row is None:
        if not model_exists(name):
            raise NotFound(f"No model named {name!r}.")
        raise NotFound(f"Model {name!r} has no alias {alias!r}.", field="alias")
    return _ref(row.version)


def alias_versions(name: str) -> dict[str, int]:
    rows = _models().ModelAlias.objects.filter(model__name=name).values_list("name", "version__version")
    return dict(rows)


def training_data(ref: VersionRef) -> list[str]:
    """Storage names of the Parquet files of the dataset versions the version was trained on."""
    from governance.catalog.models import DatasetVersion

    return list(
        DatasetVersion.objects.filter(model_versions__pk=ref.pk)
        .exclude(parquet="")
        .order_by("pk")
        .values_list("parquet", flat=True)
    )


def alias_targets(aliases: tuple[str, ...]) -> list[tuple[str, str]]:
    """(model, alias) for every model that has one of these aliases."""
    rows = _models().ModelAlias.objects.filter(name__in=aliases).values_list("model__name", "name")
    return sorted(rows)


def alias_generation() -> int:
    """A number that grows on every alias move (the newest alias event's id; 0 before any): what
    each serving process's watcher compares to learn that an alias moved, in one indexed query."""
    from django.db.models import Max

    return _models().ModelAliasEvent.objects.aggregate(n=Max("pk"))["n"] or 0


def alias_refs() -> list[tuple[str, str, VersionRef]]:
    """(model, alias, the version it points to) for every alias of every model, in one query."""
    rows = _models().ModelAlias.objects.select_related("version", "version__model").order_by("model__name", "name")
    return [(row.version.model.name, row.name, _ref(row.version)) for row in rows]
