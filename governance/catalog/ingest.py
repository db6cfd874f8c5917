"""Reading uploads into Parquet and profiling them, with pyarrow and numpy only (no Django here).

Uploads are streamed: CSV/TSV/JSONL batches go straight into a ParquetWriter, so memory stays bounded
whatever the file size. Errors are `IngestError`s whose messages name the problem and never quote cell
values (a bad row could hold personal data).
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import queue
import re
import shutil
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from core.parquet import parquet_for_batches

FORMATS = ("csv", "tsv", "parquet", "jsonl")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".inter": "tsv",
    ".item": "tsv",
    ".user": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# CSV is parsed in 8 MiB blocks: small enough that parsing the next block overlaps writing and profiling this one
# (32 MiB left a 60 MB file with two blocks and little overlap), large enough for any sane row. JSON Lines keeps
# 32 MiB blocks: one JSON object may not straddle more than a block.
BLOCK_SIZE = 8 * 1024 * 1024
JSON_BLOCK_SIZE = 32 * 1024 * 1024
ROW_GROUP_ROWS = 256 * 1024
TOP_VALUES = 5


# Parquet is decoded in small batches, so one batch of highly compressed values cannot fill memory before the
# decoded-size limit is checked.
PARQUET_BATCH_ROWS = 4096
ROW_GROUP_BYTES = 128 * 1024 * 1024


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How versions' Parquet files are written: snappy, as uploads' copies are (a 1M-row, 17-column table wrote
    in 1.1 s against zstd's 1.4-1.7 s and read back faster, for 45 % more bytes), and dictionaries only for text,
    where they pay (numbers near-unique per row group fill a dictionary only to fall back to plain)."""
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    return {"compression": "snappy", "use_dictionary": text}


class IngestError(ValueError):
    """The upload cannot become a dataset version; the message says why."""


@dataclass(frozen=True)
class Limits:
    """What an upload may decode to: rows and bytes of Arrow data (None: no limit)."""

    max_rows: int | None = None
    max_bytes: int | None = None

    def check(self, rows: int, nbytes: int) -> None:
        if self.max_rows is not None and rows > self.max_rows:
            raise IngestError(f"The file holds more than {self.max_rows:,} rows, the limit (STEWARD_MAX_INGEST_ROWS).")
        if self.max_bytes is not None and nbytes > self.max_bytes:
            raise IngestError(
                f"The file decodes to more than {self.max_bytes // (1024 * 1024):,} MB of data, the limit "
                "(STEWARD_MAX_DECODED_MB): a compressed file may not expand beyond it."
            )


NO_LIMITS = Limits()

log = logging.getLogger(__name__)

PROFILE_ERROR = (
    "The file was read, but its column profile could not be computed ({kind}), so it was not registered: "
    "nothing was stored. Try again; if it fails again, report it with the file's format and column types."
)


def _profiling(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (a profile step, often run in a helper thread) with any failure turned into an IngestError: a bug or
    an unexpected column in the profiler is the server's to fix, but the upload must still end in a 400 that says
    so, with nothing half-written, not in a 500 (ingest removes its output on an IngestError). Only the exception's
    type is logged and shown: its message may quote the file's values."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001  (any profiler failure: raised again as a 400 saying so)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "ingest: the column profile failed (%s at %s:%s in %s)",
                type(exc).__name__,
                Path(where.filename).name,
                where.lineno,
                where.name,
            )
            raise IngestError(PROFILE_ERROR.format(kind=type(exc).__name__)) from None

    return run


@dataclass(frozen=True)
class IngestResult:
    row_count: int
    columns: list[dict[str, Any]]  # [{"name", "dtype"}]
    profile: list[dict[str, Any]] | None = None  # the column profile, when asked for and within its row limit


def detect_format(filename: str, declared: str | None) -> str:
    if declared:
        fmt = declared.lower().strip()
        if fmt not in FORMATS:
            raise IngestError(f"Unsupported format {declared!r}: use one of {', '.join(FORMATS)}.")
        return fmt
    suffix = Path(filename).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise IngestError(
        f"Unsupported file type {suffix or '(no extension)'!r}: upload CSV, TSV, Parquet or JSONL, or give `format`."
    )


def _check_column_names(names: list[str]) -> None:
    empty = [i + 1 for i, name in enumerate(names) if not str(name).strip()]
    if empty:
        raise IngestError(f"Empty column name at position {', '.join(map(str, empty))}: every column needs a name.")
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dupes:
        raise IngestError(f"Duplicate column names: {', '.join(dupes)}.")


ENCODING_ERROR = "The file is not valid in its encoding (expected UTF-8): re-save it as UTF-8 or pass `encoding`."
_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")
_JSON_TYPE_CHANGE = re.compile(r"Column\(/([^)]*)\) changed from (\w+) to (\w+) in row (\d+)")
_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+)")


