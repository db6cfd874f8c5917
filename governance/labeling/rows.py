"""Reading the rows tasks point at, from the version's Parquet, masked for the reader at read time.

`next` reads one row: only the row group that holds it and only the display columns are decoded, and the last few
decoded row groups are kept per process (a version never changes, so they never go stale). Masking is decided per
call by the catalog's one rule, `columns_hidden_from(version, user)`, so nothing here decides who sees what.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.storage import local_path
from governance.catalog import hooks as catalog_hooks
from governance.catalog.models import DatasetVersion

_CACHED_GROUPS = 4
_lock = threading.Lock()
_starts: dict[str, list[int]] = {}
_groups: OrderedDict[tuple[str, int, tuple[str, ...]], pa.Table] = OrderedDict()


def _group_of(version: DatasetVersion, row: int, columns: tuple[str, ...]) -> tuple[pa.Table, int]:
    """The decoded row group holding `row` (display columns only) and the row's offset in it."""
    name = version.parquet
    with _lock:
        starts = _starts.get(name)
    if starts is None:
        with local_path(name) as path:
            meta = pq.ParquetFile(path).metadata
        starts, at = [], 0
        for i in range(meta.num_row_groups):
            starts.append(at)
            at += meta.row_group(i).num_rows
        with _lock:
            _starts[name] = starts
    group = bisect.bisect_right(starts, row) - 1
    key = (name, group, columns)
    with _lock:
        table = _groups.get(key)
        if table is not None:
            _groups.move_to_end(key)
    if table is None:
        with local_path(name) as path:
            table = pq.ParquetFile(path).read_row_group(group, columns=list(columns))
        with _lock:
            _groups[key] = table
            while len(_groups) > _CACHED_GROUPS:
                _groups.popitem(last=False)
    return table, row - starts[group]


def mask_cells(values: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    """As the catalog's rows API shows cells: hidden columns masked, dates as ISO text."""
    out = {}
    for name, value in values.items():
        if name in hidden and value is not None:
            out[name] = catalog_hooks.MASKED
        elif hasattr(value, "isoformat"):
            out[name] = value.isoformat()
        else:
            out[name] = value
    return out


def row_for(version: DatasetVersion, row: int, columns: list[str], user: Any) -> tuple[dict[str, Any], list[str]]:
    """One row's display columns as `user` may see them, and the names of the columns that came back masked."""
    table, offset = _group_of(version, row, tuple(columns))
    values = table.slice(offset, 1).to_pylist()[0]
    hidden = catalog_hooks.columns_hidden_from(version, user)
    return mask_cells(values, hidden), sorted(hidden & set(columns))


def rows_table(version: DatasetVersion, rows: list[int] | None = None, columns: list[str] | None = None) -> pa.Table:
    """Whole rows (raw, for work that never shows them: scoring, embedding, export) in the order of `rows`."""
    with local_path(version.parquet) as path:
        table = pq.read_table(path, columns=columns, memory_map=True)
    if rows is None:
        return table
    return table.take(pa.array(rows, type=pa.int64()))
