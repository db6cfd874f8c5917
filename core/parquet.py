"""Parquet files read batch by batch, with memory bounded by about a row group, not by the file."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq


def parquet_for_batches(source: Any) -> pq.ParquetFile:
    """A ParquetFile to read with `iter_batches`. pyarrow (26) pre-buffers by default and keeps every row group it
    pre-buffered until the reader is done, so a batch reader's memory grows with the file; without pre-buffering
    it holds about one row group (and reads no slower on local disk)."""
    return pq.ParquetFile(source, pre_buffer=False)