def _clean_header(name: str) -> str:
    # RecBole's atomic files name columns `user_id:token`; keep the name, drop the type tag.
    return name.split(":", 1)[0] if re.fullmatch(r"[^:]+:(token|token_seq|float|float_seq)", name) else name


def _arrow_error_message(exc: Exception, fmt: str) -> str:
    if isinstance(exc, UnicodeError):
        return ENCODING_ERROR
    text = str(exc)
    ragged = _RAGGED.search(text)
    if ragged:
        return (
            f"Ragged {fmt.upper()} rows: the header has {ragged.group(1)} columns but a row has "
            f"{ragged.group(2)} fields."
        )
    if "invalid utf8" in text.lower() or "UTF-8" in text or "decode" in text.lower():
        return ENCODING_ERROR
    changed = _JSON_TYPE_CHANGE.search(text)
    if changed:
        return (
            f"Column {changed.group(1)} changes from {changed.group(2)} to {changed.group(3)} in row "
            f"{int(changed.group(4)) + 1}: each column needs one type in every row."
        )
    if "Empty CSV file" in text or "Empty file" in text:
        return "The file has no header row."
    if fmt == "jsonl":
        return "The file is not valid JSON Lines (one JSON object per line)."
    if fmt == "parquet":
        return "The file is not a readable Parquet file."
    return f"The {fmt.upper()} file could not be parsed."


def _read_ahead(batches: Any, depth: int = 3) -> Iterator[Any]:
    """Parse the next batch in a thread while the caller compresses the current one (pyarrow releases the GIL)."""
    pending: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()

    def produce() -> None:
        try:
            for batch in batches:
                pending.put(batch)
            pending.put(done)
        except BaseException as exc:  # noqa: BLE001  (handed to the consumer, which raises it)
            pending.put(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while True:
        item = pending.get()
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def _write_batches(
    batches: Any,
    out: Path,
    *,
    check_utf8: bool = False,
    limits: Limits = NO_LIMITS,
    on_table: Callable[[pa.Table], None] | None = None,
) -> tuple[int, pa.Schema]:
    # pyarrow's CSV reader checks UTF-8 itself; its JSON and Parquet readers pass bad bytes on into strings.
    # Small batches are gathered into row groups of ROW_GROUP_ROWS (fewer for wide rows: at most ROW_GROUP_BYTES
    # held at once): the limits are checked batch by batch, while the file keeps the row groups readers expect.
    writer: pq.ParquetWriter | None = None
    rows = 0
    nbytes = 0
    schema: pa.Schema | None = None
    pending: list[pa.RecordBatch] = []
    pending_rows = pending_bytes = 0

    # `on_table` (the profile) runs in a helper thread on one row group while the next is parsed and written;
    # at most one row group waits for it, so memory stays bounded.
    helper = ThreadPoolExecutor(max_workers=1) if on_table is not None else None
    in_flight: Any = None

    def flush() -> None:
        nonlocal pending, pending_rows, pending_bytes, in_flight
        if pending and writer is not None:
            table = pa.Table.from_batches(pending, schema=schema)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            if helper is not None:
                if in_flight is not None:
                    in_flight.result()
                in_flight = helper.submit(on_table, table)
        pending, pending_rows, pending_bytes = [], 0, 0

    try:
        for batch in _read_ahead(batches):
            if writer is None:
                schema = batch.schema
                writer = pq.ParquetWriter(
                    out,
                    schema,
                    compression="snappy",
                    use_dictionary=_dictionary_columns(pa.Table.from_batches([batch])),
                )
            nbytes += batch.nbytes
            limits.check(rows + batch.num_rows, nbytes)
            if batch.num_rows:
                if check_utf8:
                    batch.validate(full=True)
                pending.append(batch)
                pending_rows += batch.num_rows
                pending_bytes += batch.nbytes
                rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS or pending_bytes >= ROW_GROUP_BYTES:
                    flush()
        flush()
        if in_flight is not None:
            in_flight.result()
    finally:
        if helper is not None:
            helper.shutdown(wait=True, cancel_futures=True)
        if writer is not None:
            writer.close()
    if schema is None or not schema.names:
        raise IngestError("The file has no columns.")
    return rows, schema


def _csv_batches(src: Path, delimiter: str, encoding: str, column_types: dict[str, pa.DataType]) -> Any:
    reader = pacsv.open_csv(
        src,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, encoding=encoding, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True),
    )
    names = [_clean_header(n) for n in reader.schema.names]
    _check_column_names(names)
    rename = names != reader.schema.names
    if any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in reader.schema.types):
        raise IngestError(ENCODING_ERROR)
    for batch in reader:
        yield batch.rename_columns(names) if rename else batch


# Dictionary encoding pays where values repeat; on a near-unique column (ids, free text, prices) the Parquet writer
# hashes values until the dictionary page overflows, then writes them plain anyway. A column whose first
# DICTIONARY_SAMPLE_ROWS values are nearly all distinct is written plain from the start.
DICTIONARY_SAMPLE_ROWS = 64 * 1024


