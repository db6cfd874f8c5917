"""Table transforms (no Django), run so that memory is bounded by DuckDB's `memory_limit`, not by the table.

Inputs are Sources: a Parquet file (a version's copy) or an in-memory pyarrow table; both are visible to DuckDB as
views `t0`, `t1` with a `__steward_row` column (the row's position). Each operation reads its inputs in batches
or through DuckDB queries that spill to a temporary directory (joins, dedupe, windows, sorts), and writes its
output(s) batch by batch into Sinks: Parquet files for jobs (`run`), tables for tests and checks (`apply`).
Row-wise operations (label, filter, cast, ...) apply one pyarrow function to every batch; operations that need a
statistic (impute, clip, bucketize, outliers, time_features) compute it with one DuckDB query first. Bad params raise
TransformError with a message; `apply` on empty tables is how the service checks params before queueing a job.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from core.parquet import parquet_for_batches
from governance.catalog.expressions import ExpressionError, compile_expression
from governance.catalog.ingest import parquet_options

ROW = "__steward_row"
BATCH_ROWS = 128 * 1024
PARQUET_ROW_GROUP = 256 * 1024
# A join whose right side has at most this many rows holds that side in memory and streams the left one.
RIGHT_IN_MEMORY_ROWS = 2_000_000
# Rows put back in row order by one sort (sequence and aggregates compute in (key, time) order), at most; fewer
# where the rows are wide: DuckDB holds a bucket's rows, lists and all, in memory while it sorts it (several times
# their Arrow size), so one bucket's rows take at most this share of DuckDB's memory limit
# (STEWARD_TRANSFORM_MEMORY_LIMIT).
SORT_BACK_ROWS = 1_000_000
SORT_BACK_SHARE = 1 / 8
_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
_UNITS.update({"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4})


class TransformError(ValueError):
    pass


# --- engine --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """DuckDB's `memory_limit` (e.g. "1GB"; None: DuckDB's default of 80 % of RAM), where it spills, its threads
    (0: all cores) and the rows per batch for row-wise operations."""

    memory_limit: str | None = None
    temp_dir: Path | None = None
    threads: int = 0
    batch_rows: int = BATCH_ROWS


@dataclass
class Source:
    schema: pa.Schema
    num_rows: int
    path: Path | None = None
    table: pa.Table | None = None

    @classmethod
    def parquet(cls, path: Path) -> Source:
        meta = pq.ParquetFile(path)
        return cls(schema=meta.schema_arrow, num_rows=meta.metadata.num_rows, path=path)

    @classmethod
    def arrow(cls, table: pa.Table) -> Source:
        return cls(schema=table.schema, num_rows=table.num_rows, table=table)

    @property
    def names(self) -> list[str]:
        return list(self.schema.names)

    def batches(self, batch_rows: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
        if self.path is not None:
            # Not pre-buffered: pyarrow's default kept every row group until the reader was done (about 900 MiB
            # for a 10M-row table with sequence lists, several GiB at 50M rows).
            for batch in parquet_for_batches(self.path).iter_batches(batch_size=batch_rows, columns=columns):
                yield pa.Table.from_batches([batch])
            return
        assert self.table is not None
        table = self.table if columns is None else self.table.select(columns)
        for offset in range(0, table.num_rows, batch_rows):
            yield table.slice(offset, batch_rows)


class Sink:
    """Where one output goes. `open` fixes the schema; every written table is cast to it, so batches agree."""

    schema: pa.Schema | None = None

    def open(self, schema: pa.Schema) -> None:
        self.schema = schema

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _conform(self, table: pa.Table | pa.RecordBatch) -> pa.Table:
        assert self.schema is not None, "open() the sink first"
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if table.schema.names != self.schema.names:
            table = table.rename_columns(self.schema.names)
        if not table.schema.equals(self.schema):
            table = table.cast(self.schema)
        return table


class TableSink(Sink):
    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        self.parts.append(self._conform(table))

    def result(self) -> pa.Table:
        assert self.schema is not None
        return pa.concat_tables(self.parts).combine_chunks() if self.parts else self.schema.empty_table()


class ParquetSink(Sink):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def open(self, schema: pa.Schema) -> None:
        super().open(schema)
        self.writer = pq.ParquetWriter(self.path, schema, **parquet_options(schema))

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        table = self._conform(table)
        if table.num_rows:
            assert self.writer is not None
            self.writer.write_table(table, row_group_size=PARQUET_ROW_GROUP)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Context:
    con: duckdb.DuckDBPyConnection
    sources: list[Source]
    sinks: Callable[[int], list[Sink]]
    batch_rows: int = BATCH_ROWS
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    opened: list[Sink] = field(default_factory=list)

    @property
    def source(self) -> Source:
        return self.sources[0]

    @property
    def schema(self) -> pa.Schema:
        return self.sources[0].schema

    def outputs(self, schemas: list[pa.Schema]) -> list[Sink]:
        sinks = self.sinks(len(schemas))
        for sink, schema in zip(sinks, schemas, strict=True):
            sink.open(schema)
        self.opened = sinks
        return sinks

    def output(self, schema: pa.Schema) -> Sink:
        return self.outputs([schema])[0]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.con.sql(sql).fetchall()
        except duckdb.Error as exc:
            raise TransformError(_duck_message(exc)) from None

    def memory_limit(self) -> int:
        """DuckDB's memory limit in bytes (as DuckDB shows it, e.g. '953.6 MiB')."""
        number, _, unit = str(self.query("SELECT current_setting('memory_limit')")[0][0]).strip().partition(" ")
        try:
            return int(float(number) * _UNITS[unit.strip().upper()])
        except (KeyError, ValueError):
            return 1024**3

    def bucket_rows(self, row_bytes: float) -> int:
        """Rows per sort-back bucket for rows of about `row_bytes` bytes in memory."""
        return max(1, min(SORT_BACK_ROWS, int(self.memory_limit() * SORT_BACK_SHARE / max(row_bytes, 1.0))))

    def row_bytes(self, columns: list[str] | None = None) -> float:
        """The source's bytes a row in memory (of `columns`), from its first rows."""
        batches = self.source.batches(4096, columns)
        sample = next(batches, None)
        batches.close()  # type: ignore[attr-defined]
        return sample.nbytes / sample.num_rows if sample is not None and sample.num_rows else 8.0

    def stream(self, sql: str, *, own_cursor: bool = False) -> Iterator[pa.RecordBatch]:
        """The query's rows as batches, produced as they are consumed (DuckDB spills what does not fit). With
        `own_cursor` it runs on a cursor of its own, so it may be read side by side with other streams (it then
        sees files and views, not the tables registered from memory)."""
        con = self.con.cursor() if own_cursor else self.con
        try:
            yield from con.sql(sql).to_arrow_reader(self.batch_rows)
        except duckdb.Error as exc:
            raise TransformError(_duck_message(exc)) from None
        finally:
            if own_cursor:
                con.close()


def _duck_message(exc: Exception) -> str:
    first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.OutOfMemoryException):
        return f"The transform ran out of its memory limit (STEWARD_TRANSFORM_MEMORY_LIMIT): {first}"
    return f"The transform failed: {first}"


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@contextlib.contextmanager
def _connect(sources: list[Source], limits: Limits) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    spill = Path(limits.temp_dir or tempfile.gettempdir()) / f"duckdb-{uuid.uuid4().hex[:12]}"
    spill.mkdir(parents=True)
    config: dict[str, Any] = {"temp_directory": str(spill), "preserve_insertion_order": True}
    if limits.memory_limit:
        config["memory_limit"] = limits.memory_limit
    if limits.threads:
        config["threads"] = limits.threads
    con = duckdb.connect(":memory:", config=config)
    try:
        for i, source in enumerate(sources):
            if source.path is not None:
                path = _literal(str(source.path))
                con.execute(
                    f"CREATE VIEW t{i} AS SELECT * EXCLUDE (file_row_number), file_row_number AS {ROW} "
                    f"FROM read_parquet({path}, file_row_number = true)"
                )
            else:
                assert source.table is not None
                rows = pa.array(np.arange(source.num_rows, dtype=np.int64))
                con.register(f"t{i}", source.table.append_column(ROW, rows))
        yield con, spill
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def apply(
    operation: str, tables: list[pa.Table], params: dict[str, Any], limits: Limits | None = None
) -> list[pa.Table]:
    """The operation on in-memory tables; returns the output tables (one per part for `split`)."""
    sinks: list[TableSink] = []

    def make(n: int) -> list[Sink]:
        sinks.extend(TableSink() for _ in range(n))
        return list(sinks)

    _execute(operation, [Source.arrow(t) for t in tables], params, make, limits or Limits())
    return [s.result() for s in sinks]


