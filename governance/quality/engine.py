"""Rule parameters and their evaluation over a version's Parquet copy, with pyarrow and nothing of Django.

Row-wise rules (not_null, range, regex, allowed_values, max_null_fraction, freshness, references) run in one
streaming pass over record batches of only the columns they read, so memory is bounded by the batch size, not the
table. `distribution_shift` streams both versions' batches into histograms (it reads the previous version's
column once for its quantiles); `unique` sorts its key column(s) alone (not the table); `references` holds the
distinct keys of the referenced column. Results carry counts and row positions, never values.

Regular expressions run on pyarrow's RE2 engine, which matches in time linear in the input: a pattern cannot
backtrack catastrophically (no check can hang on `(a+)+$`), and patterns RE2 cannot run (backreferences,
look-around) are refused when the rule is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.parquet import parquet_for_batches

MAX_FAILING_ROWS = 20
MAX_ALLOWED_VALUES = 1000
MAX_PATTERN_CHARS = 1000
PSI_EPSILON = 1e-4
PSI_MAX_CATEGORIES = 50

KINDS = (
    "not_null",
    "unique",
    "range",
    "regex",
    "allowed_values",
    "row_count_between",
    "max_null_fraction",
    "freshness",
    "distribution_shift",
    "references",
)
# How many columns each kind reads: (at least, at most).
COLUMN_COUNTS = dict.fromkeys(KINDS, (1, 1)) | {"unique": (1, 16), "row_count_between": (0, 0)}


class RuleError(ValueError):
    """A rule that cannot be written as given; the message names the problem."""

    def __init__(self, message: str, field: str = "params") -> None:
        super().__init__(message)
        self.field = field


# -- parameters --------------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_numeric_dtype(dtype: str) -> bool:
    return dtype.startswith(("int", "uint", "float", "double", "decimal", "halffloat"))


def _is_string_dtype(dtype: str) -> bool:
    return dtype in ("string", "large_string", "utf8", "large_utf8")


def _is_temporal_dtype(dtype: str) -> bool:
    return dtype.startswith(("timestamp", "date"))


def _bool(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise RuleError(f"`{key}` must be true or false.")
    return value


def _unknown_keys(params: dict[str, Any], allowed: Iterable[str], kind: str) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise RuleError(
            f"Unknown parameter(s) for {kind}: {', '.join(extra)} (allowed: {', '.join(allowed) or 'none'})."
        )


def check_pattern(pattern: Any) -> str:
    """The pattern, if Python's and pyarrow's RE2 engines both compile it; else RuleError naming why."""
    if not isinstance(pattern, str) or not pattern:
        raise RuleError("`pattern` must be a non-empty string.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RuleError(f"`pattern` is longer than {MAX_PATTERN_CHARS} characters.")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"`pattern` does not compile: {exc}.") from None
    try:
        pc.match_substring_regex(pa.array(["probe"]), pattern=pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        reason = str(exc).split("\n")[0]
        raise RuleError(
            "`pattern` uses a feature the linear-time (RE2) engine cannot run, such as a backreference or "
            f"look-around, so its run time could not be bounded: {reason}"
        ) from None
    return pattern


def normalize(kind: str, columns: list[str], params: dict[str, Any], dtypes: dict[str, str]) -> dict[str, Any]:
    """Check a rule against the columns of the dataset's latest version (name -> dtype); returns clean params.
    `references` is checked here for its shape only: the referenced version is the caller's to look up."""
    if kind not in KINDS:
        raise RuleError(f"Unknown rule kind {kind!r}: use one of {', '.join(KINDS)}.", field="kind")
    if not isinstance(params, dict):
        raise RuleError("`params` must be an object.")
    low, high = COLUMN_COUNTS[kind]
    if not (low <= len(columns) <= high):
        need = "no column" if high == 0 else ("one column" if high == 1 else f"{low} to {high} columns")
        raise RuleError(f"A {kind} rule takes {need}; got {len(columns)}.", field="columns")
    if len(set(columns)) != len(columns):
        raise RuleError("A column is named twice.", field="columns")
    for name in columns:
        if name not in dtypes:
            raise RuleError(
                f"Unknown column {name!r}: the dataset's latest version has {', '.join(dtypes) or 'no columns'}.",
                field="columns",
            )
    dtype = dtypes[columns[0]] if columns else ""
    p = dict(params)
    if kind in ("not_null", "unique"):
        _unknown_keys(p, (), kind)
        return {}
    if kind == "range":
        _unknown_keys(p, ("min", "max", "min_inclusive", "max_inclusive"), kind)
        if not _is_numeric_dtype(dtype):
            raise RuleError(f"A range rule needs a numeric column; {columns[0]!r} is {dtype}.", field="columns")
        if p.get("min") is None and p.get("max") is None:
            raise RuleError("A range rule needs `min`, `max` or both.")
        out: dict[str, Any] = {}
        for key in ("min", "max"):
            if p.get(key) is not None:
                if not _is_number(p[key]):
                    raise RuleError(f"`{key}` must be a finite number.")
                out[key] = p[key]
        out["min_inclusive"] = _bool(p, "min_inclusive", True)
        out["max_inclusive"] = _bool(p, "max_inclusive", True)
        if "min" in out and "max" in out:
            if out["min"] > out["max"]:
                raise RuleError(f"`min` ({out['min']}) is above `max` ({out['max']}).")
            if out["min"] == out["max"] and not (out["min_inclusive"] and out["max_inclusive"]):
                raise RuleError("`min` equals `max` with an exclusive bound: no value could pass.")
        return out
    if kind == "regex":
        _unknown_keys(p, ("pattern", "full_match"), kind)
        if not _is_string_dtype(dtype):
            raise RuleError(f"A regex rule needs a text column; {columns[0]!r} is {dtype}.", field="columns")
        return {"pattern": check_pattern(p.get("pattern")), "full_match": _bool(p, "full_match", True)}
    if kind == "allowed_values":
        _unknown_keys(p, ("values",), kind)
        values = p.get("values")
        if not isinstance(values, list) or not values:
            raise RuleError("`values` must be a non-empty list.")
        if len(values) > MAX_ALLOWED_VALUES:
            raise RuleError(f"`values` may hold at most {MAX_ALLOWED_VALUES} values.")
        if any(isinstance(v, (dict, list)) or v is None for v in values):
            raise RuleError("`values` must hold numbers, strings or booleans (no null, lists or objects).")
        return {"values": list(dict.fromkeys(values))}
    if kind == "row_count_between":
        _unknown_keys(p, ("min", "max"), kind)
        out = {}
        for key in ("min", "max"):
            if p.get(key) is not None:
                if not isinstance(p[key], int) or isinstance(p[key], bool) or p[key] < 0:
                    raise RuleError(f"`{key}` must be a whole number >= 0.")
                out[key] = p[key]
        if not out:
            raise RuleError("A row_count_between rule needs `min`, `max` or both.")
        if "min" in out and "max" in out and out["min"] > out["max"]:
            raise RuleError(f"`min` ({out['min']}) is above `max` ({out['max']}).")
        return out
    if kind == "max_null_fraction":
        _unknown_keys(p, ("max_fraction",), kind)
        value = p.get("max_fraction")
        if not _is_number(value) or not 0 <= value <= 1:
            raise RuleError("`max_fraction` must be a number from 0 to 1.")
        return {"max_fraction": value}
    if kind == "freshness":
        _unknown_keys(p, ("max_age_days", "unit"), kind)
        if not (_is_temporal_dtype(dtype) or dtype.startswith(("int", "uint")) or _is_string_dtype(dtype)):
            raise RuleError(
                f"A freshness rule needs a timestamp, date, epoch-integer or ISO text column; {columns[0]!r} is "
                f"{dtype}.",
                field="columns",
            )
        age = p.get("max_age_days")
        if not _is_number(age) or age <= 0:
            raise RuleError("`max_age_days` must be a number above 0.")
        unit = p.get("unit", "s")
        if unit not in ("s", "ms"):
            raise RuleError("`unit` (of an epoch-integer column) must be 's' or 'ms'.")
        return {"max_age_days": age, "unit": unit}
    if kind == "distribution_shift":
        _unknown_keys(p, ("threshold", "bins"), kind)
        threshold = p.get("threshold", 0.2)
        if not _is_number(threshold) or threshold <= 0:
            raise RuleError("`threshold` (the largest PSI that passes) must be a number above 0.")
        bins = p.get("bins", 10)
        if not isinstance(bins, int) or isinstance(bins, bool) or not 2 <= bins <= 100:
            raise RuleError("`bins` must be a whole number from 2 to 100.")
        return {"threshold": threshold, "bins": bins}
    # references
    _unknown_keys(p, ("dataset_version", "column"), kind)
    target = p.get("dataset_version")
    if not isinstance(target, int) or isinstance(target, bool):
        raise RuleError("`dataset_version` must be the id of the dataset version whose keys are referenced.")
    if not isinstance(p.get("column"), str) or not p["column"]:
        raise RuleError("`column` must name the key column of the referenced version.")
    return {"dataset_version": target, "column": p["column"]}