def _dictionary_columns(table: pa.Table) -> list[str]:
    keep = []
    for name in table.column_names:
        sample = table.column(name).slice(0, DICTIONARY_SAMPLE_ROWS)
        valid = len(sample) - sample.null_count
        try:
            repeats = valid == 0 or len(pc.unique(sample)) <= 0.9 * valid
        except pa.ArrowNotImplementedError:  # nested values: leave them to the writer
            repeats = True
        if repeats:
            keep.append(name)
    return keep


def _write_and_profile(table: pa.Table, out: Path, profile: bool) -> list[dict[str, Any]] | None:
    """Write `table` to Parquet while its columns are profiled beside it, in one more thread: the writer is
    single-threaded, pyarrow's kernels release the GIL, and the profile takes about half as long as the write, so
    it finishes first without crowding the cores (each thread more is one more to schedule on a busy machine)."""
    with ThreadPoolExecutor(max_workers=2 if profile else 1) as pool:
        written = pool.submit(
            pq.write_table,
            table,
            out,
            row_group_size=ROW_GROUP_ROWS,
            compression="snappy",
            use_dictionary=_dictionary_columns(table),
        )
        profile_one = _profiling(profile_column)
        columns = [pool.submit(profile_one, name, table.column(name)) for name in table.column_names] if profile else []
        written.result()
        return [c.result() for c in columns] if profile else None


def _ingest_csv_whole(
    src: Path,
    out: Path,
    delimiter: str,
    encoding: str,
    limits: Limits,
    profile_max_rows: int | None,
) -> tuple[int, pa.Schema, list[dict[str, Any]] | None]:
    """Read the whole file with pyarrow's multi-threaded reader (for files small enough to hold in memory).

    Unlike the block-by-block reader, it infers each column's type over the whole file (a column of integers
    with one decimal value further down is a double, not a string)."""
    # The table comes from the C library's allocator, not pyarrow's default (mimalloc): in a web or worker process
    # that already holds hundreds of MB, mimalloc's reuse of the freed parse buffers cost 0.1 to 0.6 s of kernel
    # time (page faults) per 63 MB file from one run to the next; glibc maps big buffers directly and returns them
    # on free, a steady 0.15-0.25 s (bench/register.py).
    table = pacsv.read_csv(
        src,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, encoding=encoding, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        memory_pool=pa.system_memory_pool(),
    )
    names = [_clean_header(n) for n in table.schema.names]
    _check_column_names(names)
    if names != table.schema.names:
        table = table.rename_columns(names)
    if any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in table.schema.types):
        raise IngestError(ENCODING_ERROR)
    limits.check(table.num_rows, table.nbytes)
    if not table.schema.names:
        raise IngestError("The file has no columns.")
    profile = profile_max_rows is not None and table.num_rows <= profile_max_rows
    return table.num_rows, table.schema, _write_and_profile(table, out, profile)


def _ingest_csv(
    src: Path,
    out: Path,
    delimiter: str,
    encoding: str,
    limits: Limits = NO_LIMITS,
    profiler: StreamProfiler | None = None,
) -> tuple[int, pa.Schema]:
    # Types are inferred from the first block; a later block that disagrees makes that column a string
    # and the file is read again (at most once per column).
    column_types: dict[str, pa.DataType] = {}
    header = pacsv.open_csv(
        src,
        read_options=pacsv.ReadOptions(block_size=1 << 16, encoding=encoding),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
    ).schema.names
    for _ in range(len(header) + 1):
        if profiler is not None:
            profiler.reset()
        try:
            on_table = _profiling(profiler.add) if profiler is not None else None
            return _write_batches(
                _csv_batches(src, delimiter, encoding, column_types), out, limits=limits, on_table=on_table
            )
        except pa.ArrowInvalid as exc:
            conversion = _CONVERSION.search(str(exc))
            if conversion is None:
                raise
            if conversion.group(2) in ("string", "utf8", "binary"):
                raise IngestError(ENCODING_ERROR) from None
            column_types[header[int(conversion.group(1))]] = pa.string()
    raise IngestError("Column types could not be settled.")


def _check_encoding(encoding: str) -> None:
    try:
        info = codecs.lookup(encoding)
    except (LookupError, ValueError):
        raise IngestError(f"Unknown encoding {encoding!r}: give a text encoding such as utf-8 or latin-1.") from None
    # pyarrow feeds its own buffers to the codec's incremental decoder; bytes-to-bytes codecs (base64, zlib, rot13)
    # and a few text ones (punycode, undefined) cannot take them.
    try:
        if not info._is_text_encoding:
            raise TypeError
        codecs.getincrementaldecoder(encoding)().decode(pa.py_buffer(b"a"), final=False)
    except (TypeError, AttributeError, ValueError, UnicodeError):
        raise IngestError(f"Encoding {encoding!r} cannot read text files: use one such as utf-8 or latin-1.") from None


