"""Rules suggested from a version's profile, for a steward to accept or reject.

- a column with no nulls -> not_null
- an id-like column (named `id`, `*_id` or `*Id`) whose values are all distinct -> unique
- a low-cardinality text, integer or boolean column -> allowed_values (its distinct values)
- a numeric column (not id-like) -> range from robust bounds: the 0.5% and 99.5% quantiles widened by 10% of
  their span (and not below 0 for a column with no negative values)
- a timestamp or date column, or an epoch-seconds integer column named like a time -> freshness, with a week
  of slack over the version's own age

Columns flagged as personal data get no value-bearing suggestion (allowed_values, range): rule parameters are
shown to every role that may read the dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

LOW_CARDINALITY = 20
TIME_NAMES = ("timestamp", "time", "ts", "date", "datetime", "created_at", "event_time")
# Epoch seconds between 1990-01-01 and 2100-01-01 (ml-100k has 1997-98 stamps).
EPOCH_LOW, EPOCH_HIGH = 631_152_000, 4_102_444_800


@dataclass
class Suggestion:
    kind: str
    columns: list[str]
    params: dict[str, Any]
    severity: str

    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.kind, tuple(self.columns)


def _id_like(name: str) -> bool:
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id") or name.endswith("Id")


def _time_like(name: str) -> bool:
    lowered = name.lower()
    return lowered in TIME_NAMES or lowered.endswith(("_at", "_time", "_ts", "_date", "timestamp"))


def _numeric(dtype: str) -> bool:
    return dtype.startswith(("int", "uint", "float", "double"))


def _robust_range(column: pa.ChunkedArray, integer: bool) -> dict[str, Any] | None:
    values = column.drop_null().cast(pa.float64())
    values = values.filter(pc.invert(pc.is_nan(values)))
    if not len(values):
        return None
    lo, hi = pc.quantile(values, q=[0.005, 0.995]).to_pylist()
    span = hi - lo
    margin = 0.1 * span if span > 0 else max(abs(lo) * 0.1, 1.0)
    low, high = lo - margin, hi + margin
    if pc.min(values).as_py() >= 0:
        low = max(low, 0.0)
    if integer:
        low, high = math.floor(low), math.ceil(high)
    else:
        low, high = float(f"{low:.6g}"), float(f"{high:.6g}")
    return {"min": low, "max": high, "min_inclusive": True, "max_inclusive": True}


def _age_days(column: pa.ChunkedArray, dtype: str, version_time: datetime) -> float | None:
    values = column.drop_null()
    if not len(values):
        return None
    if dtype.startswith(("int", "uint")):
        newest_ms = pc.max(values).as_py() * 1000
    else:
        stamps = values.cast(pa.timestamp("ms")) if dtype.startswith("timestamp") else values.cast(pa.date64())
        newest_ms = pc.max(stamps.cast(pa.int64())).as_py()
    return (version_time.astimezone(UTC).timestamp() * 1000 - newest_ms) / 86_400_000


def suggest_rules(
    *, profile: list[dict[str, Any]], path: Path, row_count: int, pii_columns: set[str], version_time: datetime
) -> list[Suggestion]:
    out: list[Suggestion] = []
    pfile = pq.ParquetFile(path)
    for col in profile:
        name, dtype = col["name"], str(col.get("dtype", ""))
        nulls, distinct = col.get("null_count"), col.get("distinct_count")
        if row_count and nulls == 0:
            out.append(Suggestion("not_null", [name], {}, "blocking"))
        if row_count and _id_like(name) and distinct == row_count and nulls == 0:
            out.append(Suggestion("unique", [name], {}, "blocking"))
        sensitive = name in pii_columns
        time_int = dtype.startswith(("int", "uint")) and _time_like(name) and col.get("min") is not None
        time_int = time_int and col["min"] >= EPOCH_LOW and col.get("max", 0) <= EPOCH_HIGH
        if dtype.startswith(("timestamp", "date")) or time_int:
            age = _age_days(pfile.read(columns=[name]).column(0), dtype, version_time)
            if age is not None:
                out.append(Suggestion("freshness", [name], {"max_age_days": max(1, math.ceil(age)) + 7}, "warning"))
            continue
        if sensitive or _id_like(name):
            continue
        low_cardinality = (
            distinct is not None
            and 0 < distinct <= LOW_CARDINALITY
            and distinct < max(row_count, 1) / 2
            and (dtype in ("string", "large_string", "bool") or dtype.startswith(("int", "uint")))
        )
        if low_cardinality:
            values = pc.unique(pfile.read(columns=[name]).column(0).combine_chunks()).drop_null().to_pylist()
            out.append(Suggestion("allowed_values", [name], {"values": sorted(values, key=str)}, "warning"))
        elif _numeric(dtype):
            bounds = _robust_range(pfile.read(columns=[name]).column(0), dtype.startswith(("int", "uint")))
            if bounds is not None:
                out.append(Suggestion("range", [name], bounds, "warning"))
    return out