# -- evaluation --------------------------------------------------------------------------------------------------


@dataclass
class RuleSpec:
    id: int
    name: str
    kind: str
    severity: str
    columns: list[str]
    params: dict[str, Any]


@dataclass
class Context:
    """What a check needs besides the version's own file."""

    version_time: datetime
    previous_path: Path | None = None
    reference_paths: dict[int, Path] = field(default_factory=dict)
    batch_rows: int = 65536


@dataclass
class _Result:
    spec: RuleSpec
    failing_count: int = 0
    failing_rows: list[int] = field(default_factory=list)
    passed: bool | None = None
    message: str = ""

    def add_failures(self, mask: np.ndarray, offset: int) -> None:
        count = int(mask.sum())
        if not count:
            return
        self.failing_count += count
        room = MAX_FAILING_ROWS - len(self.failing_rows)
        if room > 0:
            self.failing_rows.extend(int(i) + offset for i in np.flatnonzero(mask)[:room])

    def as_dict(self) -> dict[str, Any]:
        passed = self.failing_count == 0 if self.passed is None else self.passed
        return {
            "rule": self.spec.id,
            "name": self.spec.name,
            "kind": self.spec.kind,
            "severity": self.spec.severity,
            "columns": self.spec.columns,
            "passed": bool(passed),
            "failing_count": int(self.failing_count),
            "failing_rows": self.failing_rows,
            "message": self.message,
        }


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean result as a numpy mask, null counted as not failing."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _fail(result: _Result, message: str) -> None:
    result.passed = False
    result.message = message


