"""Turn the inputs callers have (Arrow tables, pandas frames, rows as dicts) into Arrow tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

TableLike = Any  # pa.Table | pandas.DataFrame | list[dict] | dict[str, list]


def as_table(data: TableLike) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, Mapping):
        return pa.table({k: list(v) for k, v in data.items()})
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas, without importing it
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, Iterable):
        rows = list(data)
        if not rows:
            return pa.table({})
        return pa.Table.from_pylist(_unify_keys(rows))
    raise TypeError(f"cannot read a table from {type(data).__name__}")


def _unify_keys(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # from_pylist takes its schema from the first row; later rows may carry extra keys.
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return [{k: row.get(k) for k in keys} for row in rows]
