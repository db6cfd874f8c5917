"""Batch scoring: a dataset version scored by a model version becomes a new dataset version."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.utils import timezone

from core.errors import NotFound, ServiceError
from core.jobs import Reporter, job_output, job_output_get, job_start
from core.models import Job
from core.parquet import parquet_for_batches
from core.roles import has_capability
from core.storage import local_path, scratch_dir
from governance.catalog.models import DatasetVersion
from serving.encoding import value_key

BATCH_ROWS = 20_000


def batch_score_start(
    *,
    actor: Any,
    model_name: str,
    alias: str | None,
    version: int | None,
    dataset_version_id: int,
    column: str = "score",
) -> Job:
    """Check the request and queue the job; the model version is pinned now, so moving an alias
    while the job waits does not change which version scores."""
    from serving.registry import resolve_alias, resolve_version

    ref = (
        resolve_version(model_name, version)
        if version is not None
        else resolve_alias(model_name, alias or "production")
    )
    dataset_version = DatasetVersion.objects.select_related("dataset").filter(pk=dataset_version_id).first()
    if dataset_version is None or not has_capability(actor, "catalog.read"):
        raise NotFound(f"Dataset version {dataset_version_id} does not exist.", field="dataset_version")
    column = (column or "score").strip()
    if not column:
        raise ServiceError("column must not be empty.", field="column")
    if column in dataset_version.column_names:
        raise ServiceError(
            f"Dataset version {dataset_version.pk} already has a column '{column}'; choose another name with `column`.",
            field="column",
        )
    item_column = ref.extra.get("item_column")
    if item_column and item_column not in dataset_version.column_names:
        raise ServiceError(
            f"Dataset version {dataset_version.pk} has no column '{item_column}', the model's item column.",
            field="dataset_version",
        )
    return job_start(
        kind="batch_score",
        task="serving.batch_score",
        actor=actor,
        subject_type="dataset_version",
        subject_id=dataset_version.pk,
        message=f"score with {ref.model} v{ref.version} queued",
        params={
            "dataset_version": dataset_version.pk,
            "model": ref.model,
            "model_version": ref.version,
            "model_version_id": ref.pk,
            "column": column,
        },
    )


def batch_score_run(*, job: Job, reporter: Reporter) -> dict[str, Any]:
    from governance.catalog.services import dataset_version_derive
    from serving.loader import load_version
    from serving.registry import resolve_version

    params = job.params
    done = job_output_get(job, "batch_score")
    if done is not None:  # registered by an attempt whose worker died before it could finish the job
        return done
    source = DatasetVersion.objects.filter(pk=params["dataset_version"]).first()
    if source is None:
        raise ServiceError(f"Dataset version {params['dataset_version']} no longer exists.")
    ref = resolve_version(params["model"], params["model_version"])
    reporter.progress(0.02, f"loading {ref.model} v{ref.version}")
    scorer = load_version(ref).scorer
    column = params["column"]
    out_path = scratch_dir() / f"scored-{uuid.uuid4().hex}.parquet"
    try:
        with local_path(source.parquet) as path:
            parquet = parquet_for_batches(path)
            total = max(parquet.metadata.num_rows, 1)
            done = 0
            writer: pq.ParquetWriter | None = None
            try:
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                    reporter.check_cancelled()
                    table = pa.Table.from_batches([batch])
                    scores = score_table(scorer, table)
                    table = table.append_column(column, pa.array(scores, pa.float64()))
                    if writer is None:
                        writer = pq.ParquetWriter(out_path, table.schema, compression="zstd")
                    writer.write_table(table)
                    done += table.num_rows
                    reporter.progress(0.05 + 0.9 * done / total, f"scored {done:,} of {total:,} rows")
                if writer is None:  # no rows: still a version, with the column
                    empty = parquet.schema_arrow.empty_table().append_column(column, pa.array([], pa.float64()))
                    pq.write_table(empty, out_path)
            finally:
                if writer is not None:
                    writer.close()

        def register() -> dict[str, Any]:
            version = dataset_version_derive(
                actor=job.actor,
                parents=[source],
                parquet_path=out_path,
                operation="score",
                params={"model": ref.model, "model_version": ref.version, "model_version_id": ref.pk, "column": column},
            )
            return {"dataset_version": version.pk, "model_version": {"model": ref.model, "version": ref.version}}

        return job_output(job, "batch_score", register)
    finally:
        out_path.unlink(missing_ok=True)


def score_table(scorer: Any, table: pa.Table) -> np.ndarray:
    """Scores for rows holding their own features; item features they lack come from the item table."""
    predictor = scorer.predictor
    item_col = scorer.item_column
    missing = [c for c in sorted(scorer.item_level - {item_col}) if c not in table.column_names]
    if missing and predictor.items is not None:
        positions = pa.array(
            [scorer.item_index.get(value_key(v) or "") for v in table.column(item_col).to_pylist()], pa.int64()
        )
        for name in missing:
            table = table.append_column(name, predictor.items.column(name).take(positions))
    features = [c for c in scorer.spec.feature_columns if c in table.column_names]
    return predictor.predict(table.select(features))


# ---------------------------------------------------------------------------------------------
# Retention: the prediction log and the per-minute counters are pruned (serving.prune_retention, Celery beat)
# ---------------------------------------------------------------------------------------------

PRUNE_BATCH = 5_000


def _delete_in_batches(queryset: Any) -> int:
    """Short transactions of PRUNE_BATCH rows each: the scoring path keeps inserting meanwhile."""
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def serving_retention_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Deletes prediction-log rows older than STEWARD_PREDICTION_LOG_RETENTION_DAYS and traffic counters older than
    STEWARD_SERVING_STATS_RETENTION_DAYS (0 keeps them forever). Returns how many rows of each went."""
    from django.conf import settings

    from serving.models import PredictionLog, ServingStat

    now = now or timezone.now()
    out = {"prediction_log": 0, "serving_stats": 0}
    if settings.STEWARD_PREDICTION_LOG_RETENTION_DAYS:
        cutoff = now - timedelta(days=settings.STEWARD_PREDICTION_LOG_RETENTION_DAYS)
        out["prediction_log"] = _delete_in_batches(PredictionLog.objects.filter(created_at__lt=cutoff))
    if settings.STEWARD_SERVING_STATS_RETENTION_DAYS:
        cutoff = now - timedelta(days=settings.STEWARD_SERVING_STATS_RETENTION_DAYS)
        out["serving_stats"] = _delete_in_batches(ServingStat.objects.filter(minute__lt=cutoff))
    return out
