"""A version's rows as a file, encoded batch by batch while the Parquet copy is read, so a download of any size
holds one batch in memory. Hidden columns (catalog hooks) are replaced before a batch is encoded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from core.parquet import parquet_for_batches
from core.storage import open_stored
from governance.catalog.hooks import MASKED

FORMATS = {
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson", "jsonl"),
}
BATCH_ROWS = 8192


class _Chunks:
    """A write-only file that keeps what the encoder wrote until the generator hands it on."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def masked_schema(schema: pa.Schema, hidden: set[str]) -> pa.Schema:
    """Hidden columns become strings holding MASKED (nulls stay null: a missing value is no secret)."""
    return pa.schema(
        [pa.field(f.name, pa.string()) if f.name in hidden else f for f in schema], metadata=schema.metadata
    )


def _mask(batch: pa.RecordBatch, schema: pa.Schema, hidden: set[str]) -> pa.RecordBatch:
    if not hidden:
        return batch
    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if field.name in hidden:
            column = pc.if_else(pc.is_null(column), pa.scalar(None, pa.string()), pa.scalar(MASKED, pa.string()))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def stream_rows(parquet_name: str, fmt: str, hidden: set[str], batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """Yield the encoded file in pieces; the stored Parquet copy is opened through the storage backend (local
    disk or S3 alike) and read one batch at a time."""
    with open_stored(parquet_name) as fh:  # on S3, ranged GETs of the row groups as they are read
        pfile = parquet_for_batches(fh)
        hidden = hidden & set(pfile.schema_arrow.names)
        schema = masked_schema(pfile.schema_arrow, hidden)
        sink = _Chunks()
        writer: Any = None
        if fmt == "parquet":
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
        elif fmt == "csv":
            writer = pacsv.CSVWriter(sink, schema)
        for batch in pfile.iter_batches(batch_size=batch_rows):
            batch = _mask(batch, schema, hidden)
            if writer is not None:
                writer.write_batch(batch)
            else:
                lines = (json.dumps(row, ensure_ascii=False, default=_json_default) for row in batch.to_pylist())
                sink.write(("\n".join(lines) + "\n").encode() if batch.num_rows else b"")
            chunk = sink.drain()
            if chunk:
                yield chunk
        if writer is not None:
            writer.close()
        tail = sink.drain()
        if tail:
            yield tail
