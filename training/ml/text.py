"""Text columns: each distinct string is tokenized once and kept as padded id arrays.

Recommendation data repeats the same text on many rows (80,000 ml-100k ratings carry 1,682
titles), so rows hold an index into a pool of unique strings, the pool is tokenized once (cached
on disk by content, tokenizer and max length, so a repeated job skips it) and the encoder runs on
the unique strings of a batch, never once per row and never with per-step tokenization.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

_TOKENIZE_CHUNK = 10_000


class TextPool:
    """Distinct strings in first-seen order; rows refer to them by position."""

    def __init__(self, texts: list[str] | None = None) -> None:
        self.texts: list[str] = []
        self.index: dict[str, int] = {}
        for t in texts or []:
            self.add(t)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str) -> int:
        pos = self.index.get(text)
        if pos is None:
            pos = self.index[text] = len(self.texts)
            self.texts.append(text)
        return pos

    def ids_for(self, values: pa.ChunkedArray) -> np.ndarray:
        """Pool positions (int64) for a string column, adding unseen strings to the pool."""
        uniques = pc.unique(values)
        mapping = np.fromiter((self.add(t) for t in uniques.to_pylist()), np.int64, len(uniques))
        positions = pc.index_in(values, value_set=uniques).to_numpy(zero_copy_only=False)
        return mapping[positions.astype(np.int64)]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for t in self.texts:
            h.update(t.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()


@dataclass
class TokenizedTexts:
    """Right-padded token ids (int32 [n, width]) and true lengths (int32 [n])."""

    input_ids: np.ndarray
    lengths: np.ndarray
    pad_id: int

    def __len__(self) -> int:
        return len(self.lengths)


def tokenizer_id(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        # Truncation and padding settings change with each call; they are not the tokenizer.
        state.pop("truncation", None)
        state.pop("padding", None)
        body = json.dumps(state, sort_keys=True)
    else:
        body = json.dumps(tokenizer.get_vocab(), sort_keys=True)
    h = hashlib.sha256(type(tokenizer).__name__.encode() + body.encode("utf-8"))
    return h.hexdigest()[:24]


def tokenize_texts(
    texts: list[str], tokenizer, *, max_length: int, cache_dir: str | os.PathLike | None = None
) -> TokenizedTexts:
    """Tokenize each string once; reuse the cached result for the same texts and tokenizer."""
    cache_file = None
    if cache_dir is not None:
        key_src = f"{TextPool(texts).fingerprint()}|{tokenizer_id(tokenizer)}|{max_length}"
        key = hashlib.sha256(key_src.encode()).hexdigest()[:32]
        cache_file = Path(cache_dir) / f"tokens-{key}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as data:
                return TokenizedTexts(data["input_ids"], data["lengths"], int(data["pad_id"]))

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    seqs: list[list[int]] = []
    for start in range(0, len(texts), _TOKENIZE_CHUNK):
        chunk = texts[start : start + _TOKENIZE_CHUNK]
        enc = tokenizer(chunk, truncation=True, max_length=max_length, padding=False)
        seqs.extend(enc["input_ids"])
    lengths = np.array([len(s) for s in seqs], dtype=np.int32)
    width = int(lengths.max()) if len(seqs) else 1
    input_ids = np.full((len(seqs), max(width, 1)), pad_id, dtype=np.int32)
    for i, s in enumerate(seqs):
        input_ids[i, : len(s)] = s
    result = TokenizedTexts(input_ids, lengths, int(pad_id))

    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".npz.tmp")
        os.close(fd)
        with open(tmp, "wb") as fh:
            np.savez(fh, input_ids=input_ids, lengths=lengths, pad_id=np.int64(pad_id))
        os.replace(tmp, cache_file)  # atomic, so a concurrent job never reads half a file
    return result


class TokenStore:
    """Token ids on the compute device; lengths stay on the host so batches need no sync."""

    def __init__(self, tokens: TokenizedTexts, device: torch.device) -> None:
        self.lengths = tokens.lengths.astype(np.int64)
        self.input_ids = torch.from_numpy(tokens.input_ids.astype(np.int64)).to(device)
        self.lengths_on_device = torch.from_numpy(self.lengths).to(device)
        self.device = device

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(
        self, ids: np.ndarray, ids_on_device: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(input_ids, attention_mask) for pool positions `ids`, trimmed to their longest.

        The mask is None when nothing in the batch is padded, which lets attention take its
        fastest kernel.
        """
        lengths = self.lengths[ids]
        width = max(int(lengths.max()), 1) if len(ids) else 1
        if ids_on_device is None:
            ids_on_device = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64)).to(self.device)
        input_ids = self.input_ids.index_select(0, ids_on_device)[:, :width]
        if int(lengths.min(initial=width)) == width:
            return input_ids, None
        positions = torch.arange(width, device=self.device)
        batch_lengths = self.lengths_on_device.index_select(0, ids_on_device)
        return input_ids, (positions < batch_lengths[:, None]).long()


def length_groups(
    lengths: np.ndarray, *, groups: int = 4, min_rows: int = 32
) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Split positions 0..n-1 into `groups` runs of similar length, so each run is padded only to
    its own longest; returns (runs, inverse permutation), or None when not worth it."""
    n = len(lengths)
    if n < 2 * min_rows or groups < 2:
        return None
    order = np.argsort(lengths, kind="stable")
    runs = [r for r in np.array_split(order, min(groups, n // min_rows)) if len(r)]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return runs, inverse


def length_batches(lengths: np.ndarray, *, max_tokens: int, max_rows: int = 1024) -> list[np.ndarray]:
    """Positions grouped by similar length so padding stays small (for no-grad encoding)."""
    order = np.argsort(lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        end = start + 1
        while end < n and end - start < max_rows:
            width = max(int(lengths[order[end]]), 1)
            if (end + 1 - start) * width > max_tokens:
                break
            end += 1
        batches.append(order[start:end])
        start = end
    return batches
