"""Readers that go through a stored Parquet file batch by batch (transforms, download, profiles, quality checks,
PII samples, batch scoring) hold about one row group at a time, whatever the file's size: pyarrow's default
pre-buffering kept every row group read until the reader was done (900 MiB of Arrow memory at 10M rows, and a
50M-row time split peaked at 7 GiB)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.parquet import parquet_for_batches
from governance.catalog import transforms


def _peak_while_reading(batches: Iterable[Any]) -> tuple[int, int]:
    base, peak, seen = pa.total_allocated_bytes(), 0, 0
    for batch in batches:
        seen += batch.num_rows
        del batch
        peak = max(peak, pa.total_allocated_bytes() - base)
    return peak, seen


READERS: dict[str, Callable[[Path, int], Iterable[Any]]] = {
    "parquet_for_batches": lambda path, rows: parquet_for_batches(path).iter_batches(batch_size=rows),
    "transform input": lambda path, rows: transforms.Source.parquet(path).batches(rows),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_a_batch_reader_holds_about_one_row_group_not_the_whole_file(tmp_path: Path, reader: str) -> None:
    groups, rows = 40, 10_000
    table = pa.table({f"c{i}": pa.array(range(groups * rows), pa.int64()) for i in range(4)})
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path, row_group_size=rows, compression="none")
    size = path.stat().st_size
    peak, seen = _peak_while_reading(READERS[reader](path, rows))
    assert seen == groups * rows
    assert peak < size / 8, f"{peak} bytes held while reading a {size}-byte file"
    # What pyarrow's default does, so the test keeps meaning something if pyarrow's default changes.
    default_peak, _ = _peak_while_reading(pq.ParquetFile(path).iter_batches(batch_size=rows))
    assert default_peak > peak


def test_a_file_object_reads_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": list(range(25)), "b": [str(i) for i in range(25)]}), path, row_group_size=10)
    with path.open("rb") as fh:
        got = pa.Table.from_batches(list(parquet_for_batches(fh).iter_batches(batch_size=7)))
    assert got.equals(pq.read_table(path))
