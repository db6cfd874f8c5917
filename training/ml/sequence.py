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

Two poolings (`FeatureSpec.list_pooling`, `HeadConfig.list_pooling`):
- "mean" (the first one, and what artifacts without the setting hold): hashed slots of a table of
  its own, mean-pooled. The history's table learns only from the list field, apart from the item
  embeddings, and on a time split it gave no lift on ml-100k.
- "attention" (DIN-style target attention; needs an item column): the ids are looked up in the
  item column's vocabulary (fitted on train; an item unseen in training is padding, so nothing
  learned after the training cut leaks in) and embedded with the SAME table the model uses for the
  candidate item. `TargetAttention` weighs each history item by a small MLP over [h, c, h*c, h-c]
  of its embedding h and the candidate's c (padding masked, softmax), projects the weighted sum to
  one field vector, and adds the cosine of the mean history embedding with c (the user's affinity
  to the candidate) as a first-order term. The field depends on the candidate, so serving computes
  it per (user, candidate) pair with this same module.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F
from torch import nn

from training.ml.features import SpecError, _as_strings

DEFAULT_BUCKETS = 100_003
DEFAULT_MAX_LEN = 50
PAD = 0
POOLINGS = ("mean", "attention")


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


def encode_lists(
    column: pa.ChunkedArray | pa.Array,
    *,
    name: str,
    buckets: int,
    max_len: int,
    vocabulary: Mapping[str, int] | None = None,
) -> np.ndarray:
    """int64 [rows, max_len]: each row's last `max_len` ids as slots, left-aligned, 0-padded.

    With `vocabulary` (id string -> categorical id, as `item_vocabulary` gives) an id's slot is its
    categorical id, and an id outside it is padding; otherwise its hash."""
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
    if vocabulary is not None:
        slot_of = vocabulary.get

        def lookup(v: str) -> int:
            return slot_of(v, PAD)
    else:

        def lookup(v: str) -> int:
            return hash_key(v, buckets)

    flat = np.fromiter(
        (PAD if v is None else slots.setdefault(v, lookup(v)) for v in values),
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


def encode_list_value(
    value: Any, *, buckets: int, max_len: int, key: Any, vocabulary: Mapping[str, int] | None = None
) -> list[int]:
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
        if k is None:
            out.append(PAD)
        elif vocabulary is not None:
            out.append(vocabulary.get(k, PAD))
        else:
            out.append(hash_key(k, buckets))
    return out


def item_vocabulary(vocabulary: Sequence[str]) -> dict[str, int]:
    """The item column's fitted vocabulary as id string -> categorical id (1..; 0 is unknown)."""
    return {v: i + 1 for i, v in enumerate(vocabulary)}


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


class TargetAttention(nn.Module):
    """DIN-style attention of a history over a candidate, both embedded in one table.

    `forward(history [n, L, k], mask [n, L] bool, candidate [n, k])` -> (field [n, k], affinity
    [n]): the field is a projection of the history's attention-weighted sum (weights: softmax over
    the real positions of an MLP over [h, c, h*c, h-c]); affinity is the cosine of the history's
    mean with the candidate (0 for an empty history). In training, each history item is dropped
    with probability `dropout` (at least one kept), so the list does not overfit the users it saw.
    """

    def __init__(self, dim: int, units: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = dropout
        self.score = nn.Sequential(nn.Linear(4 * dim, units), nn.ReLU(), nn.Linear(units, 1))
        self.proj = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.proj.weight)

    def forward(
        self, history: torch.Tensor, mask: torch.Tensor, candidate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and self.dropout > 0:
            keep = torch.rand(mask.shape, device=mask.device) >= self.dropout
            mask = mask & (keep | ~(mask & keep).any(dim=1, keepdim=True))
        c = candidate.unsqueeze(1).expand_as(history)
        logits = self.score(torch.cat([history, c, history * c, history - c], dim=-1)).squeeze(-1)
        logits = logits.float().masked_fill(~mask, -1e9)
        any_real = mask.any(dim=1, keepdim=True)
        weights = torch.softmax(logits, dim=1) * any_real  # an empty history pools to zero
        pooled = (weights.unsqueeze(-1).to(history.dtype) * history).sum(dim=1)
        m = mask.unsqueeze(-1).to(history.dtype)
        mean = (history * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        affinity = F.cosine_similarity(mean, candidate, dim=-1, eps=1e-6) * any_real.squeeze(1)
        return self.proj(pooled), affinity
