"""Transforms as jobs: validated when asked for, run by a worker on the versions' Parquet copies with bounded memory
(transforms.run: DuckDB and pyarrow batches, spilling under the data dir), each output registered as a derived
version."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.conf import settings

from core.errors import ServiceError
from core.jobs import Reporter, job_output, job_output_get, job_start
from core.models import Job
from core.storage import local_path, open_stored, scratch_dir
from governance.catalog import hooks, transforms
from governance.catalog.expressions import expression_columns
from governance.catalog.models import DatasetVersion
from governance.catalog.services import dataset_get_or_create, dataset_version_derive


def _inputs(version: DatasetVersion, operation: str, params: dict[str, Any]) -> list[DatasetVersion]:
    if operation != "join":
        return [version]
    right = (
        DatasetVersion.objects.filter(pk=params.get("right")).first() if isinstance(params.get("right"), int) else None
    )
    if right is None:
        raise ServiceError("`right` must be the id of an existing dataset version.", field="params")
    return [version, right]


def transform_limits() -> transforms.Limits:
    """The engine's limits from settings: DuckDB's memory limit and threads; it spills under the data dir."""
    return transforms.Limits(
        memory_limit=settings.STEWARD_TRANSFORM_MEMORY_LIMIT or None,
        temp_dir=scratch_dir(),
        threads=settings.STEWARD_TRANSFORM_THREADS,
        batch_rows=settings.STEWARD_TRANSFORM_BATCH_ROWS,
    )


def _check_params(inputs: list[DatasetVersion], operation: str, params: dict[str, Any]) -> None:
    """Run the transform on empty tables with the inputs' schemas, so bad params are a 400 now, not a failed job."""
    empty = []
    for version in inputs:
        with open_stored(version.parquet) as fh:  # the footer only, not the whole file (S3: ranged GETs)
            empty.append(pq.read_schema(fh).empty_table())
    try:
        transforms.apply(operation, empty, params, transform_limits())
    except transforms.TransformError as exc:
        raise ServiceError(str(exc), field="params") from None


# Operations that only remove or rename columns: naming a hidden column there reveals nothing of its values,
# and the output keeps hiding a renamed column (lineage follows the rename).
_NAMING_REVEALS_NOTHING = ("drop", "rename")


def named_columns(operation: str, params: dict[str, Any]) -> set[str]:
    """The input columns a transform's params read: expressions, keys, join keys, selections, role columns."""
    if operation in _NAMING_REVEALS_NOTHING:
        return set()
    names: set[str] = set()
    for key, value in params.items():
        if key == "expression":
            names |= expression_columns(value)
        elif key in ("columns", "keys", "on") or key.endswith("_column"):
            listed = list(value) if isinstance(value, (list, dict)) else [value]
            names |= {c for c in listed if isinstance(c, str)}
    return names


def _check_hidden(actor: Any, inputs: list[DatasetVersion], operation: str, params: dict[str, Any]) -> None:
    """403 when the params name a column the actor may not see: a filter, a label or a join key over it would
    tell its values apart."""
    named = named_columns(operation, params)
    if not named:
        return
    for version in inputs:
        hidden = sorted(named & hooks.columns_hidden_from(version, actor))
        if hidden:
            raise ServiceError(
                f"`{operation}` names column(s) of {version} whose values your role may not see until their PII "
                f"review is done: {', '.join(hidden)}.",
                field="params",
                status_code=403,
                code="pii_hidden",
            )


