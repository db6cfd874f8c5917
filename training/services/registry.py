"""Writes of the model registry: register a trained model as a new version (with lineage), move aliases."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.dispatch import Signal

from core.audit import audit_log, user_or_none
from core.errors import ServiceError
from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.catalog.services import lineage_edge_create
from training.models import ALIAS_RULE, ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel, is_alias_name


def model_version_create(
    *,
    actor: Any,
    model_name: str,
    job: Job | None,
    artifact: str,
    result: Any,
    versions: dict[str, DatasetVersion],
    config: dict[str, Any],
    baseline: Any | None = None,
    recipe: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register a trained model as the next version of `model_name` (created on first use),
    with a lineage edge from every dataset version it learned from, in one transaction.

    `baseline` (a training.ml.baseline.BaselineResult or its dict) is the job's baseline on the
    same test rows; `recipe` says which training recipe ran and why."""
    spec = result.spec.to_dict()
    definition = {k: v for k, v in spec.items() if k not in ("vocabularies", "numeric_stats")}
    user = user_or_none(actor)
    base = baseline.to_dict() if hasattr(baseline, "to_dict") else dict(baseline or {})
    base_metrics = base.pop("metrics", None) or {}
    with transaction.atomic():
        model, created = RegisteredModel.objects.get_or_create(name=model_name, defaults={"created_by": user})
        # Lock the model row so two jobs finishing together get different numbers.
        model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        number = (model.versions.aggregate(m=Max("version"))["m"] or 0) + 1
        mv = ModelVersion.objects.create(
            model=model,
            version=number,
            artifact=artifact,
            metrics=_clean(result.metrics),
            valid_metrics=_clean(result.valid_metrics),
            segment_metrics=_clean(result.segment_auc or []),
            history=_clean(result.history),
            config=_clean(config),
            feature_spec=definition,
            baseline_metrics=_clean(base_metrics),
            baseline=_clean(base),
            recipe=_clean(recipe or {}),
            job=job,
            created_by=user,
        )
        mv.dataset_versions.set(list(dict.fromkeys(versions.values())))
        for role, version in versions.items():
            lineage_edge_create(
                actor=actor,
                source=version,
                target_type="model_version",
                target_id=mv.pk,
                operation="train",
                target_label=mv.label,
                params={"model": model.name, "version": number, "role": role},
            )
        if created:
            audit_log(actor=actor, action="model.create", obj=model, summary={"name": model.name})
        audit_log(
            actor=actor,
            action="model_version.create",
            obj=mv,
            summary={
                "model": model.name,
                "version": number,
                "job": job.pk if job else None,
                "dataset_versions": {r: v.pk for r, v in versions.items()},
                "auc": result.metrics.get("auc"),
                "baseline_auc": base_metrics.get("auc"),
                "recipe": (recipe or {}).get("name"),
            },
        )
    return mv


# Sent by model_alias_set before the move is written, when the alias will point somewhere new: kwargs `model`
# (RegisteredModel), `alias`, `version` (the target ModelVersion) and `first` (the alias did not exist). The
# training app knows no serving: serving listens, and for a first-set alias that it loads ahead (no old version
# could answer meanwhile) it has every serving process load and warm the version before the move is visible.
# A receiver may return a dict saying what it did (how many processes warmed the version, how long the move
# waited): model_alias_set hands it back on the alias it returns, as `warm` (None when no receiver did anything).
alias_will_move = Signal()

# Aliases that serve users: moving one to a version that does not beat its baseline needs `force`.
GUARDED_ALIASES = ("production",)


class BelowBaseline(ServiceError):
    """The target version does not beat its baseline; the caller may confirm with force."""


def model_alias_set(*, actor: Any, model: RegisteredModel, alias: str, version: int, force: bool = False) -> ModelAlias:
    """Point `alias` (production, staging, any name) at a version; the move is kept in history.

    The returned alias carries `warm`: what `alias_will_move`'s receivers reported before the move was written
    (serving's warm-up of a first-set alias, which this call waits for: see serving.warm), or None.

    `production` only moves to a version that beats its baseline (test AUC above the baseline's on
    the same rows), unless `force`: then the move is made and the audit entry says it was forced.
    A version without a baseline (registered before baselines existed) is not held back."""
    if not is_alias_name(alias):
        raise ServiceError(f"alias must be {ALIAS_RULE}", field="alias")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ServiceError("version must be a version number", field="version")
    target = model.versions.filter(version=version).first()
    if target is None:
        raise ServiceError(f"Model {model.name!r} has no version {version}.", field="version")
    lift = target.lift
    below = alias in GUARDED_ALIASES and lift is not None and lift <= 0
    if below and not force:
        raise BelowBaseline(
            f"{target.label} does not beat its baseline: test AUC {target.metrics.get('auc'):.4f} vs "
            f"{target.baseline_metrics.get('auc'):.4f} for the baseline (lift {lift:+.4f}). "
            f"Confirm with force to point {alias!r} at it anyway.",
            field="version",
            status_code=409,
            code="below_baseline",
        )
    current = ModelAlias.objects.filter(model=model, name=alias).values_list("version_id", flat=True).first()
    warm: dict[str, Any] | None = None
    if current != target.pk:
        told = alias_will_move.send(sender=ModelAlias, model=model, alias=alias, version=target, first=current is None)
        warm = next((said for _, said in told if isinstance(said, dict)), None)
    user = user_or_none(actor)
    for _ in range(2):  # a concurrent first creation of the same alias retries as an update
        try:
            with transaction.atomic():
                row = ModelAlias.objects.select_for_update().filter(model=model, name=alias).first()
                before = row.version if row else None
                if row is None:
                    row = ModelAlias.objects.create(model=model, name=alias, version=target, updated_by=user)
                elif row.version_id != target.pk:
                    row.version = target
                    row.updated_by = user
                    row.save(update_fields=["version", "updated_by", "updated_at"])
                if before is None or before.pk != target.pk:
                    ModelAliasEvent.objects.create(
                        model=model, alias=alias, from_version=before, to_version=target, actor=user
                    )
                    audit_log(
                        actor=actor,
                        action="model_alias.set",
                        obj=row,
                        summary={
                            "model": model.name,
                            "alias": alias,
                            "version": version,
                            "from": before.version if before else None,
                            "lift": lift,
                            **({"forced_below_baseline": True} if below else {}),
                        },
                    )
                row.warm = warm  # type: ignore[attr-defined]
                return row
        except IntegrityError:
            continue
    raise ServiceError("the alias was changed concurrently; try again", status_code=409, code="conflict")


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
