"""Writes to the catalog. Every service is keyword-only, atomic, and writes audit and lineage rows with its change."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.html import strip_tags

from core.audit import audit_log, user_or_none
from core.errors import ServiceError
from core.jobs import job_start
from core.models import Job
from core.storage import delete_file, scratch_dir, store_file
from governance.catalog import hooks, ingest
from governance.catalog.models import Dataset, DatasetVersion, LineageEdge

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


def dataset_create(
    *, actor: Any, name: str, description: str = "", kind: str = Dataset.Kind.OTHER, tags: list[str] | None = None
) -> Dataset:
    name = (name or "").strip()
    if not name:
        raise ServiceError("Dataset name must not be empty.", field="name")
    if kind not in Dataset.Kind.values:
        raise ServiceError(f"Unknown dataset kind {kind!r}: use one of {', '.join(Dataset.Kind.values)}.", field="kind")
    with transaction.atomic():
        if Dataset.objects.filter(name=name).exists():
            raise ServiceError(
                f"A dataset named {name!r} already exists.", field="name", status_code=409, code="exists"
            )
        dataset = Dataset.objects.create(
            name=name, description=description, kind=kind, tags=tags or [], owner=user_or_none(actor)
        )
        # The name may hold markup (templates escape it); the audit summary keeps a plain-text copy.
        audit_log(actor=actor, action="dataset.create", obj=dataset, summary={"name": strip_tags(name), "kind": kind})
    return dataset


def dataset_get_or_create(
    *, actor: Any, name: str, description: str = "", kind: str = Dataset.Kind.OTHER, tags: list[str] | None = None
) -> Dataset:
    """The dataset named `name`, created (and audited) when there is none yet."""
    existing = Dataset.objects.filter(name=(name or "").strip()).first()
    return existing or dataset_create(actor=actor, name=name, description=description, kind=kind, tags=tags)


def _check_filename(filename: str) -> str:
    if not filename:
        raise ServiceError("The upload has no file name.", field="file")
    if "/" in filename or "\\" in filename or filename in {".", ".."} or "\x00" in filename:
        raise ServiceError("The file name must not contain path parts (/, \\ or ..).", field="file")
    return filename


@dataclass
class _Spooled:
    path: Path
    sha256: str
    size: int


def _spool(source: IO[bytes] | Iterable[bytes], *, max_bytes: int) -> _Spooled:
    """Copy the upload to a scratch file, hashing as it goes, and stop as soon as it is over the limit."""
    digest = hashlib.sha256()
    size = 0
    path = scratch_dir() / f"upload-{uuid.uuid4().hex}"
    chunks = source.chunks(CHUNK) if hasattr(source, "chunks") else iter(lambda: source.read(CHUNK), b"")  # type: ignore[union-attr]
    # hashlib releases the GIL on large buffers: each chunk is hashed in a helper thread while it is written and
    # the next one read (chunks are hashed in order: one at a time).
    hasher = ThreadPoolExecutor(max_workers=1)
    hashing: Future[None] | None = None
    try:
        with path.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ServiceError(
                        f"The file is larger than the limit of {settings.STEWARD_MAX_UPLOAD_MB} MB "
                        "(STEWARD_MAX_UPLOAD_MB).",
                        field="file",
                        status_code=400,
                        code="too_large",
                    )
                if hashing is not None:
                    hashing.result()
                hashing = hasher.submit(digest.update, bytes(chunk))
                out.write(chunk)
        if hashing is not None:
            hashing.result()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        hasher.shutdown(wait=True)
    return _Spooled(path=path, sha256=digest.hexdigest(), size=size)


def _next_number(dataset: Dataset) -> int:
    return (dataset.versions.aggregate(m=Max("number"))["m"] or 0) + 1


def _announce(version: DatasetVersion, actor: Any) -> None:
    actor_id = user.pk if (user := user_or_none(actor)) else None
    hooks.version_created_on_commit(version_id=version.pk, actor_id=actor_id)
    if version.profile_status == DatasetVersion.ProfileStatus.DONE:
        hooks.version_profiled_on_commit(version_id=version.pk, actor_id=actor_id)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dataset_version_upload(
    *,
    actor: Any,
    dataset: Dataset,
    source: IO[bytes] | Iterable[bytes],
    filename: str,
    fmt: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> tuple[DatasetVersion, bool]:
    """Register uploaded bytes as a new version; the same bytes again return the existing version (created=False)."""
    _check_filename(filename)
    fmt = _ingest_call(ingest.detect_format, filename, fmt)
    spooled = _spool(source, max_bytes=settings.STEWARD_MAX_UPLOAD_MB * 1024 * 1024)
    parquet_tmp = spooled.path.with_suffix(".parquet")
    stored: list[str] = []
    try:
        existing = DatasetVersion.objects.filter(dataset=dataset, sha256=spooled.sha256).first()
        if existing is not None:
            return existing, False
        limits = ingest.Limits(
            max_rows=settings.STEWARD_MAX_INGEST_ROWS, max_bytes=settings.STEWARD_MAX_DECODED_MB * 1024 * 1024
        )
        # The profile is computed from the row groups as they are written (not by reading the copy back).
        result = _ingest_call(
            ingest.ingest,
            spooled.path,
            fmt,
            parquet_tmp,
            sep=sep,
            encoding=encoding,
            limits=limits,
            profile_max_rows=settings.STEWARD_PROFILE_INLINE_MAX_ROWS,
            whole_file_max_bytes=settings.STEWARD_INGEST_WHOLE_FILE_MB * 1024 * 1024,
        )
        profile_inline = result.profile is not None
        columns = result.profile if result.profile is not None else result.columns
        prefix = f"datasets/{dataset.pk}/{spooled.sha256[:16]}-{uuid.uuid4().hex[:8]}"
        stored.append(store_file(f"{prefix}/original{Path(filename).suffix.lower() or '.' + fmt}", spooled.path))
        stored.append(store_file(f"{prefix}/data.parquet", parquet_tmp))
        with transaction.atomic():
            Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
            existing = DatasetVersion.objects.filter(dataset=dataset, sha256=spooled.sha256).first()
            if existing is not None:  # a concurrent upload of the same bytes won
                transaction.on_commit(lambda: [delete_file(n) for n in stored])
                return existing, False
            version = DatasetVersion.objects.create(
                dataset=dataset,
                number=_next_number(dataset),
                sha256=spooled.sha256,
                format=fmt,
                original_name=filename,
                file=stored[0],
                parquet=stored[1],
                size_bytes=spooled.size,
                row_count=result.row_count,
                columns=columns,
                profile_status=DatasetVersion.ProfileStatus.DONE
                if profile_inline
                else DatasetVersion.ProfileStatus.PENDING,
                created_by=user_or_none(actor),
            )
            audit_log(
                actor=actor,
                action="dataset_version.create",
                obj=version,
                summary={
                    "dataset": dataset.pk,
                    "number": version.number,
                    "sha256": spooled.sha256,
                    "format": fmt,
                    "rows": result.row_count,
                    "columns": [c["name"] for c in result.columns],
                },
            )
            if not profile_inline:
                profile_job_start(version=version, actor=actor)
            _announce(version, actor)
        return version, True
    except BaseException:
        for name in stored:
            delete_file(name)
        raise
    finally:
        spooled.path.unlink(missing_ok=True)
        parquet_tmp.unlink(missing_ok=True)


def _ingest_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ingest.IngestError as exc:
        raise ServiceError(str(exc), field="file") from None


def dataset_version_derive(
    *,
    actor: Any,
    parents: list[DatasetVersion],
    table: pa.Table | None = None,
    parquet_path: Path | None = None,
    operation: str,
    params: dict[str, Any],
    dataset: Dataset | None = None,
    known_profiles: dict[str, dict[str, Any]] | None = None,
) -> DatasetVersion:
    """Register a table computed from `parents` as a new version (of `dataset`, default the first parent's),
    with a lineage edge from every parent. Content identical to an existing version returns that version.

    `known_profiles` are column profiles the caller knows already (a column a transform left as it was keeps its
    parent's profile); the other columns are profiled from the file in batches."""
    if not parents:
        raise ServiceError("A derived version needs at least one parent.")
    dataset = dataset or parents[0].dataset
    tmp = scratch_dir() / f"derived-{uuid.uuid4().hex}.parquet"
    stored: list[str] = []
    try:
        if table is not None:
            pq.write_table(table, tmp, row_group_size=ingest.ROW_GROUP_ROWS, **ingest.parquet_options(table.schema))
        elif parquet_path is not None:
            os.replace(parquet_path, tmp)
        else:
            raise ServiceError("Nothing to register: give a table or a Parquet file.")
        sha = _file_sha256(tmp)
        row_count = pq.ParquetFile(tmp).metadata.num_rows
        columns = _profile(tmp, known_profiles or {})
        size = tmp.stat().st_size
        with transaction.atomic():
            Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
            version = DatasetVersion.objects.filter(dataset=dataset, sha256=sha).first()
            created = version is None
            if created:
                stored.append(store_file(f"datasets/{dataset.pk}/{sha[:16]}-{uuid.uuid4().hex[:8]}/data.parquet", tmp))
                version = DatasetVersion.objects.create(
                    dataset=dataset,
                    number=_next_number(dataset),
                    sha256=sha,
                    format="parquet",
                    original_name=f"{operation}.parquet",
                    file="",
                    parquet=stored[0],
                    size_bytes=size,
                    row_count=row_count,
                    columns=columns,
                    profile_status=DatasetVersion.ProfileStatus.DONE,
                    operation=operation,
                    created_by=user_or_none(actor),
                )
            for parent in parents:
                lineage_edge_create(
                    actor=actor,
                    source=parent,
                    target_type="dataset_version",
                    target_id=version.pk,
                    target_label=str(version),
                    operation=operation,
                    params=params,
                )
            audit_log(
                actor=actor,
                action="dataset_version.derive",
                obj=version,
                summary={"operation": operation, "parents": [p.pk for p in parents], "rows": row_count, "new": created},
            )
            if created:
                _announce(version, actor)
        return version
    except BaseException:
        for name in stored:
            delete_file(name)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _profile(path: Path, known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    names = pq.read_schema(path).names
    rest = [n for n in names if n not in known]
    computed = {c["name"]: c for c in ingest.profile_parquet_sql(path, rest, _profile_limits())} if rest else {}
    return [known[n] if n in known else computed[n] for n in names]


def _profile_limits() -> ingest.SqlLimits:
    """Profiles of big versions run under the transforms' DuckDB limits (memory, threads), spilling to scratch."""
    return ingest.SqlLimits(
        memory_limit=settings.STEWARD_TRANSFORM_MEMORY_LIMIT or None,
        threads=settings.STEWARD_TRANSFORM_THREADS,
        temp_dir=scratch_dir(),
    )


def lineage_edge_create(
    *,
    actor: Any,
    source: DatasetVersion,
    target_type: str,
    target_id: int,
    operation: str,
    params: dict[str, Any] | None = None,
    target_label: str = "",
) -> LineageEdge:
    edge, _ = LineageEdge.objects.get_or_create(
        source=source,
        target_type=target_type,
        target_id=target_id,
        operation=operation,
        defaults={"params": params or {}, "target_label": target_label, "actor": user_or_none(actor)},
    )
    return edge


def profile_job_start(*, version: DatasetVersion, actor: Any) -> Job:
    return job_start(
        kind="profile",
        task="catalog.profile_version",
        actor=actor,
        subject_type="dataset_version",
        subject_id=version.pk,
        params={"dataset_version": version.pk},
    )


def dataset_version_profile(*, version: DatasetVersion) -> DatasetVersion:
    from core.storage import local_path

    with local_path(version.parquet) as path:
        columns = ingest.profile_parquet_sql(path, limits=_profile_limits())
    DatasetVersion.objects.filter(pk=version.pk).update(
        columns=columns, profile_status=DatasetVersion.ProfileStatus.DONE
    )
    version.refresh_from_db()
    hooks.version_profiled_on_commit(version_id=version.pk, actor_id=version.created_by_id)
    return version


__all__ = [
    "dataset_create",
    "dataset_get_or_create",
    "dataset_version_derive",
    "dataset_version_profile",
    "dataset_version_upload",
    "lineage_edge_create",
    "profile_job_start",
]


def dataset_version_download_record(
    *, actor: Any, version: DatasetVersion, fmt: str, masked_columns: list[str]
) -> None:
    """Audit a download: who took which version, in which format, and which columns they got masked."""
    with transaction.atomic():
        audit_log(
            actor=actor,
            action="dataset_version.download",
            obj=version,
            summary={"format": fmt, "masked_columns": masked_columns, "rows": version.row_count},
        )