class _RowRule:
    """A rule evaluated batch by batch; `step` adds failures for one batch, `finish` settles the outcome."""

    def __init__(self, result: _Result, rows: int, ctx: Context) -> None:
        self.result = result
        self.spec = result.spec
        self.rows = rows
        self.ctx = ctx
        self.column = self.spec.columns[0]

    def step(self, arr: pa.Array, offset: int) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        return None


class _NotNull(_RowRule):
    def step(self, arr: pa.Array, offset: int) -> None:
        self.result.add_failures(_mask(pc.is_null(arr)), offset)


class _MaxNullFraction(_RowRule):
    def step(self, arr: pa.Array, offset: int) -> None:
        self.result.add_failures(_mask(pc.is_null(arr)), offset)

    def finish(self) -> None:
        share = self.result.failing_count / self.rows if self.rows else 0.0
        limit = self.spec.params["max_fraction"]
        self.result.passed = share <= limit
        self.result.message = f"{share:.2%} of rows are null (at most {limit:.2%} allowed)"


class _Range(_RowRule):
    def step(self, arr: pa.Array, offset: int) -> None:
        p = self.spec.params
        if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)):
            raise _Unusable(f"column {self.column!r} is {arr.type}, not numeric, in this version")
        values = arr.cast(pa.float64())
        bad = pc.is_nan(values)
        if "min" in p:
            low = pc.less(values, p["min"]) if p["min_inclusive"] else pc.less_equal(values, p["min"])
            bad = pc.or_(bad, low)
        if "max" in p:
            high = pc.greater(values, p["max"]) if p["max_inclusive"] else pc.greater_equal(values, p["max"])
            bad = pc.or_(bad, high)
        self.result.add_failures(_mask(bad), offset)


