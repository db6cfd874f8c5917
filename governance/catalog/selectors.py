"""Reads from the catalog."""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from django.db.models import Count, QuerySet

from core.errors import ServiceError
from core.storage import local_path
from governance.catalog import download, hooks, ingest
from governance.catalog.expressions import expression_columns
from governance.catalog.models import Dataset, DatasetVersion, LineageEdge

MAX_ROWS_PAGE = 1000
# What the profile of a column hidden from the reader still shows.
HIDDEN_COLUMN_PROFILE = ("name", "dtype", "null_count", "distinct_count")


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(version_count=Count("versions")).order_by("name")


def dataset_version_list(*, dataset: Dataset | None = None) -> QuerySet[DatasetVersion]:
    """Versions with their dataset and author; given a dataset, its versions newest first."""
    versions = DatasetVersion.objects.select_related("dataset", "created_by")
    return versions.filter(dataset=dataset).order_by("-number") if dataset is not None else versions


def version_hidden_columns(*, version: DatasetVersion, user: Any) -> set[str]:
    """The columns whose raw values `user` may not see in `version`: the one answer the rows API and the download
    both use (the apps above the catalog decide it through the hidden-columns hook)."""
    return hooks.columns_hidden_from(version, user)


def version_rows(*, version: DatasetVersion, offset: int, limit: int, user: Any) -> dict[str, Any]:
    """A page of rows; columns whose raw values the user may not see come back masked."""
    limit = max(0, min(limit, MAX_ROWS_PAGE))
    with local_path(version.parquet) as path:
        total, table = ingest.read_rows(path, max(0, offset), limit)
    hidden = version_hidden_columns(version=version, user=user)
    rows = table.to_pylist()
    for row in rows:
        for name, value in row.items():
            if name in hidden and value is not None:
                row[name] = hooks.MASKED
            elif hasattr(value, "isoformat"):
                row[name] = value.isoformat()
    return {"count": total, "results": rows, "masked_columns": sorted(hidden & set(table.column_names))}


def version_columns(*, version: DatasetVersion, user: Any, hidden: set[str] | None = None) -> list[dict[str, Any]]:
    """Schema and profile; a hidden column keeps only its name, type and counts (no top values, min, max, mean
    or lengths: each says something about its values). `hidden`: the columns hidden from `user`, when known."""
    if hidden is None:
        hidden = hooks.columns_hidden_from(version, user)
    out = []
    for col in version.columns:
        if col["name"] in hidden:
            col = {k: v for k, v in col.items() if k in HIDDEN_COLUMN_PROFILE} | {"masked": True}
        out.append(col)
    return out


def version_list_facts(*, versions: list[DatasetVersion], user: Any) -> dict[str, dict[int, Any]]:
    """What a list of versions shows besides their rows, read for all of them at once: the columns hidden from
    `user` and the parent versions, by version id."""
    parents: dict[int, list[int]] = {v.pk: [] for v in versions}
    for target, source in LineageEdge.objects.filter(
        target_type="dataset_version", target_id__in=list(parents)
    ).values_list("target_id", "source_id"):
        if source not in parents[target]:
            parents[target].append(source)
    return {"hidden": hooks.columns_hidden_from_many(versions, user), "parents": parents}


def _node(key_type: str, ident: int, label: str) -> dict[str, Any]:
    return {"key": f"{key_type}:{ident}", "type": key_type, "id": ident, "label": label}


def _edge_params(edge: LineageEdge, user: Any, hidden: dict[int, set[str]]) -> dict[str, Any]:
    """The edge's params as `user` may read them: an expression over a column hidden from them (its literals may
    be that column's values) is withheld."""
    params = edge.params
    if user is None or not isinstance(params, dict) or not isinstance(params.get("expression"), str):
        return params
    if edge.source_id not in hidden:
        hidden[edge.source_id] = hooks.columns_hidden_from(edge.source, user)
    named = sorted(expression_columns(params["expression"]) & hidden[edge.source_id])
    if not named:
        return params
    return params | {"expression": f"(withheld: it names {', '.join(named)}, hidden from your role)"}