def _check_parquet_metadata(pfile: pq.ParquetFile, limits: Limits) -> None:
    """Refuse a Parquet file whose own metadata says it is over the limits, before decoding any of it."""
    meta = pfile.metadata
    uncompressed = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    limits.check(meta.num_rows, uncompressed)


def ingest(
    src: Path,
    fmt: str,
    out: Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    limits: Limits = NO_LIMITS,
    profile_max_rows: int | None = None,
    whole_file_max_bytes: int = 0,
) -> IngestResult:
    """Validate `src` and write its rows to Parquet at `out`, refusing files that decode beyond `limits`.

    With `profile_max_rows`, the column profile is computed from the row groups as they are written (no second
    read of the Parquet copy) and returned in `IngestResult.profile` when the file has at most that many rows.
    A CSV/TSV file of at most `whole_file_max_bytes` is read whole by pyarrow's multi-threaded reader and
    profiled from the table in memory (several times the file's size); larger ones stream block by block."""
    profiler = StreamProfiler(max_rows=profile_max_rows) if profile_max_rows is not None else None
    on_table = _profiling(profiler.add) if profiler is not None else None
    if src.stat().st_size == 0:
        raise IngestError("The file is empty.")
    encoding = encoding or "utf8"
    _check_encoding(encoding)
    try:
        if fmt in ("csv", "tsv"):
            delimiter = sep or ("\t" if fmt == "tsv" else ",")
            if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '\r\n"\x00':
                raise IngestError("`sep` must be a single ASCII character other than a quote or a line break.")
            if src.stat().st_size <= whole_file_max_bytes:
                rows, schema, whole_profile = _ingest_csv_whole(src, out, delimiter, encoding, limits, profile_max_rows)
                return IngestResult(
                    row_count=rows,
                    columns=[{"name": f.name, "dtype": str(f.type)} for f in schema],
                    profile=whole_profile,
                )
            rows, schema = _ingest_csv(src, out, delimiter, encoding, limits, profiler)
        elif fmt == "jsonl":
            reader = pajson.open_json(src, read_options=pajson.ReadOptions(block_size=JSON_BLOCK_SIZE))
            _check_column_names(reader.schema.names)
            rows, schema = _write_batches(reader, out, check_utf8=True, limits=limits, on_table=on_table)
        elif fmt == "parquet":
            pfile = parquet_for_batches(src)
            _check_column_names(pfile.schema_arrow.names)
            _check_parquet_metadata(pfile, limits)
            batches = pfile.iter_batches(batch_size=PARQUET_BATCH_ROWS)
            rows, schema = _write_batches(batches, out, check_utf8=True, limits=limits, on_table=on_table)
        else:
            raise IngestError(f"Unsupported format {fmt!r}.")
        profile = (
            _profiling(profiler.finish)(schema, out) if profiler is not None and rows <= profiler.max_rows else None
        )
    except IngestError:
        out.unlink(missing_ok=True)
        raise
    except (pa.ArrowException, OSError, UnicodeError) as exc:
        out.unlink(missing_ok=True)
        raise IngestError(_arrow_error_message(exc, fmt)) from None
    return IngestResult(
        row_count=rows, columns=[{"name": f.name, "dtype": str(f.type)} for f in schema], profile=profile
    )


def _scalar(value: pa.Scalar) -> Any:
    py = value.as_py()
    if isinstance(py, float) and py != py:  # NaN
        return None
    if hasattr(py, "isoformat"):
        return py.isoformat()
    if isinstance(py, bytes):
        return py.hex()[:64]
    return py


def _distinct(column: pa.ChunkedArray) -> int:
    """Distinct non-null values: `unique` is a plain hash pass, several times cheaper than `count_distinct`'s
    hash aggregation on near-unique columns."""
    return len(pc.unique(column)) - (1 if column.null_count else 0)


# An integer column whose values span at most this many times its length (plus a constant) is counted with
# numpy's bincount (one array of counts) instead of a hash table: ids, ratings, flags and timestamps in seconds
# over a short window, the common cases, cost a tenth of a hash pass. The array is 8 bytes per value of the span.
BINCOUNT_SPAN_FACTOR = 4
BINCOUNT_SPAN_EXTRA = 1 << 16
# Top values by bincount settle ties by first appearance with one scan per tied candidate; more candidates than
# this go to value_counts instead.
BINCOUNT_MAX_CANDIDATES = 32