def transform_start(*, actor: Any, version: DatasetVersion, operation: str, params: dict[str, Any]) -> Job:
    if operation not in transforms.OPERATIONS:
        raise ServiceError(
            f"Unknown operation {operation!r}: use one of {', '.join(transforms.OPERATIONS)}.", field="operation"
        )
    if not isinstance(params, dict):
        raise ServiceError("`params` must be an object.", field="params")
    inputs = _inputs(version, operation, params)
    names = set(version.column_names)
    for key in ("keys", "columns", "on"):
        value = params.get(key)
        listed = list(value) if isinstance(value, (list, dict)) else ([value] if isinstance(value, str) else [])
        missing = [c for c in listed if isinstance(c, str) and c not in names]
        if missing and key != "on":
            raise ServiceError(f"Unknown column(s) in `{key}`: {', '.join(missing)}.", field="params")
    output = params.get("output_dataset")
    if output is not None and (not isinstance(output, str) or not output.strip()):
        raise ServiceError("`output_dataset` must be a dataset name.", field="params")
    _check_hidden(actor, inputs, operation, params)
    _check_params(inputs, operation, params)
    return job_start(
        kind="transform",
        task="catalog.transform",
        actor=actor,
        subject_type="dataset_version",
        subject_id=version.pk,
        message=f"{operation} queued",
        params={"operation": operation, "params": params, "inputs": [v.pk for v in inputs]},
    )


def transform_run(*, job: Job, reporter: Reporter) -> dict[str, Any]:
    done = job_output_get(job, "transform")
    if done is not None:  # registered by an attempt whose worker died before it could finish the job
        return done
    inputs = list(DatasetVersion.objects.filter(pk__in=job.params["inputs"]).select_related("dataset"))
    inputs.sort(key=lambda v: job.params["inputs"].index(v.pk))
    if len(inputs) != len(job.params["inputs"]):
        raise ServiceError("An input version no longer exists.")
    operation, params = job.params["operation"], job.params["params"]
    reporter.progress(0.1, operation)
    work = scratch_dir() / f"transform-{job.pk}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        with contextlib.ExitStack() as stack:
            paths = [stack.enter_context(local_path(v.parquet)) for v in inputs]
            try:
                outputs = transforms.run(operation, paths, params, work, transform_limits())
            except transforms.TransformError as exc:
                raise ServiceError(str(exc)) from None
            schemas = [pq.read_schema(p) for p in paths]
        reporter.check_cancelled()
        known = [_kept_profiles(inputs[0], schemas, operation, params, path) for path in outputs]
        return _register(job=job, reporter=reporter, inputs=inputs, outputs=outputs, known=known)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kept_profiles(
    parent: DatasetVersion, schemas: list[Any], operation: str, params: dict[str, Any], output: Path
) -> dict[str, dict[str, Any]]:
    """The parent's profiles of the columns the transform left as they were (same rows, same values): profiling
    them again would read and hash millions of values to learn nothing new."""
    if parent.profile_status != DatasetVersion.ProfileStatus.DONE:
        return {}
    meta = pq.ParquetFile(output)
    if meta.metadata.num_rows != parent.row_count:
        return {}
    names = transforms.unchanged_columns(operation, params, schemas, meta.schema_arrow)
    return {c["name"]: c for c in parent.columns if c.get("name") in names and "null_count" in c}


def _register(
    *,
    job: Job,
    reporter: Reporter,
    inputs: list[DatasetVersion],
    outputs: list[Path],
    known: list[dict[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    operation, params = job.params["operation"], job.params["params"]
    reporter.progress(0.7, "registering")
    target = None
    if params.get("output_dataset"):
        target = dataset_get_or_create(
            actor=job.actor,
            name=params["output_dataset"],
            kind=inputs[0].dataset.kind,
            description=f"Derived by {operation} from {inputs[0]}",
        )

    def register() -> dict[str, Any]:
        # All outputs (a split's parts) and their lineage commit together with the job's record of them.
        created = []
        for i, path in enumerate(outputs):
            edge_params = dict(params) | ({"part": i} if len(outputs) > 1 else {})
            created.append(
                dataset_version_derive(
                    actor=job.actor,
                    parents=inputs,
                    parquet_path=path,
                    operation=operation,
                    params=edge_params,
                    dataset=target,
                    known_profiles=known[i] if known else None,
                )
            )
        if operation == "split":
            return {"dataset_versions": [v.pk for v in created]}
        return {"dataset_version": created[0].pk}

    result = job_output(job, "transform", register)
    reporter.progress(1.0, f"registered {len(outputs)} version(s)")
    return result
