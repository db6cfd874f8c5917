"""List columns as features: a behaviour sequence (each user's last N item ids before the
interaction, as the `sequence` transform writes it) pooled into one field of the model.

A list column holds, per row, a list of item ids (integers or strings; categories work the same
way). Each id is hashed into one of `buckets - 1` slots of an embedding table (slot 0 pads), and
the field vector is the mean of the row's slot embeddings (zero for an empty or missing list).
Hashing needs no vocabulary, so an id never seen in training still lands in a slot, and the
table's size is fixed by `buckets` whatever the catalogue.

Only the last `max_len` ids of a list are kept (a sequence is oldest first, so the most recent).
The same encoding runs at training (`encode_lists` on Arrow columns) and in serving
(`encode_list_value` on a request's JSON list), so offline and online scores agree.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from training.ml.features import SpecError, _as_strings

DEFAULT_BUCKETS = 100_003
DEFAULT_MAX_LEN = 50
PAD = 0


def check_list_type(name: str, typ: pa.DataType) -> None:
    """SpecError unless `typ` is a list of ids (integers or strings) that training can pool; a
    column of nulls only (every list missing) passes and pools to nothing."""
    if pa.types.is_null(typ):
        return
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ)):
        raise SpecError(
            f"list column '{name}' has type {typ}; a list feature needs a column of lists of item ids "
            "(e.g. the sequence transform's output)"
        )
    inner = typ.value_type
    if pa.types.is_dictionary(inner):
        inner = inner.value_type
    ok = pa.types.is_integer(inner) or pa.types.is_string(inner) or pa.types.is_large_string(inner)
    if not (ok or pa.types.is_null(inner)):  # null: only empty or missing lists
        raise SpecError(
            f"list column '{name}' holds {inner} values; training takes lists of ids (integers or strings), "
            "not nested lists, structs, floats or other types"
        )


def hash_key(key: str, buckets: int) -> int:
    """The embedding slot (1..buckets-1) of one id's string form; stable across processes."""
    return zlib.crc32(key.encode("utf-8")) % (buckets - 1) + 1


def encode_lists(column: pa.ChunkedArray | pa.Array, *, name: str, buckets: int, max_len: int) -> np.ndarray:
    """int64 [rows, max_len]: each row's last `max_len` ids as slots, left-aligned, 0-padded."""
    check_list_type(name, column.type)
    n = len(column)
    if pa.types.is_null(column.type):
        return np.zeros((n, max_len), dtype=np.int64)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_fixed_size_list(column.type):
        column = column.cast(pa.list_(column.type.value_type))
    out = np.zeros((n, max_len), dtype=np.int64)
    if n == 0:
        return out
    offsets = column.offsets.to_numpy()  # a null list has equal offsets: an empty list
    values = _as_strings(column.values).to_pylist()
    slots: dict[str, int] = {}
    flat = np.fromiter(
        (PAD if v is None else slots.setdefault(v, hash_key(v, buckets)) for v in values),
        dtype=np.int64,
        count=len(values),
    )
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    for r in range(n):
        if not valid[r]:
            continue
        start, end = int(offsets[r]), int(offsets[r + 1])
        start = max(start, end - max_len)
        out[r, : end - start] = flat[start:end]
    return out


def encode_list_value(value: Any, *, buckets: int, max_len: int, key: Any) -> list[int]:
    """One request value (a JSON list of ids, or null) as slots, as `encode_lists` does; `key`
    turns an id into its string form (serving.encoding.value_key). ValueError if not a list."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of item ids, got {type(value).__name__}")
    out = []
    for v in value[-max_len:] if max_len else []:
        if isinstance(v, (list, tuple, dict)):
            raise ValueError("expected a list of item ids (strings or integers), got a nested value")
        k = key(v)
        out.append(PAD if k is None else hash_key(k, buckets))
    return out


def pad_rows(rows: Sequence[Sequence[int]], max_len: int) -> np.ndarray:
    out = np.zeros((len(rows), max_len), dtype=np.int64)
    for r, slots in enumerate(rows):
        out[r, : len(slots)] = slots
    return out


class ListPooling(nn.Module):
    """Mean of the slot embeddings of each row's ids, [n, L] -> [n, k]; padding contributes nothing."""

    def __init__(self, buckets: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(buckets, dim, padding_idx=PAD)
        nn.init.normal_(self.embedding.weight, std=0.01)
        with torch.no_grad():
            self.embedding.weight[PAD].zero_()

    def forward(self, slots: torch.Tensor) -> torch.Tensor:
        mask = (slots != PAD).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(slots) * mask).sum(dim=1)
        return summed / mask.sum(dim=1).clamp(min=1.0)