def _int_counts(column: pa.ChunkedArray, lo: int, hi: int) -> tuple[int, list[dict[str, Any]] | None] | None:
    """(distinct count, top values or None when every value is unique) of an integer column without nulls
    dropped yet, or None where the span is too wide for a count array or the tie-break too costly."""
    valid = len(column) - column.null_count
    span = hi - lo + 1
    if span > BINCOUNT_SPAN_FACTOR * valid + BINCOUNT_SPAN_EXTRA:
        return None
    values = (column.drop_null() if column.null_count else column).to_numpy()
    # Widened first: int8 values minus their minimum can overflow int8. The span is small, so int64 holds it.
    wide = values.astype(np.uint64 if values.dtype == np.uint64 else np.int64, copy=False)
    offsets = (wide - wide.dtype.type(lo)).astype(np.intp, copy=False)
    counts = np.bincount(offsets, minlength=span)
    distinct = int(np.count_nonzero(counts))
    if distinct == valid:
        return distinct, None
    k = min(TOP_VALUES, distinct)
    kth = int(np.partition(counts, span - k)[span - k])
    candidates = np.flatnonzero(counts >= kth)
    if len(candidates) > BINCOUNT_MAX_CANDIDATES:
        return None
    # value_counts lists values in the order first seen and a stable sort keeps that order among equal counts.
    first_seen = [int(np.argmax(offsets == c)) for c in candidates]
    order = sorted(range(len(candidates)), key=lambda i: (-int(counts[candidates[i]]), first_seen[i]))[:TOP_VALUES]
    top = [{"value": int(candidates[i]) + lo, "count": int(counts[candidates[i]])} for i in order]
    return distinct, top


def profile_column(name: str, column: pa.ChunkedArray) -> dict[str, Any]:
    dtype = column.type
    valid = len(column) - column.null_count
    stats: dict[str, Any] = {"name": name, "dtype": str(dtype), "null_count": column.null_count}
    counted = _counted(dtype)
    top: list[dict[str, Any]] | None = None
    value_counts: pa.StructArray | None = None
    minmax = pc.min_max(column) if valid and (pa.types.is_integer(dtype) or pa.types.is_floating(dtype)) else None
    if pa.types.is_null(dtype) or not valid:  # e.g. a CSV column with no values at all
        distinct: int | None = 0
    elif pa.types.is_integer(dtype) and (fast := _int_counts(column, minmax["min"].as_py(), minmax["max"].as_py())):
        distinct, top = fast
    elif counted:
        # One value_counts gives both the distinct count and the top values.
        value_counts = pc.value_counts(column.drop_null() if column.null_count else column)
        distinct = len(value_counts)
    else:
        try:
            distinct = _distinct(column)
        except pa.ArrowNotImplementedError:  # nested values (lists, structs) have no distinct count
            distinct = None
    stats["distinct_count"] = distinct
    if valid == 0:
        return stats
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        minmax = minmax if minmax is not None else pc.min_max(column)
        stats.update(
            min=_scalar(minmax["min"]),
            max=_scalar(minmax["max"]),
            mean=_scalar(pc.mean(column)),
            std=_scalar(pc.stddev(column)),
        )
    elif pa.types.is_temporal(dtype):
        minmax = pc.min_max(column)
        stats.update(min=_scalar(minmax["min"]), max=_scalar(minmax["max"]))
    elif pa.types.is_boolean(dtype):
        stats.update(true_count=pc.sum(column.cast(pa.int64())).as_py())
    if counted:
        if (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)) and value_counts is not None:
            # Lengths of the distinct values, weighted by their counts: one pass over a few values, not every row.
            lengths = pc.utf8_length(value_counts.field("values"))
            mm = pc.min_max(lengths)
            total = int(np.dot(lengths.to_numpy(), value_counts.field("counts").to_numpy()))
            stats.update(min_length=_scalar(mm["min"]), max_length=_scalar(mm["max"]), mean_length=total / valid)
        # Top values only say something for columns that repeat.
        if distinct is not None and distinct < valid:
            if top is None:
                assert value_counts is not None
                order = pc.array_sort_indices(value_counts.field("counts"), order="descending")
                best = value_counts.take(order[:TOP_VALUES])
                top = [{"value": _scalar(v["values"]), "count": v["counts"].as_py()} for v in best]
            stats["top_values"] = top
    return stats


def _profile_nested(path: Path, name: str) -> dict[str, Any]:
    """What profile_column says of a list or struct column (type, nulls; no distinct count), read in batches: a
    list column such as a 20-item behaviour sequence is many times the size of a plain one."""
    pfile = parquet_for_batches(path)
    nulls = sum(batch.column(0).null_count for batch in pfile.iter_batches(batch_size=ROW_GROUP_ROWS, columns=[name]))
    return {
        "name": name,
        "dtype": str(pfile.schema_arrow.field(name).type),
        "null_count": nulls,
        "distinct_count": None if pfile.metadata.num_rows else 0,
    }


def profile_parquet(path: Path) -> list[dict[str, Any]]:
    """Profile every column, reading one column at a time so memory holds a single column."""
    schema = pq.ParquetFile(path).schema_arrow
    names = schema.names

    def one(name: str) -> dict[str, Any]:
        if pa.types.is_nested(schema.field(name).type):
            return _profile_nested(path, name)
        return profile_column(name, pq.ParquetFile(path).read(columns=[name]).column(0))

    # pyarrow's kernels release the GIL, so columns profile side by side on all cores.
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(names)))) as pool:
        return list(pool.map(one, names))