def run(
    operation: str, paths: list[Path], params: dict[str, Any], out_dir: Path, limits: Limits | None = None
) -> list[Path]:
    """The operation on Parquet files, written as Parquet files under `out_dir` (one per output), batch by batch."""
    sinks: list[ParquetSink] = []

    def make(n: int) -> list[Sink]:
        sinks.extend(ParquetSink(out_dir / f"part-{i}-{uuid.uuid4().hex[:8]}.parquet") for i in range(n))
        return list(sinks)

    try:
        _execute(operation, [Source.parquet(p) for p in paths], params, make, limits or Limits())
    except BaseException:
        for sink in sinks:
            sink.close()
            sink.path.unlink(missing_ok=True)
        raise
    return [s.path for s in sinks]


def _execute(
    operation: str,
    sources: list[Source],
    params: dict[str, Any],
    sinks: Callable[[int], list[Sink]],
    limits: Limits,
) -> None:
    if operation not in OPERATIONS:
        raise TransformError(f"Unknown operation {operation!r}: use one of {', '.join(OPERATIONS)}.")
    if not isinstance(params, dict):
        raise TransformError("`params` must be an object.")
    with _connect(sources, limits) as (con, spill):
        ctx = Context(con=con, sources=sources, sinks=sinks, batch_rows=limits.batch_rows, scratch=spill)
        try:
            OPERATIONS[operation][0](ctx, params)
        finally:
            for sink in ctx.opened:
                sink.close()
    _give_back_memory()


def _give_back_memory() -> None:
    """Hand freed memory back to the OS, so a long-lived worker's RSS returns to its base after each transform
    (Arrow's allocator and glibc keep freed pages for reuse otherwise)."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _map(ctx: Context, fn: Callable[[pa.Table], pa.Table], columns: list[str] | None = None) -> None:
    """Apply a row-wise function to every batch; its result on an empty batch fixes the output schema."""
    empty = ctx.schema.empty_table() if columns is None else ctx.schema.empty_table().select(columns)
    sink = ctx.output(fn(empty).schema)
    for batch in ctx.source.batches(ctx.batch_rows, columns):
        sink.write(fn(batch))


# --- parameter helpers ---------------------------------------------------------------------------------------------


def _names(obj: pa.Table | pa.Schema | Source) -> list[str]:
    return list(obj.column_names) if isinstance(obj, pa.Table) else list(obj.names)


def _columns(obj: pa.Table | pa.Schema | Source, names: Any, param: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise TransformError(f"`{param}` must be a non-empty list of column names.")
    known = _names(obj)
    missing = [n for n in names if n not in known]
    if missing:
        raise TransformError(f"Unknown column(s) in `{param}`: {', '.join(missing)}.")
    if len(set(names)) != len(names):
        raise TransformError(f"`{param}` names a column more than once.")
    return names


def _column(obj: pa.Table | pa.Schema | Source, params: dict[str, Any], key: str, *, required: bool = True) -> Any:
    if params.get(key) is None and not required:
        return None
    if params.get(key) is None:
        raise TransformError(f"`{key}` is required: name a column.")
    if not isinstance(params.get(key), str):
        raise TransformError(f"`{key}` must be a column name.")
    return _columns(obj, params.get(key), key)[0]


def _column_map(schema: pa.Schema, params: dict[str, Any], meaning: str) -> dict[str, Any]:
    """`params["columns"]` as a non-empty {existing column: value} object."""
    mapping = params.get("columns")
    if not isinstance(mapping, dict) or not mapping:
        raise TransformError(f"`columns` must map {meaning}.")
    _columns(schema, list(mapping), "columns")
    return mapping


def _is_numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype)


def _numeric(schema: pa.Schema, name: str, advice: str = "") -> pa.DataType:
    dtype = schema.field(name).type
    if not _is_numeric(dtype):
        raise TransformError(f"Column {name} is not numeric{advice}.")
    return dtype


def _arrow(message: str, compute: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """compute(*args, **kwargs); an Arrow error becomes a TransformError with `message`, where "{reason}" (if
    present) stands for the first line of Arrow's own message."""
    try:
        return compute(*args, **kwargs)
    except pa.ArrowException as exc:
        raise TransformError(message.replace("{reason}", str(exc).splitlines()[0][:120] if str(exc) else "")) from None


def _replace(table: pa.Table, name: str, values: Any) -> pa.Table:
    """The table with column `name` replaced in place (same position) by `values`."""
    return table.set_column(table.column_names.index(name), name, values)


def _number(params: dict[str, Any], key: str, default: Any, kind: type = float) -> Any:
    value = params.get(key, default)
    try:
        if isinstance(value, bool):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        raise TransformError(f"`{key}` must be a number.") from None