class _Regex(_RowRule):
    def step(self, arr: pa.Array, offset: int) -> None:
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise _Unusable(f"column {self.column!r} is {arr.type}, not text, in this version")
        pattern = self.spec.params["pattern"]
        if self.spec.params.get("full_match", True):
            pattern = f"^(?:{pattern})$"
        self.result.add_failures(_mask(pc.invert(pc.match_substring_regex(arr, pattern=pattern))), offset)


def _value_set(values: list[Any], dtype: pa.DataType) -> tuple[pa.Array, bool]:
    """The values as an array of the column's type, or as text (then the column is compared as text)."""
    try:
        return pa.array(values).cast(dtype), False
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        return pa.array([str(v) for v in values], type=pa.string()), True


def _not_in(arr: pa.Array, value_set: pa.Array, as_text: bool) -> pa.Array:
    if as_text and not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, value_set=value_set)))


class _AllowedValues(_RowRule):
    _set: tuple[pa.Array, bool] | None = None

    def step(self, arr: pa.Array, offset: int) -> None:
        if self._set is None:
            self._set = _value_set(self.spec.params["values"], arr.type)
        self.result.add_failures(_mask(_not_in(arr, *self._set)), offset)


class _References(_RowRule):
    def __init__(self, result: _Result, rows: int, ctx: Context) -> None:
        super().__init__(result, rows, ctx)
        target = self.spec.params["dataset_version"]
        path = ctx.reference_paths.get(target)
        if path is None:
            raise _Unusable(f"the referenced dataset version {target} is gone")
        ref_column = self.spec.params["column"]
        pfile = pq.ParquetFile(path)
        if ref_column not in pfile.schema_arrow.names:
            raise _Unusable(f"the referenced version {target} has no column {ref_column!r}")
        keys = pc.unique(pfile.read(columns=[ref_column]).column(0).combine_chunks())
        self.keys = keys.drop_null()
        self._cast: bool | None = None

    def step(self, arr: pa.Array, offset: int) -> None:
        if self._cast is None:
            self._cast = not arr.type.equals(self.keys.type)
            if self._cast:
                try:
                    self.keys = self.keys.cast(arr.type)
                    self._cast = False
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    self.keys = self.keys.cast(pa.string())
        self.result.add_failures(_mask(_not_in(arr, self.keys, bool(self._cast))), offset)


def _to_timestamps(arr: pa.Array, unit: str) -> pa.Array:
    """A temporal, epoch-integer or ISO-text column as timestamp[ms] (naive values read as UTC)."""
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:
            arr = arr.cast(pa.timestamp(arr.type.unit))
        return arr.cast(pa.timestamp("ms"))
    if pa.types.is_date(arr.type):
        return (
            arr.cast(pa.timestamp("ms"))
            if pa.types.is_date64(arr.type)
            else arr.cast(pa.date64()).cast(pa.timestamp("ms"))
        )
    if pa.types.is_integer(arr.type):
        millis = pc.multiply(arr.cast(pa.int64()), 1000) if unit == "s" else arr.cast(pa.int64())
        return millis.cast(pa.timestamp("ms"))
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        try:
            return arr.cast(pa.timestamp("ms"))
        except pa.ArrowInvalid:
            raise _Unusable("its text does not read as ISO timestamps") from None
    raise _Unusable(f"column is {arr.type}, not a time")