def _sql_kind(dtype: pa.DataType) -> str | None:
    """How DuckDB profiles a column of this type (None: pyarrow does). Time zones, nanoseconds and decimals stay
    with pyarrow, whose Python values the profile has always shown."""
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_floating(dtype) and not pa.types.is_float16(dtype):
        return "float"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if (pa.types.is_timestamp(dtype) and dtype.tz is None and dtype.unit != "ns") or pa.types.is_date32(dtype):
        return "temporal"
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_profiles(path: Path, fields: list[pa.Field], rows: int, limits: SqlLimits) -> dict[str, dict[str, Any]]:
    """Profiles of plain columns from DuckDB queries over the file: one scan for counts, extremes, moments and
    lengths, then per column one hash aggregate for the exact distinct count (and, for counted types, the top
    values, ties to the value seen first as value_counts orders them). DuckDB spills past its memory limit, so a
    near-unique column of any length costs bounded memory. (DuckDB counts -0.0 and 0.0 as one float value.)"""
    import duckdb  # the transform engine's; imported here so that uploads need not load it

    config: dict[str, Any] = {"preserve_insertion_order": False}
    if limits.memory_limit:
        config["memory_limit"] = limits.memory_limit
    if limits.threads:
        config["threads"] = limits.threads
    # A spill folder of its own: DuckDB's temp file names are not unique across processes sharing a directory.
    spill = Path(limits.temp_dir or tempfile.gettempdir()) / f"duckdb-profile-{uuid.uuid4().hex[:12]}"
    config["temp_directory"] = str(spill)
    con = duckdb.connect(":memory:", config=config)
    try:
        source = "read_parquet('" + str(path).replace("'", "''") + "', file_row_number = true)"
        select = ["count(*)"]
        for f in fields:
            c, kind = _q(f.name), _sql_kind(f.type)
            select.append(f"count({c})")
            if kind in ("integer", "temporal"):
                select += [f"min({c})", f"max({c})"]
            if kind in ("integer", "float"):
                select += [f"avg({c})::DOUBLE", f"stddev_pop({c})::DOUBLE"]
            elif kind == "string":
                select += [f"min(length({c}))", f"max(length({c}))", f"avg(length({c}))::DOUBLE"]
            elif kind == "boolean":
                select.append(f"sum({c}::BIGINT)")
        values = iter(con.sql(f"SELECT {', '.join(select)} FROM {source}").fetchall()[0])
        next(values)
        out: dict[str, dict[str, Any]] = {}
        for f in fields:
            c, kind = _q(f.name), _sql_kind(f.type)
            valid = int(next(values))
            stats: dict[str, Any] = {"name": f.name, "dtype": str(f.type), "null_count": rows - valid}
            extra: dict[str, Any] = {}
            if kind in ("integer", "temporal"):
                extra.update(min=_py(next(values)), max=_py(next(values)))
            elif kind == "float" and valid:
                # pyarrow's min and max leave NaN out. A WHERE clause, not FILTER or CASE: DuckDB 2.0's optimizer
                # let NaN through those when min and max of one column share a query.
                low, high = con.sql(f"SELECT min({c}), max({c}) FROM {source} WHERE NOT isnan({c})").fetchall()[0]
                extra.update(min=_py(low), max=_py(high))
            if kind in ("integer", "float"):
                extra.update(mean=_py(next(values)), std=_py(next(values)))
            elif kind == "string":
                extra.update(min_length=_py(next(values)), max_length=_py(next(values)), mean_length=next(values))
            elif kind == "boolean":
                extra.update(true_count=int(next(values) or 0))
            top: list[dict[str, Any]] | None = None
            if valid == 0:
                stats["distinct_count"] = 0
            elif kind in ("integer", "string", "boolean"):
                # One hash aggregate (it spills) folded into a count and the top values: max_by keeps the 5
                # largest keys of count, then first row seen (the window of all groups it replaces held them all).
                key = "count(*) * 4294967296 + (4294967295 - min(file_row_number))"
                distinct, tops, counts = con.sql(
                    f"SELECT count(*), max_by(v, k, {TOP_VALUES}), max_by(n, k, {TOP_VALUES}) FROM (SELECT {c} AS v, "
                    f"count(*) AS n, {key} AS k FROM {source} WHERE {c} IS NOT NULL GROUP BY {c})"
                ).fetchall()[0]
                stats["distinct_count"] = int(distinct)
                if stats["distinct_count"] < valid:  # top values only say something for columns that repeat
                    top = [{"value": _py(v), "count": int(n)} for v, n in zip(tops, counts, strict=True)]
            else:
                stats["distinct_count"] = int(con.sql(f"SELECT count(DISTINCT {c}) FROM {source}").fetchall()[0][0])
            if valid:
                stats.update(extra)
                if top is not None:
                    stats["top_values"] = top
            out[f.name] = stats
        return out
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _py(value: Any) -> Any:
    """A DuckDB result value as `_scalar` shows a pyarrow one."""
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class SqlLimits:
    """DuckDB's memory limit (None: its default), threads (0: all cores) and spill directory for a profile."""

    memory_limit: str | None = None
    threads: int = 0
    temp_dir: Path | None = None