def _choice(params: dict[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = params.get(key, default)
    if not isinstance(value, str) or value not in choices:
        raise TransformError(f"`{key}` must be {', '.join(choices[:-1])} or {choices[-1]}.")
    return value


def _flag(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise TransformError(f"`{key}` must be true or false.")
    return value


def _rng(params: dict[str, Any]) -> np.random.Generator:
    seed = _number(params, "seed", 0, int)
    if seed < 0:
        raise TransformError("`seed` must be a number >= 0.")
    return np.random.default_rng(seed)


def _name(params: dict[str, Any], key: str, default: str) -> str:
    name = params.get(key) or default
    if not isinstance(name, str) or not name.strip():
        raise TransformError(f"`{key}` must be a column name.")
    return name


def _new_names(schema: pa.Schema, names: list[str]) -> list[str]:
    clash = [n for n in names if n in schema.names]
    if clash:
        raise TransformError(f"Output column(s) already exist: {', '.join(clash)}; rename or drop them first.")
    return names


def _expr(schema: pa.Schema, text: Any) -> Any:
    try:
        return compile_expression(text, list(schema.names))
    except ExpressionError as exc:
        raise TransformError(str(exc)) from None


def _project(table: pa.Table, name: str, expression: Any) -> pa.Table:
    projection = {n: pc.field(n) for n in table.column_names if n != name} | {name: expression}
    return _arrow(
        "The expression cannot be computed on these column types ({reason}).",
        lambda: pads.dataset(table).to_table(columns=projection),
    )


# --- row-wise operations -------------------------------------------------------------------------------------------


def op_label(ctx: Context, params: dict[str, Any]) -> None:
    """Add a 0/1 column from a boolean expression, e.g. {"column": "label", "expression": "rating >= 4"}."""
    column = _name(params, "column", "label")
    expression = _expr(ctx.schema, params.get("expression"))

    def label(table: pa.Table) -> pa.Table:
        out = _project(table, column, expression)
        values = out.column(column)
        if not pa.types.is_boolean(values.type):
            raise TransformError("The label expression must be a comparison (true/false), e.g. rating >= 4.")
        return _replace(out, column, pc.fill_null(values, False).cast(pa.int8()))

    _map(ctx, label)


def op_filter(ctx: Context, params: dict[str, Any]) -> None:
    expression = _expr(ctx.schema, params.get("expression"))
    _map(ctx, lambda table: _arrow("The filter cannot be computed ({reason}).", lambda: table.filter(expression)))


def op_select(ctx: Context, params: dict[str, Any]) -> None:
    columns = _columns(ctx.schema, params.get("columns"), "columns")
    _map(ctx, lambda table: table.select(columns), columns)


def op_drop(ctx: Context, params: dict[str, Any]) -> None:
    dropped = _columns(ctx.schema, params.get("columns"), "columns")
    _map(ctx, lambda table: table, [n for n in ctx.schema.names if n not in dropped])


def op_rename(ctx: Context, params: dict[str, Any]) -> None:
    mapping = _column_map(ctx.schema, params, "old names to new names")
    names = [mapping.get(n, n) for n in ctx.schema.names]
    if not all(isinstance(n, str) and n.strip() for n in names) or len(set(names)) != len(names):
        raise TransformError("The new column names must be non-empty and unique.")
    _map(ctx, lambda table: table.rename_columns(names))


CAST_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("s"),
    "date": pa.date32(),
}


def op_cast(ctx: Context, params: dict[str, Any]) -> None:
    mapping = _column_map(ctx.schema, params, "column names to types (int, float, string, bool, timestamp, date)")
    for name, type_name in mapping.items():
        if not isinstance(type_name, str) or type_name not in CAST_TYPES:
            raise TransformError(f"Unknown type {type_name!r} for {name}: use one of {', '.join(CAST_TYPES)}.")

    def cast(table: pa.Table) -> pa.Table:
        for name, type_name in mapping.items():
            message = f"Column {name} has values that cannot become {type_name}."
            values = _arrow(message, pc.cast, table.column(name), CAST_TYPES[type_name], safe=True)
            table = _replace(table, name, values)
        return table

    _map(ctx, cast)


_ENTITIES = {"&nbsp;": " ", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'", "&amp;": "&"}


def op_text_normalize(ctx: Context, params: dict[str, Any]) -> None:
    """Lower-case, strip HTML tags (and the common entities) and collapse whitespace in text columns."""
    columns = _columns(ctx.schema, params.get("columns"), "columns")
    for name in columns:
        dtype = ctx.schema.field(name).type
        if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
            raise TransformError(f"Column {name} is not text.")
    lower, strip_html, whitespace = (
        _flag(params, "lower", True),
        _flag(params, "strip_html", True),
        _flag(params, "whitespace", True),
    )

    def normalize(table: pa.Table) -> pa.Table:
        for name in columns:
            values = table.column(name)
            if strip_html:
                values = pc.replace_substring_regex(values, pattern=r"<[^>]*>", replacement=" ")
                for entity, char in _ENTITIES.items():
                    values = pc.replace_substring(values, pattern=entity, replacement=char)
            if lower:
                values = pc.utf8_lower(values)
            if whitespace:
                values = pc.utf8_trim_whitespace(pc.replace_substring_regex(values, pattern=r"\s+", replacement=" "))
            table = _replace(table, name, values)
        return table

    _map(ctx, normalize)


# --- operations that need a statistic first -------------------------------------------------------------------------


def op_impute(ctx: Context, params: dict[str, Any]) -> None:
    schema = ctx.schema
    strategy = params.get("strategy", "mean")
    fills: dict[str, tuple[Any, pa.DataType]] = {}
    for name in _columns(schema, params.get("columns"), "columns"):
        dtype = schema.field(name).type
        if strategy == "constant":
            fill = params.get("value")
            if fill is None:
                raise TransformError("strategy 'constant' needs `value`.")
        elif strategy in ("mean", "median"):
            _numeric(schema, name, "; use strategy 'constant' or 'mode'")
            stat = f"avg({q(name)})" if strategy == "mean" else f"quantile_cont({q(name)}, 0.5)"
            fill = ctx.query(f"SELECT {stat}::DOUBLE FROM t0")[0][0]
            if pa.types.is_integer(dtype):
                dtype = pa.float64()
        elif strategy == "mode":
            # The most frequent value; ties go to the value seen first, as pyarrow's value_counts would.
            found = ctx.query(
                f"SELECT {q(name)} FROM t0 WHERE {q(name)} IS NOT NULL GROUP BY {q(name)} "
                f"ORDER BY count(*) DESC, min({ROW}) LIMIT 1"
            )
            fill = found[0][0] if found else None
        else:
            raise TransformError("`strategy` must be mean, median, mode or constant.")
        if fill is not None:
            _arrow(f"The fill value does not fit column {name}'s type.", lambda f=fill, t=dtype: pa.scalar(f).cast(t))
        fills[name] = (fill, dtype)

    def impute(table: pa.Table) -> pa.Table:
        for name, (fill, dtype) in fills.items():
            values = table.column(name).cast(dtype)
            if fill is not None:
                values = pc.fill_null(values, pa.scalar(fill).cast(dtype))
            table = _replace(table, name, values)
        return table

    _map(ctx, impute)


def _quantiles(ctx: Context, name: str, qs: list[float]) -> list[float | None]:
    listed = ", ".join(repr(float(x)) for x in qs)
    found = ctx.query(f"SELECT quantile_cont({q(name)}::DOUBLE, [{listed}]) FROM t0")[0][0]
    return list(found) if found is not None else [None] * len(qs)


def op_clip(ctx: Context, params: dict[str, Any]) -> None:
    """Clip numeric outliers to quantiles (`lower`, `upper`, default 0.01 and 0.99)."""
    lower_q, upper_q = _number(params, "lower", 0.01), _number(params, "upper", 0.99)
    if not 0 <= lower_q < upper_q <= 1:
        raise TransformError("Quantiles must satisfy 0 <= lower < upper <= 1.")
    bounds = {}
    for name in _columns(ctx.schema, params.get("columns"), "columns"):
        _numeric(ctx.schema, name)
        bounds[name] = _quantiles(ctx, name, [lower_q, upper_q])

    def clip(table: pa.Table) -> pa.Table:
        for name, (lo, hi) in bounds.items():
            values = table.column(name).cast(pa.float64())
            if lo is not None:
                values = pc.min_element_wise(pc.max_element_wise(values, lo), hi)
            table = _replace(table, name, values)
        return table

    _map(ctx, clip)


def op_bucketize(ctx: Context, params: dict[str, Any]) -> None:
    """Add `<column>_bucket` (0, 1, ...) per numeric column: `quantile` buckets of equal size, or `fixed` edges."""
    columns = _columns(ctx.schema, params.get("columns"), "columns")
    strategy = _choice(params, "strategy", "quantile", ("quantile", "fixed"))
    suffix = _name(params, "suffix", "_bucket")
    _new_names(ctx.schema, [f"{n}{suffix}" for n in columns])
    cuts: dict[str, np.ndarray] = {}
    if strategy == "quantile":
        buckets = _number(params, "buckets", 4, int)
        if not 2 <= buckets <= 1000:
            raise TransformError("`buckets` must be between 2 and 1000.")
    else:
        edges = params.get("edges")
        if (
            not isinstance(edges, list)
            or not edges
            or not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in edges)
            or sorted(set(edges)) != edges
        ):
            raise TransformError("`edges` must be a non-empty list of increasing numbers, e.g. [10, 50, 100].")
    for name in columns:
        _numeric(ctx.schema, name)
        if strategy == "quantile":
            found = _quantiles(ctx, name, [i / buckets for i in range(1, buckets)])
            cuts[name] = np.unique(np.asarray([x for x in found if x is not None], dtype=np.float64))
        else:
            cuts[name] = np.asarray(edges, dtype=np.float64)

    def bucketize(table: pa.Table) -> pa.Table:
        for name, edges_ in cuts.items():
            values = table.column(name).cast(pa.float64())
            array = values.to_numpy(zero_copy_only=False)
            codes = np.searchsorted(edges_, array, side="right").astype(np.int32)
            table = table.append_column(f"{name}{suffix}", pa.array(codes, mask=pc.is_null(values).to_numpy()))
        return table

    _map(ctx, bucketize)


def op_outliers(ctx: Context, params: dict[str, Any]) -> None:
    """Flag (`<column>_outlier` 0/1) or drop rows whose value is outside the IQR fences or beyond a z-score."""
    columns = _columns(ctx.schema, params.get("columns"), "columns")
    method = _choice(params, "method", "iqr", ("iqr", "zscore"))
    action = _choice(params, "action", "flag", ("flag", "drop"))
    threshold = _number(params, "threshold", 1.5 if method == "iqr" else 3.0)
    if threshold <= 0:
        raise TransformError("`threshold` must be a number > 0.")
    if action == "flag":
        _new_names(ctx.schema, [f"{n}_outlier" for n in columns])
    fences: dict[str, tuple[float, float] | None] = {}
    for name in columns:
        _numeric(ctx.schema, name)
        if method == "iqr":
            q1, q3 = _quantiles(ctx, name, [0.25, 0.75])
            fences[name] = (
                None if q1 is None or q3 is None else (q1 - threshold * (q3 - q1), q3 + threshold * (q3 - q1))
            )
        else:
            mean, std = ctx.query(f"SELECT avg({q(name)})::DOUBLE, stddev_pop({q(name)})::DOUBLE FROM t0")[0]
            fences[name] = None if mean is None else (mean - threshold * (std or 0), mean + threshold * (std or 0))

    def outside(table: pa.Table, name: str) -> pa.ChunkedArray:
        bounds = fences[name]
        values = table.column(name).cast(pa.float64())
        if bounds is None:
            return pa.chunked_array([np.zeros(len(values), dtype=bool)])
        flagged = pc.or_(pc.less(values, bounds[0]), pc.greater(values, bounds[1]))
        return pc.fill_null(flagged, False)

    def outliers(table: pa.Table) -> pa.Table:
        flags = {name: outside(table, name) for name in columns}
        if action == "flag":
            for name, flag in flags.items():
                table = table.append_column(f"{name}_outlier", flag.cast(pa.int8()))
            return table
        any_flag = None
        for flag in flags.values():
            any_flag = flag if any_flag is None else pc.or_(any_flag, flag)
        return table.filter(pc.invert(any_flag))

    _map(ctx, outliers)


TIME_FEATURES = ("hour", "weekday", "day_of_year", "recency")


def _time_column(schema: pa.Schema, params: dict[str, Any]) -> str:
    if params.get("time_column") is None:
        raise TransformError("`time_column` is required: name the timestamp column.")
    name = _column(schema, params, "time_column")
    dtype = schema.field(name).type
    if not (pa.types.is_timestamp(dtype) or pa.types.is_date(dtype) or pa.types.is_integer(dtype)):
        raise TransformError(
            f"Column {name} is not a timestamp (or integer seconds since 1970); cast it to timestamp first."
        )
    return name


def _as_timestamp(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_integer(values.type):
        return values.cast(pa.int64()).cast(pa.timestamp("s"))
    if pa.types.is_date(values.type):
        return values.cast(pa.timestamp("s"))
    return values


def op_time_features(ctx: Context, params: dict[str, Any]) -> None:
    """Hour (0-23), weekday (0 = Monday), day of year (1-366) and recency in days before `reference` (default: the
    newest timestamp of the column) from a timestamp column (integers are seconds since 1970)."""
    name = _time_column(ctx.schema, params)
    features = params.get("features", list(TIME_FEATURES))
    if not isinstance(features, list) or not features or not all(f in TIME_FEATURES for f in features):
        raise TransformError(f"`features` must be a non-empty list of {', '.join(TIME_FEATURES)}.")
    outputs = {f: f"{name}_{f}" + ("_days" if f == "recency" else "") for f in features}
    _new_names(ctx.schema, list(outputs.values()))
    reference: Any = None
    if "recency" in features:
        given = params.get("reference")
        if given is not None:
            try:
                reference = dt.datetime.fromisoformat(str(given))
            except ValueError:
                raise TransformError("`reference` must be an ISO date or time, e.g. 2024-01-31T00:00:00.") from None
        else:
            newest = ctx.query(f"SELECT max({q(name)}) FROM t0")[0][0]
            reference = newest
        if isinstance(reference, (int, np.integer)):
            reference = dt.datetime.fromtimestamp(int(reference), tz=dt.UTC).replace(tzinfo=None)
        elif isinstance(reference, dt.date) and not isinstance(reference, dt.datetime):
            reference = dt.datetime.combine(reference, dt.time())
    tz = getattr(ctx.schema.field(name).type, "tz", None)

    def features_of(table: pa.Table) -> pa.Table:
        stamps = _as_timestamp(table.column(name))
        for feature, column in outputs.items():
            if feature == "hour":
                values = pc.hour(stamps).cast(pa.int8())
            elif feature == "weekday":
                values = pc.day_of_week(stamps).cast(pa.int8())
            elif feature == "day_of_year":
                values = pc.day_of_year(stamps).cast(pa.int16())
            else:
                ref = reference
                if ref is not None and tz and ref.tzinfo is None:
                    ref = ref.replace(tzinfo=dt.UTC)
                if ref is not None and not tz and getattr(ref, "tzinfo", None) is not None:
                    ref = ref.astimezone(dt.UTC).replace(tzinfo=None)
                ref_scalar = pa.scalar(ref, type=pa.timestamp("us", tz=tz)) if ref is not None else None
                if ref_scalar is None:
                    values = pa.nulls(len(stamps), pa.float64())
                else:
                    seconds = pc.subtract(
                        pc.cast(ref_scalar, pa.int64()), pc.cast(stamps.cast(pa.timestamp("us", tz=tz)), pa.int64())
                    )
                    values = pc.divide(seconds.cast(pa.float64()), 86_400e6)
            table = table.append_column(column, values)
        return table

    _map(ctx, features_of)


# --- operations run as DuckDB queries -------------------------------------------------------------------------------


def _select_list(names: list[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{q(n)}" for n in names)


def op_dedupe(ctx: Context, params: dict[str, Any]) -> None:
    schema = ctx.schema
    keys = _columns(schema, params.get("keys") or list(schema.names), "keys")
    keep = params.get("keep", "first")
    if keep not in ("first", "last"):
        raise TransformError("`keep` must be 'first' or 'last'.")
    agg = "min" if keep == "first" else "max"
    sink = ctx.output(schema)
    # The kept row of each key from a hash aggregate (which spills), marked in a bitmap of one byte per row; then
    # the table is read again in order and filtered by it: no sort of the rows.
    kept = np.zeros(ctx.source.num_rows, dtype=bool)
    for batch in ctx.stream(f"SELECT {agg}({ROW}) AS r FROM t0 GROUP BY {_select_list(keys)}"):
        kept[np.asarray(batch.column(0))] = True
    offset = 0
    for batch in ctx.source.batches(ctx.batch_rows):
        sink.write(batch.filter(pa.array(kept[offset : offset + batch.num_rows])))
        offset += batch.num_rows


def op_join(ctx: Context, params: dict[str, Any]) -> None:
    if len(ctx.sources) < 2:
        raise TransformError("`right` must be the id of an existing dataset version.")
    left, right = ctx.sources[0].schema, ctx.sources[1].schema
    on = params.get("on")
    _columns(left, on, "on")
    keys = _columns(right, on, "on")
    how = params.get("how", "inner")
    kinds = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "outer": "FULL OUTER"}
    if not isinstance(how, str) or how not in kinds:
        raise TransformError(f"`how` must be one of {', '.join(kinds)}.")
    for key in keys:
        lt, rt = left.field(key).type, right.field(key).type
        if lt != rt and not (
            _is_numeric(lt) and _is_numeric(rt) and pa.types.is_integer(lt) == pa.types.is_integer(rt)
        ):
            raise TransformError(f"The join failed: the key columns' types differ ({key}: {lt} and {rt}).")
    # Key columns appear once (from either side for outer joins), then the right side's other columns, a clashing
    # name suffixed with _right. Rows keep the left table's order, then the right's, so a join is reproducible.
    select, fields = [], []
    for name in left.names:
        if name in keys and how in ("right", "outer"):
            select.append(f"COALESCE(l.{q(name)}, r.{q(name)}) AS {q(name)}")
        else:
            select.append(f"l.{q(name)}")
        fields.append(left.field(name))
    for name in right.names:
        if name in keys:
            continue
        out = f"{name}_right" if name in left.names else name
        select.append(f"r.{q(name)} AS {q(out)}")
        fields.append(right.field(name).with_name(out))
    out_schema = pa.schema(fields)
    sink = ctx.output(out_schema)
    if how in ("inner", "left") and ctx.sources[1].num_rows <= RIGHT_IN_MEMORY_ROWS:
        _join_batches(ctx, sink, keys, how, out_schema)
        return
    condition = " AND ".join(f"l.{q(k)} = r.{q(k)}" for k in keys)
    sql = (
        f"SELECT {', '.join(select)} FROM t0 AS l {kinds[how]} JOIN t1 AS r ON {condition} "
        f"ORDER BY l.{ROW} NULLS LAST, r.{ROW} NULLS LAST"
    )
    for batch in ctx.stream(sql):
        sink.write(batch)


def _join_batches(ctx: Context, sink: Sink, keys: list[str], how: str, out_schema: pa.Schema) -> None:
    """An inner or left join with a right side that fits in memory: each left batch is joined on its own and put
    back in its order (then the right side's), so the left table streams and nothing is sorted globally."""
    left_schema = ctx.sources[0].schema
    right = pa.concat_tables(list(ctx.sources[1].batches(ctx.batch_rows))) if ctx.sources[1].num_rows else None
    right = right if right is not None else ctx.sources[1].schema.empty_table()
    for key in keys:
        right = _replace(right, key, right.column(key).cast(left_schema.field(key).type))
    lrow, rrow = "__steward_left_row", "__steward_right_row"
    right = right.append_column(rrow, pa.array(np.arange(right.num_rows, dtype=np.int64)))
    kind = "inner" if how == "inner" else "left outer"
    offset = 0
    for batch in ctx.source.batches(ctx.batch_rows):
        rows = pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64))
        offset += batch.num_rows
        joined = batch.append_column(lrow, rows).join(
            right, keys=keys, join_type=kind, right_suffix="_right", use_threads=True
        )
        keys_order = [(lrow, "ascending", "at_end"), (rrow, "ascending", "at_end")]
        order = pc.sort_indices(joined.select([lrow, rrow]), sort_keys=keys_order)
        sink.write(joined.take(order).select(out_schema.names))


def _fractions(params: dict[str, Any]) -> list[float]:
    fractions = params.get("fractions", [0.8, 0.1, 0.1])
    if (
        not isinstance(fractions, list)
        or len(fractions) < 2
        or any(not isinstance(f, (int, float)) or f <= 0 for f in fractions)
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise TransformError("`fractions` must be 2 or more positive numbers that add up to 1.")
    return fractions


def op_split(ctx: Context, params: dict[str, Any]) -> None:
    """Random (seeded), time-ordered (oldest first) or per-user parts, written side by side in one pass."""
    fractions = _fractions(params)
    strategy = params.get("strategy", "random")
    rng = _rng(params)
    n = ctx.source.num_rows
    bounds = np.cumsum([0.0, *list(fractions)])
    cuts = np.round(bounds * n).astype(int)
    schema = ctx.schema
    if strategy == "time":
        time_column = _columns(schema, params.get("time_column"), "time_column")[0]
        # Each row's rank in (time, row) order from a sort of the two columns alone, kept as the rank's bucket (two
        # bytes a row) of `per_bucket` rows, sized by the rows' width; the rows go to their bucket's scratch file,
        # and each bucket, sorted on its own, is cut into the parts in rank order.
        per_bucket = ctx.bucket_rows(ctx.row_bytes() + 8)
        buckets = max(1, -(-n // per_bucket))
        bucket_of = np.zeros(n, dtype=np.int32 if buckets > 32_000 else np.int16)
        rank = 0
        for batch in ctx.stream(f"SELECT {ROW} FROM t0 ORDER BY {q(time_column)} ASC NULLS LAST, {ROW}"):
            rows = np.asarray(batch.column(0))
            bucket_of[rows] = (rank + np.arange(len(rows))) // per_bucket
            rank += len(rows)
            del rows
        scratch = _Buckets(
            ctx, pa.schema([*schema, pa.field(ROW, pa.int64())]), buckets, f"{q(time_column)} ASC NULLS LAST", ROW
        )
        offset = 0
        for batch in ctx.source.batches(ctx.batch_rows):
            positions = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
            scratch.write(batch.append_column(ROW, pa.array(positions)), bucket_of[offset : offset + batch.num_rows])
            offset += batch.num_rows
        scratch.close()
        del bucket_of
        sinks = ctx.outputs([schema] * len(fractions))
        position = 0
        for batch in scratch.in_order():
            for i, sink in enumerate(sinks):
                lo, hi = max(cuts[i] - position, 0), min(cuts[i + 1] - position, batch.num_rows)
                if hi > lo:
                    sink.write(batch.slice(lo, hi - lo))
            position += batch.num_rows
        return
    if strategy == "random":
        # Each row's part: the rows a seeded permutation puts in part i, kept in their original order.
        order = rng.permutation(n)
        part = np.empty(n, dtype=np.int8)
        for i in range(len(fractions)):
            part[order[cuts[i] : cuts[i + 1]]] = i
        del order

        def parts_of(batch: pa.Table, offset: int) -> np.ndarray:
            return part[offset : offset + batch.num_rows]

    elif strategy == "user":
        user_column = _columns(schema, params.get("user_column"), "user_column")[0]
        # Users in order of first appearance (as a dictionary encoding would number them), each given a seeded rank.
        users = ctx.con.sql(
            f"SELECT {q(user_column)} AS u FROM t0 WHERE {q(user_column)} IS NOT NULL "
            f"GROUP BY {q(user_column)} ORDER BY min({ROW})"
        ).to_arrow_table()
        known = users.column("u").combine_chunks().cast(schema.field(user_column).type)
        perm = rng.permutation(len(known) + 1)
        user_rank = perm / max(1, len(perm))
        user_part = np.searchsorted(bounds[1:-1], user_rank, side="right").astype(np.int8)

        def parts_of(batch: pa.Table, offset: int) -> np.ndarray:
            codes = pc.index_in(batch.column(user_column), value_set=known)
            return user_part[np.asarray(pc.fill_null(codes, -1)) + 1]

    else:
        raise TransformError("`strategy` must be random, time or user.")
    sinks = ctx.outputs([schema] * len(fractions))
    offset = 0
    for batch in ctx.source.batches(ctx.batch_rows):
        labels = parts_of(batch, offset)
        for i, sink in enumerate(sinks):
            sink.write(batch.filter(pa.array(labels == i)))
        offset += batch.num_rows


def _time_key(schema: pa.Schema, name: str) -> str:
    """An integer SQL expression that orders like the time column, so `RANGE ... 1 PRECEDING` means strictly earlier."""
    dtype = schema.field(name).type
    if pa.types.is_integer(dtype):
        return f"{q(name)}::BIGINT"
    return f"epoch_us({q(name)}::TIMESTAMP)" if pa.types.is_date(dtype) else f"epoch_us({q(name)})"


def _values(params: dict[str, Any], key: str, default: list[str]) -> list[Any]:
    values = params.get(key, default)
    if isinstance(values, (str, int)):
        values = [values]
    if not isinstance(values, list) or not values or not all(isinstance(v, (str, int)) for v in values):
        raise TransformError(f"`{key}` must be a non-empty list of event values.")
    return values


def _boolean(value: Any) -> Any:
    """An event value for a boolean column: true / false as JSON booleans, 1 / 0 or the words a form sends."""
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return value  # anything else does not fit, and the type check says so


def op_aggregates(ctx: Context, params: dict[str, Any]) -> None:
    """Per-user and per-item history features of each row, from events STRICTLY before its timestamp: counts, and
    with `event_column` click / purchase rates, with `rating_column` mean ratings. Rows at the same time never see
    each other; a user or item with no earlier events has count 0 and no rate or mean (null).

    The frame is SQL's `RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING` over an integer time key, computed as
    running sums instead of DuckDB window aggregates (eight RANGE-framed averages took ten times as long as one
    count): per side, DuckDB's external sort orders (key, time, row) with the event indicators, numpy takes
    cumulative sums per key and gives every row of a (key, time) group the sums before the group's first row, with
    the running totals of the last key carried from batch to batch. Rows without a key or a time get no history."""
    schema = ctx.schema
    time_column = _time_column(schema, params)
    time_key = _time_key(schema, time_column)
    entities = {}
    for side in ("user", "item"):
        column = _column(schema, params, f"{side}_column", required=False)
        if column is not None:
            entities[side] = column
    if not entities:
        raise TransformError("Name `user_column`, `item_column` or both.")
    event = _column(schema, params, "event_column", required=False)
    rating = _column(schema, params, "rating_column", required=False)
    if rating is not None:
        _numeric(schema, rating)
    kinds: dict[str, list[Any]] = {}
    if event is not None:
        kinds = {
            "click": _values(params, "click_values", ["click"]),
            "purchase": _values(params, "purchase_values", ["purchase"]),
        }
        etype = schema.field(event).type
        for values in kinds.values():
            _arrow(f"The event values do not fit column {event}'s type.", pa.array, values, type=etype)
    # The running sums: m0 counts events, then one indicator per event kind, then rating sum and rating count.
    metrics = ["1.0"]
    for values in kinds.values():
        metrics.append(f"CASE WHEN {q(event)} IN ({', '.join(_literal(v) for v in values)}) THEN 1.0 ELSE 0.0 END")
    if rating is not None:
        metrics += [f"coalesce({q(rating)}::DOUBLE, 0.0)", f"CASE WHEN {q(rating)} IS NULL THEN 0.0 ELSE 1.0 END"]
    sides: list[tuple[str, list[pa.Field]]] = []
    for side, column in entities.items():
        fields = [pa.field(f"{side}_events_before", pa.int64())]
        fields += [pa.field(f"{side}_{kind}_rate", pa.float64()) for kind in kinds]
        fields += [pa.field(f"{side}_mean_rating", pa.float64())] if rating is not None else []
        sides.append((column, fields))
    new_fields = [f for _, fields in sides for f in fields]
    _new_names(schema, [f.name for f in new_fields])
    sink = ctx.output(pa.schema(list(schema) + new_fields))
    streams = []
    for column, fields in sides:
        listed = ", ".join(f"({m})::DOUBLE AS m{i}" for i, m in enumerate(metrics))  # not DECIMAL
        by_key = ctx.stream(
            f"SELECT {q(column)} AS u, {time_key} AS t, {ROW} AS r, {listed} FROM t0 "
            f"ORDER BY u NULLS LAST, t NULLS LAST, r"
        )
        scratch = _ByRow(ctx, pa.schema([pa.field("r", pa.int64()), *fields]), 8.0 * (1 + len(fields)))
        for rows, before in _history(by_key, len(metrics)):
            scratch.write(_features(rows, before, fields, len(kinds), rating is not None))
        scratch.close()
        streams.append((scratch.in_order(), fields))
    _zip_many(ctx, sink, streams)


class _Buckets:
    """Scratch files that rows are written to in any order, each row into a numbered bucket, and read back bucket by
    bucket, each sorted by `order_by` (and then the position column `position`): putting rows in order is one
    bounded DuckDB sort per bucket instead of one sort of the whole table (DuckDB holds variable-size payloads such
    as lists and text in memory while it sorts). The files are Arrow IPC streams, not Parquet: every write to a
    bucket is a small piece of a batch, and a Parquet writer keeps each row group's metadata (about 16 KiB for a
    wide table) until it closes, hundreds of MiB over a 50M-row split's ~100 buckets; a stream keeps nothing."""

    def __init__(self, ctx: Context, schema: pa.Schema, buckets: int, order_by: str = "", position: str = "r") -> None:
        self.ctx, self.schema, self.position = ctx, schema, position
        self.order_by = f"{order_by + ', ' if order_by else ''}{q(position)}"
        stem = ctx.scratch / f"bucket-{uuid.uuid4().hex[:8]}"
        self.paths = [Path(f"{stem}-{k}.arrows") for k in range(max(1, buckets))]
        self.writers: list[ipc.RecordBatchStreamWriter | None] = [None] * len(self.paths)

    def write(self, table: pa.Table, bucket: np.ndarray) -> None:
        table = table.cast(self.schema)
        order = np.argsort(bucket, kind="stable")
        sorted_bucket = bucket[order]
        table = table.take(pa.array(order))
        for k in np.unique(sorted_bucket):
            lo, hi = np.searchsorted(sorted_bucket, [k, k + 1])
            writer = self.writers[k]
            if writer is None:
                writer = self.writers[k] = ipc.new_stream(str(self.paths[k]), self.schema)
            writer.write_table(table.slice(lo, hi - lo))

    def close(self) -> None:
        for writer in self.writers:
            if writer is not None:
                writer.close()

    def in_order(self) -> Iterator[pa.RecordBatch]:
        for path in self.paths:
            if not path.exists():
                continue
            # One bucket (a bounded share of the memory limit, see SORT_BACK_SHARE), memory-mapped, sorted by DuckDB
            # on a cursor of its own (read side by side with other streams).
            mapped = pa.memory_map(str(path))
            bucket = ipc.open_stream(mapped).read_all()
            cursor = self.ctx.con.cursor()
            try:
                cursor.register("bucket", bucket)
                sql = f"SELECT * EXCLUDE ({q(self.position)}) FROM bucket ORDER BY {self.order_by}"
                yield from cursor.sql(sql).to_arrow_reader(self.ctx.batch_rows)
            except duckdb.Error as exc:
                raise TransformError(_duck_message(exc)) from None
            finally:
                cursor.close()
                del bucket
                mapped.close()
            path.unlink(missing_ok=True)


class _ByRow(_Buckets):
    """Rows keyed by row position `r`, read back in row order, `ctx.bucket_rows(row_bytes)` positions per bucket."""

    def __init__(self, ctx: Context, schema: pa.Schema, row_bytes: float) -> None:
        self.per_bucket = ctx.bucket_rows(row_bytes)
        super().__init__(ctx, schema, -(-ctx.source.num_rows // self.per_bucket))

    def write(self, table: pa.Table) -> None:  # type: ignore[override]
        super().write(table, np.asarray(table.column("r")) // self.per_bucket)


def _features(rows: pa.Array, before: np.ndarray, fields: list[pa.Field], kinds: int, rated: bool) -> pa.Table:
    count = before[:, 0]
    columns = [rows, pa.array(count.astype(np.int64))]
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in range(kinds):
            columns.append(pa.array(before[:, 1 + k] / count, mask=count == 0))
        if rated:
            total, n = before[:, 1 + kinds], before[:, 2 + kinds]
            columns.append(pa.array(total / n, mask=n == 0))
    return pa.Table.from_arrays(columns, schema=pa.schema([pa.field("r", pa.int64()), *fields]))


def _history(batches: Iterator[pa.RecordBatch], width: int) -> Iterator[tuple[pa.Array, np.ndarray]]:
    """For a (u, t, r, m0, m1, ...) stream sorted by key, time and row: each row's position and the sums of m over
    the key's rows at strictly earlier times."""
    last_u: Any = None
    last_t: Any = None
    user_total = np.zeros(width)  # sums over the last key's rows so far
    group_before = np.zeros(width)  # what the last (key, time) group's rows get
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        u, t = batch.column("u"), batch.column("t")
        first_u, first_t = u[0].as_py(), t[0].as_py()
        same_user = first_u is not None and first_u == last_u
        same_group = same_user and first_t is not None and first_t == last_t
        new_user = _starts(u)
        new_user[0] = not same_user
        new_group = new_user | _starts(t)
        new_group[0] = not same_group
        values = np.column_stack([np.asarray(batch.column(f"m{i}"), dtype=np.float64) for i in range(width)])
        before_row = np.cumsum(values, axis=0) - values  # sums of the batch's earlier rows
        positions = np.arange(n)
        user_start = np.maximum.accumulate(np.where(new_user, positions, 0))
        group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
        within = before_row - before_row[user_start]  # sums of the key's earlier rows in this batch
        within[(user_start == 0) & same_user] += user_total
        before = within[group_start]
        before[(group_start == 0) & same_group] = group_before
        before[np.asarray(pc.or_(pc.is_null(u), pc.is_null(t)))] = 0.0
        yield batch.column("r"), before
        last_u, last_t = u[n - 1].as_py(), t[n - 1].as_py()
        user_total = within[n - 1] + values[n - 1]
        group_before = before[n - 1]


def _zip(ctx: Context, sink: Sink, stream: Iterator[pa.RecordBatch], fields: list[pa.Field]) -> None:
    _zip_many(ctx, sink, [(stream, fields)])


def _zip_many(ctx: Context, sink: Sink, streams: list[tuple[Iterator[pa.RecordBatch], list[pa.Field]]]) -> None:
    """The table's batches, in order, each with the next rows of every stream (each in row order) as new columns."""
    readers = [(_Rows(stream), fields) for stream, fields in streams]
    for batch in ctx.source.batches(ctx.batch_rows):
        for rows, fields in readers:
            taken = rows.take(batch.num_rows) if batch.num_rows else None
            for i, f in enumerate(fields):
                batch = batch.append_column(f.name, taken.column(i) if taken is not None else pa.array([], f.type))
        sink.write(batch)


def op_sequence(ctx: Context, params: dict[str, Any]) -> None:
    """Each row's user's last `length` items (and categories) from events STRICTLY before the row's time, oldest
    first, as a list column (empty for a user's first event, and for rows without a user or time): the behaviour
    sequence of DIN-style models. With `event_column` and `event_values`, only the events whose value is one of
    `event_values` enter the sequences (clicks, purchases, or ratings labelled 1: the items a user liked), while
    every row still gets its sequence."""
    schema = ctx.schema
    user = _column(schema, params, "user_column")
    item = _column(schema, params, "item_column")
    time_column = _time_column(schema, params)
    category = _column(schema, params, "category_column", required=False)
    length = _number(params, "length", 20, int)
    if not 1 <= length <= 1000:
        raise TransformError("`length` must be between 1 and 1000.")
    output = _name(params, "column", "item_sequence")
    category_output = _name(params, "category_output", "category_sequence")
    outputs = [(item, output)] + ([(category, category_output)] if category else [])
    _new_names(schema, [o for _, o in outputs])
    if len({o for _, o in outputs}) != len(outputs):
        raise TransformError("`column` and `category_output` must differ.")
    fields = [pa.field(out, pa.list_(schema.field(source).type)) for source, out in outputs]
    sink = ctx.output(pa.schema(list(schema) + fields))
    # DuckDB's list windows hold whole partitions in memory; instead the events are sorted by (user, time, row)
    # with DuckDB's external sort and read as a stream, each row's list is sliced from the rows before its (user,
    # time) group with numpy (at most `length` rows of the user and its current group carried between batches),
    # written with the row positions to a scratch file, sorted back into row order and zipped with the table.
    event = _column(schema, params, "event_column", required=False)
    enters = "TRUE"
    if event is not None:
        wanted = _values(params, "event_values", [])
        if pa.types.is_boolean(schema.field(event).type):
            wanted = [_boolean(v) for v in wanted]
        _arrow(f"The event values do not fit column {event}'s type.", pa.array, wanted, type=schema.field(event).type)
        enters = f"coalesce({q(event)} IN ({', '.join(_literal(v) for v in wanted)}), FALSE)"
    elif "event_values" in params:
        raise TransformError("`event_values` needs `event_column`.")
    values = ", ".join(f"{q(source)} AS v{i}" for i, (source, _) in enumerate(outputs))
    by_user = ctx.stream(
        f"SELECT {q(user)} AS u, {_time_key(schema, time_column)} AS t, {ROW} AS r, {enters} AS e, {values} FROM t0 "
        f"ORDER BY u NULLS LAST, t NULLS LAST, r"
    )
    # A scratch row: its position and, per list, an offset and at most `length` values.
    row_bytes = 8 + sum(4 + length * ctx.row_bytes([source]) for source, _ in outputs)
    scratch_schema = pa.schema([pa.field("r", pa.int64()), *[f.with_name(f"s{i}") for i, f in enumerate(fields)]])
    scratch = _ByRow(ctx, scratch_schema, row_bytes)
    for part in _sequences(by_user, len(outputs), length):
        scratch.write(part)
    scratch.close()
    _zip(ctx, sink, scratch.in_order(), fields)


class _Rows:
    """Take exactly n rows at a time from a stream of record batches."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.buffer: pa.Table | None = None

    def take(self, n: int) -> pa.Table:
        parts, have = [], 0
        while have < n:
            if self.buffer is None or self.buffer.num_rows == 0:
                self.buffer = pa.Table.from_batches([next(self.batches)])
            piece = self.buffer.slice(0, n - have)
            self.buffer = self.buffer.slice(piece.num_rows)
            parts.append(piece)
            have += piece.num_rows
        return pa.concat_tables(parts).combine_chunks() if len(parts) != 1 else parts[0]


def _starts(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where a row's value differs from the previous row's (nulls differ from everything)."""
    n = len(values)
    out = np.ones(n, dtype=bool)
    if n > 1:
        same = pc.fill_null(pc.equal(values[1:], values[:-1]), False)
        out[1:] = ~np.asarray(same)
    return out


def _sequences(batches: Iterator[pa.RecordBatch], width: int, length: int) -> Iterator[pa.Table]:
    """(r, s0, s1, ...) per row of a (u, t, r, e, v0, v1, ...) stream sorted by user, time and row: each row's
    list holds the values of the last `length` rows of its user at earlier times whose flag `e` is true."""
    carry: pa.Table | None = None
    for batch in batches:
        table = pa.Table.from_batches([batch])
        kept = 0 if carry is None else carry.num_rows
        if carry is not None:
            table = pa.concat_tables([carry, table]).combine_chunks()
        n = table.num_rows
        positions = np.arange(n)
        new_user = _starts(table.column("u"))
        new_group = new_user | _starts(table.column("t"))
        user_start = np.maximum.accumulate(np.where(new_user, positions, 0))
        group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
        # The rows that enter sequences, and how many of them lie before each position: a row's list is the
        # entering rows between its user's first row and its time group's first row, the last `length` of them.
        entering = np.flatnonzero(np.asarray(pc.fill_null(table.column("e"), False)))
        before = np.searchsorted(entering, np.arange(n + 1))
        start = np.maximum(before[user_start], before[group_start] - length)
        lengths = before[group_start] - start
        lengths[np.asarray(pc.or_(pc.is_null(table.column("u")), pc.is_null(table.column("t"))))] = 0
        lengths, start = lengths[kept:], start[kept:]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # The positions of every list's values, side by side: entering[start[i]], entering[start[i] + 1], ...
        index = entering[np.arange(offsets[-1]) - np.repeat(offsets[:-1] - start, lengths)]
        columns = {"r": table.column("r").slice(kept)}
        for i in range(width):
            values = table.column(f"v{i}").take(pa.array(index, type=pa.int64())).combine_chunks()
            columns[f"s{i}"] = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values)
        yield pa.table(columns)
        # The next batch needs the last user's last `length` entering rows before its last time group, and that
        # group (it may go on in the next batch); the rows that enter no list are not carried.
        carry = table.slice(0, 0)
        if n:
            last_group = int(group_start[-1])
            k = before[last_group] - length
            tail = int(max(user_start[-1], entering[k] if k >= 0 else 0))
            earlier = entering[(entering >= tail) & (entering < last_group)]
            carry = table.take(pa.array(np.concatenate([earlier, np.arange(last_group, n)]), type=pa.int64()))


# --- operations that need the table in memory ----------------------------------------------------------------------


def op_negative_sampling(ctx: Context, params: dict[str, Any]) -> None:
    """Add `ratio` unobserved (user, item) pairs per positive with label 0; positives get label 1. It keeps the set
    of observed pairs in memory (two columns of the table)."""
    schema = ctx.schema
    user_col, item_col = (_columns(schema, params.get(k), k)[0] for k in ("user_column", "item_column"))
    ratio = _number(params, "ratio", 1, int)
    label = _name(params, "label_column", "label")
    if not 1 <= ratio <= 20:
        raise TransformError("`ratio` must be between 1 and 20.")
    rng = _rng(params)
    table = (
        pa.concat_tables(list(ctx.source.batches(ctx.batch_rows, [user_col, item_col])))
        if ctx.source.num_rows
        else (schema.empty_table().select([user_col, item_col]))
    )
    users = np.asarray(table.column(user_col).to_pylist(), dtype=object)
    items_all = np.asarray(pc.unique(table.column(item_col)).to_pylist(), dtype=object)
    seen = set(zip(users.tolist(), table.column(item_col).to_pylist(), strict=True))
    neg_users, neg_items = [], []
    for user in users.tolist():
        for _ in range(ratio):
            for _try in range(10):
                item = items_all[rng.integers(len(items_all))]
                if (user, item) not in seen:
                    neg_users.append(user)
                    neg_items.append(item)
                    break
    positives = table.append_column(label, pa.array(np.ones(table.num_rows, dtype=np.int8)))
    negatives = pa.table(
        {
            user_col: pa.array(neg_users, type=schema.field(user_col).type),
            item_col: pa.array(neg_items, type=schema.field(item_col).type),
            label: pa.array(np.zeros(len(neg_users), dtype=np.int8)),
        }
    )
    sink = ctx.output(positives.schema)
    sink.write(positives)
    sink.write(negatives)


# --- what an operation leaves as it was ---------------------------------------------------------------------------

# Operations that write every input row once, in order, and leave the input's columns as they were except those
# named by these params (which they compute anew); the columns they add are new names (_new_names refuses clashes).
_ROWS_KEPT_REWRITES = {
    "impute": ("columns",),
    "label": ("column",),
    "select": (),
    "drop": (),
    "time_features": (),
    "aggregates": (),
    "sequence": (),
}


def unchanged_columns(operation: str, params: dict[str, Any], inputs: list[pa.Schema], output: pa.Schema) -> set[str]:
    """The output columns that hold exactly the first input's values, row for row, whose profile is then the
    input's own (so a derived version profiles only what the transform computed). Call it only with an output that
    has as many rows as the first input: a left join keeps each left row once only when no key matched twice."""
    if operation == "join" and params.get("how", "inner") == "left":
        rewritten: set[str] = set()
    elif operation in _ROWS_KEPT_REWRITES:
        rewritten = set()
        for key in _ROWS_KEPT_REWRITES[operation]:
            value = params.get(key, "label" if operation == "label" else None)
            rewritten |= {value} if isinstance(value, str) else {v for v in value or [] if isinstance(v, str)}
    else:
        return set()
    source = inputs[0]
    return {
        f.name
        for f in output
        if f.name in source.names and f.name not in rewritten and source.field(f.name).type.equals(f.type)
    }


# --- the catalogue of operations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of an operation, for the API docs and the transform page's forms."""

    name: str
    # column, columns, column_map, text, number, integer, choice, multichoice, bool, version, numbers, values,
    # expression
    kind: str
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None


_OUTPUT = Param("output_dataset", "text", "Register the result in this dataset (created if new) instead.")
_SEED = Param("seed", "integer", "Random seed.", default=0)

PARAMS: dict[str, tuple[str, list[Param]]] = {
    "label": (
        "Add a 0/1 column from a comparison.",
        [
            Param("column", "text", "Name of the new column.", default="label"),
            Param("expression", "expression", "A comparison, e.g. rating >= 4.", required=True),
        ],
    ),
    "filter": (
        "Keep the rows where the expression is true.",
        [Param("expression", "expression", "e.g. event != 'view' and price > 0", required=True)],
    ),
    "dedupe": (
        "Keep one row per key (the first or last), in the original order.",
        [
            Param("keys", "columns", "Key columns (empty: all columns, i.e. exact duplicates)."),
            Param("keep", "choice", "Which row of a key to keep.", choices=("first", "last"), default="first"),
        ],
    ),
    "join": (
        "Join another version on key columns.",
        [
            Param("right", "version", "The id of the version to join.", required=True),
            Param("on", "columns", "Key columns present on both sides.", required=True),
            Param("how", "choice", "Join kind.", choices=("inner", "left", "right", "outer"), default="inner"),
        ],
    ),
    "select": ("Keep these columns, in this order.", [Param("columns", "columns", "Columns to keep.", required=True)]),
    "drop": ("Remove columns.", [Param("columns", "columns", "Columns to remove.", required=True)]),
    "rename": (
        "Rename columns.",
        [Param("columns", "column_map", "old:new pairs, e.g. ts:timestamp, event:action.", required=True)],
    ),
    "cast": (
        "Convert columns to types.",
        [
            Param(
                "columns",
                "column_map",
                f"column:type pairs, types {', '.join(CAST_TYPES)}; e.g. price:float.",
                required=True,
            )
        ],
    ),
    "impute": (
        "Fill missing values.",
        [
            Param("columns", "columns", "Columns to fill.", required=True),
            Param("strategy", "choice", "How.", choices=("mean", "median", "mode", "constant"), default="mean"),
            Param("value", "text", "The value for strategy constant."),
        ],
    ),
    "clip": (
        "Cap numeric values at two quantiles.",
        [
            Param("columns", "columns", "Numeric columns.", required=True),
            Param("lower", "number", "Lower quantile.", default=0.01),
            Param("upper", "number", "Upper quantile.", default=0.99),
        ],
    ),
    "outliers": (
        "Flag (adds <column>_outlier 0/1) or drop rows outside the IQR fences or beyond a z-score.",
        [
            Param("columns", "columns", "Numeric columns.", required=True),
            Param("method", "choice", "Rule.", choices=("iqr", "zscore"), default="iqr"),
            Param("threshold", "number", "IQR multiple (default 1.5) or z-score (default 3)."),
            Param("action", "choice", "Flag or drop.", choices=("flag", "drop"), default="flag"),
        ],
    ),
    "bucketize": (
        "Add <column>_bucket: quantile buckets of equal size, or buckets between fixed edges.",
        [
            Param("columns", "columns", "Numeric columns (prices, ages).", required=True),
            Param("strategy", "choice", "Bucket kind.", choices=("quantile", "fixed"), default="quantile"),
            Param("buckets", "integer", "Number of quantile buckets.", default=4),
            Param("edges", "numbers", "Increasing edges for fixed buckets, e.g. 10, 50, 100."),
        ],
    ),
    "text_normalize": (
        "Lower-case, strip HTML and collapse whitespace in text columns (titles, reviews).",
        [
            Param("columns", "columns", "Text columns.", required=True),
            Param("lower", "bool", "Lower-case.", default=True),
            Param("strip_html", "bool", "Strip HTML tags and entities.", default=True),
            Param("whitespace", "bool", "Collapse and trim whitespace.", default=True),
        ],
    ),
    "time_features": (
        "Add <time>_hour, <time>_weekday (0 = Monday), <time>_day_of_year and <time>_recency_days.",
        [
            Param("time_column", "column", "Timestamp (or integer seconds since 1970).", required=True),
            Param("features", "multichoice", "Which features (default all).", choices=TIME_FEATURES),
            Param("reference", "text", "Recency is measured back from this ISO time (default: the newest row)."),
        ],
    ),
    "aggregates": (
        "Per-user / per-item counts, click and purchase rates and mean ratings from events strictly before each row.",
        [
            Param("time_column", "column", "Timestamp (or integer seconds).", required=True),
            Param("user_column", "column", "User id column."),
            Param("item_column", "column", "Item id column."),
            Param("event_column", "column", "Event type column (for click / purchase rates)."),
            Param("click_values", "values", "Event values that count as clicks.", default=["click"]),
            Param("purchase_values", "values", "Event values that count as purchases.", default=["purchase"]),
            Param("rating_column", "column", "Numeric rating column (for mean ratings)."),
        ],
    ),
    "sequence": (
        "Each user's last N items (and categories) strictly before the row, oldest first, as a list column.",
        [
            Param("user_column", "column", "User id column.", required=True),
            Param("item_column", "column", "Item id column.", required=True),
            Param("time_column", "column", "Timestamp (or integer seconds).", required=True),
            Param("length", "integer", "N, the most items kept.", default=20),
            Param("category_column", "column", "Also a list of these categories."),
            Param("column", "text", "Name of the item list column.", default="item_sequence"),
            Param("event_column", "column", "Only events with one of `event_values` here enter the sequences."),
            Param("event_values", "values", "Event values that enter the sequences (click; or a label of 1)."),
        ],
    ),
    "split": (
        "Split into parts: random (seeded), by time (oldest first) or by user.",
        [
            Param("strategy", "choice", "How.", choices=("random", "time", "user"), default="random"),
            Param("fractions", "numbers", "Part sizes adding up to 1.", default=[0.8, 0.1, 0.1]),
            Param("time_column", "column", "For strategy time."),
            Param("user_column", "column", "For strategy user."),
            _SEED,
        ],
    ),
    "negative_sampling": (
        "Add unobserved (user, item) pairs labelled 0; positives get 1 (holds the pairs in memory).",
        [
            Param("user_column", "column", "User id column.", required=True),
            Param("item_column", "column", "Item id column.", required=True),
            Param("ratio", "integer", "Negatives per positive (1-20).", default=1),
            Param("label_column", "text", "Name of the label column.", default="label"),
            _SEED,
        ],
    ),
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "label": {"column": "label", "expression": "rating >= 4"},
    "filter": {"expression": "event != 'view'"},
    "dedupe": {"keys": ["user_id", "item_id"], "keep": "last"},
    "join": {"right": 12, "on": ["item_id"], "how": "left"},
    "select": {"columns": ["user_id", "item_id"]},
    "drop": {"columns": ["comment"]},
    "rename": {"columns": {"ts": "timestamp"}},
    "cast": {"columns": {"price": "float"}},
    "impute": {"columns": ["age"], "strategy": "median"},
    "clip": {"columns": ["price"], "lower": 0.01, "upper": 0.99},
    "outliers": {"columns": ["price"], "method": "iqr", "threshold": 1.5, "action": "flag"},
    "bucketize": {"columns": ["price"], "strategy": "quantile", "buckets": 4},
    "text_normalize": {"columns": ["title"], "lower": True, "strip_html": True, "whitespace": True},
    "time_features": {"time_column": "timestamp", "features": ["hour", "weekday", "day_of_year", "recency"]},
    "aggregates": {
        "user_column": "user_id",
        "item_column": "item_id",
        "time_column": "timestamp",
        "event_column": "event",
        "click_values": ["click"],
        "purchase_values": ["purchase"],
        "rating_column": "rating",
    },
    "sequence": {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp", "length": 20},
    "split": {"strategy": "time", "time_column": "timestamp", "fractions": [0.8, 0.1, 0.1], "seed": 0},
    "negative_sampling": {"user_column": "user_id", "item_column": "item_id", "ratio": 1},
}

_FUNCTIONS: dict[str, Callable[[Context, dict[str, Any]], None]] = {
    "label": op_label,
    "filter": op_filter,
    "dedupe": op_dedupe,
    "join": op_join,
    "select": op_select,
    "drop": op_drop,
    "rename": op_rename,
    "cast": op_cast,
    "impute": op_impute,
    "clip": op_clip,
    "outliers": op_outliers,
    "bucketize": op_bucketize,
    "text_normalize": op_text_normalize,
    "time_features": op_time_features,
    "aggregates": op_aggregates,
    "sequence": op_sequence,
    "split": op_split,
    "negative_sampling": op_negative_sampling,
}

# name -> (function, example params as JSON): what the API's help text and the transform page list.
OPERATIONS: dict[str, tuple[Callable[[Context, dict[str, Any]], None], str]] = {
    name: (fn, json.dumps(EXAMPLES[name])) for name, fn in _FUNCTIONS.items()
}