class _Freshness(_RowRule):
    newest: int | None = None

    def step(self, arr: pa.Array, offset: int) -> None:
        stamps = _to_timestamps(arr, self.spec.params.get("unit", "s"))
        top = pc.max(stamps.cast(pa.int64())).as_py()
        if top is not None and (self.newest is None or top > self.newest):
            self.newest = top

    def finish(self) -> None:
        limit = self.spec.params["max_age_days"]
        if self.newest is None:
            _fail(self.result, "no timestamps at all")
            self.result.failing_count = 1
            return
        version_ms = self.ctx.version_time.astimezone(UTC).timestamp() * 1000
        age_days = (version_ms - self.newest) / 86_400_000
        self.result.passed = age_days <= limit
        self.result.failing_count = 0 if self.result.passed else 1
        self.result.message = f"newest timestamp is {age_days:,.1f} days older than the version (at most {limit})"


ROW_RULES: dict[str, type[_RowRule]] = {
    "not_null": _NotNull,
    "max_null_fraction": _MaxNullFraction,
    "range": _Range,
    "regex": _Regex,
    "allowed_values": _AllowedValues,
    "references": _References,
    "freshness": _Freshness,
}


class _Unusable(Exception):
    """This version cannot be checked by the rule (a column gone or of another type): the rule fails."""