def profile_parquet_sql(
    path: Path, columns: list[str] | None = None, limits: SqlLimits | None = None
) -> list[dict[str, Any]]:
    """What `profile_parquet` gives (of `columns`, default all), with memory bounded by a DuckDB memory limit
    rather than by the column: plain columns (numbers, text, booleans, naive timestamps, dates) are profiled by
    DuckDB queries over the file, other types as `profile_parquet_streamed` does. How derived versions and large
    uploads are profiled."""
    pfile = pq.ParquetFile(path)
    schema = pfile.schema_arrow
    names = columns if columns is not None else schema.names
    fields = [schema.field(name) for name in names]
    plain = [f for f in fields if _sql_kind(f.type) is not None]
    try:
        done = _sql_profiles(path, plain, pfile.metadata.num_rows, limits or SqlLimits()) if plain else {}
        rest = [f.name for f in fields if f.name not in done]
        if rest:
            done |= {c["name"]: c for c in profile_parquet_streamed(path, rest)}
        return [done[name] for name in names]
    finally:
        release_memory()


def profile_parquet_streamed(path: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """What `profile_parquet` gives (of `columns`, default all), read in batches of a row group (memory holds a
    batch and the per-column tallies, never a whole column): how derived versions and large uploads are profiled."""
    pfile = parquet_for_batches(path)
    schema = pfile.schema_arrow
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    profiler = StreamProfiler(max_rows=pfile.metadata.num_rows)
    streamed = [f.name for f in schema if _streamable(f.type)]
    if streamed:
        for batch in pfile.iter_batches(batch_size=ROW_GROUP_ROWS, columns=streamed):
            profiler.add(pa.Table.from_batches([batch]))
    else:
        profiler.rows = pfile.metadata.num_rows
    try:
        return profiler.finish(schema, path)
    finally:
        del profiler
        release_memory()


def release_memory() -> None:
    """Hand freed memory back to the OS, so a long-lived worker's RSS returns to its base after a profile (Arrow's
    allocator and glibc keep freed pages for reuse otherwise, and the next job's peak starts from there)."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _streamable(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_null(dtype)
        or _counted(dtype)
        or pa.types.is_floating(dtype)
        or (pa.types.is_temporal(dtype) and not pa.types.is_interval(dtype))
    )


def _counted(dtype: pa.DataType) -> bool:
    """Types whose profile has top values (and so needs every value's count)."""
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_integer(dtype)
        or pa.types.is_boolean(dtype)
    )


class _ColumnState:
    """What `profile_column` needs of one column, gathered chunk by chunk: exact counts, distinct values (with
    their counts where top values are shown), partial min/max, and (count, mean, M2) for the mean and std."""

    def __init__(self, name: str, dtype: pa.DataType) -> None:
        self.name, self.dtype = name, dtype
        self.rows = self.nulls = 0
        self.values: list[pa.Array] = []  # distinct values per chunk
        self.counts: list[pa.Array] = []  # their counts (counted types only)
        self.extremes: list[pa.Scalar] = []
        self.moments: list[tuple[int, float, float]] = []
        self.length_extremes: list[pa.Scalar] = []
        self.length_sum = 0
        self.true_count = 0

    def add(self, column: pa.ChunkedArray) -> None:
        self.rows += len(column)
        self.nulls += column.null_count
        valid = len(column) - column.null_count
        dtype = self.dtype
        if valid == 0 or pa.types.is_null(dtype):
            return
        if _counted(dtype):
            vc = pc.value_counts(column.drop_null() if column.null_count else column)
            self.values.append(vc.field("values"))
            self.counts.append(vc.field("counts"))
        else:
            self.values.append(pc.unique(column))
        if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_temporal(dtype):
            minmax = pc.min_max(column)
            self.extremes += [minmax["min"], minmax["max"]]
        if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
            mean = pc.mean(column).as_py()
            self.moments.append((valid, mean, (pc.variance(column).as_py() or 0.0) * valid))
        if pa.types.is_boolean(dtype):
            self.true_count += pc.sum(column.cast(pa.int64())).as_py() or 0
        if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
            lengths = pc.utf8_length(column)
            mm = pc.min_max(lengths)
            self.length_extremes += [mm["min"], mm["max"]]
            self.length_sum += pc.sum(lengths).as_py() or 0

    def finish(self) -> dict[str, Any]:
        dtype = self.dtype
        valid = self.rows - self.nulls
        if pa.types.is_null(dtype) or not self.rows or not self.values:
            distinct = 0
        elif _counted(dtype):
            if len(self.values) == 1:
                uniques, totals = self.values[0], self.counts[0].to_numpy()
            else:
                values = pa.chunked_array(self.values, type=dtype)
                # unique() keeps first-seen order, as one value_counts over the whole column would: ties among
                # the top values break the same way.
                uniques = pc.unique(values)
                totals = None
                if len(uniques) < valid:  # top values are shown: add up each value's counts
                    group = pc.index_in(values, value_set=uniques).to_numpy()
                    weights = pa.chunked_array(self.counts).to_numpy()
                    totals = np.bincount(group, weights=weights, minlength=len(uniques)).astype(np.int64)
            distinct = len(uniques)
        else:
            distinct = _distinct(pa.chunked_array(self.values, type=dtype))
        stats: dict[str, Any] = {
            "name": self.name,
            "dtype": str(dtype),
            "null_count": self.nulls,
            "distinct_count": distinct,
        }
        if valid == 0:
            return stats
        if self.extremes:
            minmax = pc.min_max(pa.array(self.extremes, type=dtype))
            stats.update(min=_scalar(minmax["min"]), max=_scalar(minmax["max"]))
        if self.moments:
            stats.update(_merge_moments(self.moments))
        if pa.types.is_boolean(dtype):
            stats.update(true_count=self.true_count)
        if _counted(dtype):
            if self.length_extremes:
                mm = pc.min_max(pa.array(self.length_extremes))
                stats.update(
                    min_length=_scalar(mm["min"]), max_length=_scalar(mm["max"]), mean_length=self.length_sum / valid
                )
            if distinct < valid and totals is not None:
                order = pc.array_sort_indices(pa.array(totals), order="descending")[:TOP_VALUES].to_numpy()
                stats["top_values"] = [{"value": _scalar(uniques[int(i)]), "count": int(totals[i])} for i in order]
        return stats


def _merge_moments(parts: list[tuple[int, float, float]]) -> dict[str, Any]:
    """Mean and population std from per-chunk (count, mean, M2), merged as Chan et al.; NaN gives None."""
    n, mean, m2 = parts[0]
    for nb, mb, m2b in parts[1:]:
        total = n + nb
        delta = mb - mean
        mean += delta * nb / total
        m2 += m2b + delta * delta * n * nb / total
        n = total
    std = (m2 / n) ** 0.5 if m2 >= 0 else float("nan")
    return {"mean": None if mean != mean else mean, "std": None if std != std else std}


class StreamProfiler:
    """The profile `profile_parquet` gives, computed from the tables as they are written.

    Column types it cannot merge chunk by chunk (decimals, nested, binary) are profiled from the written file at
    the end, one column at a time as before. Past `max_rows` rows it stops collecting: the caller profiles later."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.reset()

    def reset(self) -> None:
        self.rows = 0
        self.states: dict[str, _ColumnState] | None = None

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.rows > self.max_rows:
            self.states = {}
            return
        if self.states is None:
            self.states = {f.name: _ColumnState(f.name, f.type) for f in table.schema if _streamable(f.type)}
        for name, state in self.states.items():
            state.add(table.column(name))

    def finish(self, schema: pa.Schema, written: Path) -> list[dict[str, Any]]:
        states = self.states or {}

        def one(field: pa.Field) -> dict[str, Any]:
            if field.name in states:
                return states[field.name].finish()
            if self.rows == 0 and _streamable(field.type):
                return _ColumnState(field.name, field.type).finish()
            if pa.types.is_nested(field.type):  # a list column is many times a plain one: read it in batches
                return _profile_nested(written, field.name)
            return profile_column(field.name, pq.ParquetFile(written).read(columns=[field.name]).column(0))

        # pyarrow's kernels release the GIL, so columns finish side by side.
        with ThreadPoolExecutor(max_workers=min(4, max(1, len(schema)))) as pool:
            return list(pool.map(one, schema))


def read_rows(path: Path, offset: int, limit: int, columns: list[str] | None = None) -> tuple[int, pa.Table]:
    """Rows [offset, offset+limit) read from only the row groups that hold them."""
    pfile = pq.ParquetFile(path)
    total = pfile.metadata.num_rows
    if offset >= total or limit <= 0:
        return total, pa.table(
            {n: pa.array([], type=pfile.schema_arrow.field(n).type) for n in (columns or pfile.schema_arrow.names)}
        )
    groups: list[int] = []
    start_row = 0
    first_group_start = None
    for i in range(pfile.num_row_groups):
        n = pfile.metadata.row_group(i).num_rows
        if start_row + n > offset and start_row < offset + limit:
            groups.append(i)
            if first_group_start is None:
                first_group_start = start_row
        start_row += n
    table = pfile.read_row_groups(groups, columns=columns)
    return total, table.slice(offset - (first_group_start or 0), limit)
