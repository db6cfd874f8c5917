"""Encoded splits on the compute device, and epochs of batches planned on the host.

The whole split lives on the device as tensors (ids, numerics, text pool positions, labels). An
epoch's batch order, and each batch's unique texts with the inverse index, are computed on the
host with numpy and uploaded once, so a step only slices device tensors: no per-step
tokenization, no per-step host-to-device copies, no device syncs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from training.ml.features import FeatureSpec
from training.ml.text import TextPool
from training.ml.wide import WideSpec


@dataclass
class EncodedSplit:
    categorical: np.ndarray  # int64 [n, C]
    numeric: np.ndarray  # float32 [n, N]
    text_ids: np.ndarray  # int64 [n, T], positions in the text pool
    labels: np.ndarray  # float32 [n]
    lists: np.ndarray | None = None  # int64 [n, L, max_len] hashed list slots; None without list columns
    wide: np.ndarray | None = None  # int32 [n, L] wide bucket ids (0 = padding); None: no wide part

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: np.ndarray) -> EncodedSplit:
        """The split's rows at positions `rows` (itself when that is every row, in order)."""
        if len(rows) == len(self) and np.array_equal(rows, np.arange(len(self))):
            return self
        return EncodedSplit(
            categorical=self.categorical[rows],
            numeric=self.numeric[rows],
            text_ids=self.text_ids[rows],
            labels=self.labels[rows],
            lists=None if self.lists is None else self.lists[rows],
            wide=None if self.wide is None else self.wide[rows],
        )


def concat_splits(first: EncodedSplit, second: EncodedSplit) -> EncodedSplit:
    """The rows of `first` then `second` (encoded with the same spec, text pool and wide spec). Wide
    ids are padded with 0 to the wider of the two."""
    wide = None
    if first.wide is not None and second.wide is not None:
        width = max(first.wide.shape[1], second.wide.shape[1])
        padded = [np.pad(w, ((0, 0), (0, width - w.shape[1]))) for w in (first.wide, second.wide)]
        wide = np.concatenate(padded)
    return EncodedSplit(
        categorical=np.concatenate([first.categorical, second.categorical]),
        numeric=np.concatenate([first.numeric, second.numeric]),
        text_ids=np.concatenate([first.text_ids, second.text_ids]),
        labels=np.concatenate([first.labels, second.labels]),
        lists=None if first.lists is None else np.concatenate([first.lists, second.lists]),
        wide=wide,
    )


def encode_split(
    spec: FeatureSpec,
    table: pa.Table,
    pool: TextPool,
    *,
    with_labels: bool = True,
    wide: WideSpec | None = None,
) -> EncodedSplit:
    n = table.num_rows
    text_cols = spec.text_values(table)
    text_ids = np.zeros((n, len(text_cols)), dtype=np.int64)
    for j, values in enumerate(text_cols):
        text_ids[:, j] = pool.ids_for(values)
    labels = spec.labels(table) if with_labels else np.zeros(n, dtype=np.float32)
    lists = spec.list_slots(table) if spec.list_columns else None
    wide_ids = wide.ids(table) if wide is not None else None
    return EncodedSplit(
        spec.categorical_ids(table), spec.numeric_values(table), text_ids, labels, lists=lists, wide=wide_ids
    )


class DeviceSplit:
    def __init__(self, split: EncodedSplit, device: torch.device) -> None:
        self.host = split
        self.categorical = torch.from_numpy(split.categorical).to(device)
        self.numeric = torch.from_numpy(split.numeric).to(device)
        self.text_ids = torch.from_numpy(split.text_ids).to(device)
        self.labels = torch.from_numpy(split.labels).to(device)
        self.lists = None if split.lists is None else torch.from_numpy(split.lists).to(device)
        self.wide = None if split.wide is None else torch.from_numpy(split.wide).to(device)
        self.device = device

    def __len__(self) -> int:
        return len(self.host)


@dataclass
class Batch:
    rows: torch.Tensor  # row positions in the split, on the device
    unique_texts: np.ndarray | None  # pool positions of the batch's distinct texts (host)
    unique_texts_device: torch.Tensor | None
    text_index: torch.Tensor | None  # [b, T] positions into unique_texts, on the device


class EpochPlan:
    """The batches of one epoch in a seeded order; `dedupe_texts` adds per-batch unique texts."""

    def __init__(
        self,
        split: DeviceSplit,
        *,
        batch_size: int,
        seed: int,
        epoch: int,
        dedupe_texts: bool,
    ) -> None:
        host = split.host
        n = len(host)
        order = np.random.default_rng([seed, epoch]).permutation(n)
        self.bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
        device = split.device
        self.rows = torch.from_numpy(order).to(device)
        self.dedupe = dedupe_texts and host.text_ids.shape[1] > 0
        if self.dedupe:
            uniques, inverses, offsets = [], [], [0]
            for s, e in self.bounds:
                ids = host.text_ids[order[s:e]]
                uniq, inv = np.unique(ids, return_inverse=True)
                uniques.append(uniq)
                inverses.append(inv.reshape(ids.shape))
                offsets.append(offsets[-1] + len(uniq))
            self.unique_host = np.concatenate(uniques)
            self.unique_offsets = offsets
            self.unique_device = torch.from_numpy(self.unique_host).to(device)
            self.inverse_device = torch.from_numpy(np.concatenate(inverses)).to(device)

    def __len__(self) -> int:
        return len(self.bounds)

    def batch(self, i: int) -> Batch:
        s, e = self.bounds[i]
        rows = self.rows[s:e]
        if not self.dedupe:
            return Batch(rows, None, None, None)
        a, b = self.unique_offsets[i], self.unique_offsets[i + 1]
        return Batch(rows, self.unique_host[a:b], self.unique_device[a:b], self.inverse_device[s:e])