def _unique(result: _Result, path: Path, ctx: Context) -> None:
    """Sort-based: a stable sort of the key columns puts each key's first row (the lowest position) first, so every
    row equal to the one before it in sorted order is a repeat. It holds the key columns and one index per row,
    where a hash of 5 million distinct keys would take several times that."""
    columns = result.spec.columns
    keys = pq.ParquetFile(path).read(columns=columns)
    rows = keys.num_rows
    if rows < 2:
        return
    order = pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in columns])  # nulls last, stable
    repeat: pa.Array | None = None
    for name in columns:
        ordered = keys.column(name).take(order).combine_chunks()
        same = pc.equal(ordered.slice(1), ordered.slice(0, rows - 1))  # null keys never equal: not repeats
        repeat = same if repeat is None else pc.and_(repeat, same)
    del keys
    mask = _mask(repeat)
    result.failing_count = int(mask.sum())
    if result.failing_count:
        positions = order.to_numpy()[1:][mask]
        result.failing_rows = [int(i) for i in np.sort(positions)[:MAX_FAILING_ROWS]]


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected / max(expected.sum(), 1), PSI_EPSILON)
    a = np.maximum(actual / max(actual.sum(), 1), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def _is_number_type(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype)


def _batches(path: Path, column: str, batch_rows: int) -> Iterable[pa.Array]:
    for batch in parquet_for_batches(path).iter_batches(batch_size=batch_rows, columns=[column]):
        yield batch.column(0).drop_null()


def _numeric_histogram(path: Path, column: str, edges: np.ndarray, batch_rows: int) -> np.ndarray:
    counts = np.zeros(len(edges) + 1)
    for arr in _batches(path, column, batch_rows):
        values = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
        values = values[~np.isnan(values)]
        counts += np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts


def _category_counts(path: Path, column: str, batch_rows: int) -> dict[str, int]:
    totals: dict[str, int] = {}
    for arr in _batches(path, column, batch_rows):
        vc = pc.value_counts(arr.cast(pa.string()))
        for value, count in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
            totals[value] = totals.get(value, 0) + count
    return totals


def _distribution_shift(result: _Result, path: Path, ctx: Context) -> None:
    """PSI of the column against the previous version. Numeric: bins at the previous version's quantiles (a
    t-digest, streamed), counted batch by batch on both sides. Categorical: the previous version's top categories
    and one bucket for the rest, value counts summed batch by batch."""
    column = result.spec.columns[0]
    threshold = result.spec.params.get("threshold", 0.2)
    bins = result.spec.params.get("bins", 10)
    if ctx.previous_path is None:
        result.passed = True
        result.message = "no previous version to compare with"
        return
    previous_schema = pq.ParquetFile(ctx.previous_path).schema_arrow
    if column not in previous_schema.names:
        result.passed = True
        result.message = f"the previous version has no column {column!r}"
        return
    now_type = pq.ParquetFile(path).schema_arrow.field(column).type
    if _is_number_type(previous_schema.field(column).type) and _is_number_type(now_type):
        before = pq.ParquetFile(ctx.previous_path).read(columns=[column]).column(0).drop_null().cast(pa.float64())
        before = before.filter(pc.invert(pc.is_nan(before)))
        if not len(before):
            result.passed = True
            result.message = "no values to compare"
            return
        quantiles = pc.tdigest(before, q=list(np.linspace(0, 1, bins + 1)[1:-1])).to_numpy(zero_copy_only=False)
        del before
        edges = np.unique(quantiles)
        expected = _numeric_histogram(ctx.previous_path, column, edges, ctx.batch_rows)
        actual = _numeric_histogram(path, column, edges, ctx.batch_rows)
    else:
        ref = _category_counts(ctx.previous_path, column, ctx.batch_rows)
        top = sorted(ref, key=lambda v: -ref[v])[:PSI_MAX_CATEGORIES]
        codes = {v: i for i, v in enumerate(top)}

        def histogram(counts: dict[str, int]) -> np.ndarray:
            out = np.zeros(len(codes) + 1)
            for value, count in counts.items():
                out[codes.get(value, len(codes))] += count
            return out

        expected, actual = histogram(ref), histogram(_category_counts(path, column, ctx.batch_rows))
    if not expected.sum() or not actual.sum():
        result.passed = True
        result.message = "no values to compare"
        return
    psi = _psi(expected, actual)
    result.passed = psi <= threshold
    result.failing_count = 0 if result.passed else 1
    result.message = f"PSI {psi:.4f} against the previous version (at most {threshold})"


def evaluate(
    path: Path,
    rules: list[RuleSpec],
    ctx: Context,
    *,
    progress: Callable[[float, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Check the Parquet file at `path` against `rules`; one result dict per rule, in order."""
    pfile = parquet_for_batches(path)
    names = set(pfile.schema_arrow.names)
    rows = pfile.metadata.num_rows
    results = [_Result(spec) for spec in rules]
    streaming: list[_RowRule] = []
    whole: list[_Result] = []
    for result in results:
        spec = result.spec
        missing = [c for c in spec.columns if c not in names]
        if missing:
            _fail(result, f"column(s) {', '.join(map(repr, missing))} not in this version")
            continue
        if spec.kind == "row_count_between":
            low, high = spec.params.get("min", 0), spec.params.get("max")
            result.passed = rows >= low and (high is None or rows <= high)
            result.failing_count = 0 if result.passed else 1
            result.message = f"{rows} rows"
        elif spec.kind in ROW_RULES:
            try:
                streaming.append(ROW_RULES[spec.kind](result, rows, ctx))
            except _Unusable as exc:
                _fail(result, str(exc))
        else:
            whole.append(result)
    needed = sorted({rule.column for rule in streaming})
    if needed:
        offset = 0
        for batch in pfile.iter_batches(batch_size=ctx.batch_rows, columns=needed):
            for rule in streaming:
                if rule.result.passed is False and rule.result.message:
                    continue  # already found unusable
                try:
                    rule.step(batch.column(batch.schema.get_field_index(rule.column)), offset)
                except _Unusable as exc:
                    _fail(rule.result, str(exc))
            offset += batch.num_rows
            if progress is not None and rows:
                progress(0.8 * offset / rows, f"checked {offset:,} of {rows:,} rows")
    for rule in streaming:
        if not (rule.result.passed is False and rule.result.message):
            rule.finish()
    for result in whole:
        try:
            if result.spec.kind == "unique":
                _unique(result, path, ctx)
            else:
                _distribution_shift(result, path, ctx)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            # Arrow's messages may quote a value; the report says only which kind of error it was.
            _fail(result, f"cannot be evaluated on this version ({type(exc).__name__})")
    return [r.as_dict() for r in results]


def overall_status(results: list[dict[str, Any]]) -> str:
    if any(not r["passed"] and r["severity"] == "blocking" for r in results):
        return "failed"
    if any(not r["passed"] for r in results):
        return "warning"
    return "passed"