def lineage_graph(*, version: DatasetVersion, max_nodes: int = 500, user: Any = None) -> dict[str, Any]:
    """The connected component around `version`: follow edges both ways through dataset and model versions.

    Given `user`, expressions over columns hidden from them are withheld from the edges' params."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[int, LineageEdge] = {}
    queue: deque[tuple[str, int]] = deque([("dataset_version", version.pk)])
    seen: set[tuple[str, int]] = set()
    while queue and len(seen) < max_nodes:
        node_type, ident = queue.popleft()
        if (node_type, ident) in seen:
            continue
        seen.add((node_type, ident))
        if node_type == "dataset_version":
            related = LineageEdge.objects.filter(source_id=ident) | LineageEdge.objects.filter(
                target_type="dataset_version", target_id=ident
            )
        else:
            related = LineageEdge.objects.filter(target_type=node_type, target_id=ident)
        for edge in related.select_related("source__dataset"):
            edges[edge.pk] = edge
            queue.append(("dataset_version", edge.source_id))
            queue.append((edge.target_type, edge.target_id))
    dataset_ids = [i for t, i in seen if t == "dataset_version"]
    for dv in DatasetVersion.objects.filter(pk__in=dataset_ids).select_related("dataset"):
        nodes[f"dataset_version:{dv.pk}"] = _node("dataset_version", dv.pk, str(dv)) | {
            "dataset": dv.dataset_id,
            "operation": dv.operation,
            "rows": dv.row_count,
            "pii_status": dv.pii_status,
        }
    for edge in edges.values():
        key = f"{edge.target_type}:{edge.target_id}"
        if key not in nodes:
            nodes[key] = _node(edge.target_type, edge.target_id, edge.target_label or key)
    hidden: dict[int, set[str]] = {}
    return {
        "nodes": sorted(nodes.values(), key=lambda n: (n["type"] != "dataset_version", n["id"])),
        "edges": [
            {
                "source": f"dataset_version:{e.source_id}",
                "target": f"{e.target_type}:{e.target_id}",
                "operation": e.operation,
                "params": _edge_params(e, user, hidden),
                "created_at": e.created_at.isoformat(),
            }
            for e in sorted(edges.values(), key=lambda e: e.pk)
        ],
    }


def version_download(*, version: DatasetVersion, user: Any, fmt: str) -> dict[str, Any]:
    """The version's rows as a streamed file in `fmt`; the columns hidden from `user` come from the selector the rows
    API asks (`version_hidden_columns`), so a download never shows more than the rows API."""
    if fmt not in download.FORMATS:
        raise ServiceError(
            f"Unknown download format {fmt!r}: use one of {', '.join(download.FORMATS)}.", field="format"
        )
    content_type, extension = download.FORMATS[fmt]
    names = {col["name"] for col in version.columns}
    hidden = version_hidden_columns(version=version, user=user)
    return {
        "content_type": content_type,
        "filename": f"{re.sub(r'[^A-Za-z0-9._-]+', '_', version.dataset.name)}-v{version.number}.{extension}",
        "masked_columns": sorted(hidden & names),
        "chunks": download.stream_rows(version.parquet, fmt, hidden),
    }


def openlineage_dataset(version_id: Any) -> tuple[str, list[tuple[str, str]]] | None:
    """How OpenLineage events name a version (`<dataset>:<number>`) and its schema (column names and types only)."""
    version = DatasetVersion.objects.select_related("dataset").filter(pk=version_id).first()
    if version is None:
        return None
    fields = [(str(c.get("name")), str(c.get("dtype", ""))) for c in version.columns or [] if c.get("name")]
    return f"{version.dataset.name}:{version.number}", fields


def openlineage_hidden_columns(version_id: Any) -> set[str] | None:
    """The columns of a version whose raw values a reader without pii.manage may not see (the hidden-columns hooks
    for an anonymous reader): an OpenLineage receiver withholds parameters that quote them."""
    version = DatasetVersion.objects.filter(pk=version_id).first()
    return None if version is None else hooks.columns_hidden_from(version, None)
