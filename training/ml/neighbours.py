"""Neighbourhood terms: item- and user-based collaborative filtering on the label's residuals.

After training (and the linear blend), a classic neighbourhood model is fitted on the training
rows' user and item ids and labels, and blended into the final logit as much as validation AUC
asks for, as the linear blend is (linear_blend.py):

- residuals: each (user, item) label minus a global mean and regularized user and item biases
  (a user's or item's rows averaged, shrunk towards 0 by `BIAS_REG` pseudo-rows);
- item-item similarities: the shrunk Pearson-style correlation of two items' residuals over the
  users who have both (`co / (co + SHRINK)` damps pairs few users share), raised to the power
  `AMPLIFY` (sign kept; strong neighbours count more), the `k` strongest per item kept;
  user-user similarities the same way over items;
- the term for (u, i): `sum_j s(i, j) r(u, j) / (sum_j |s(i, j)| + LAMBDA)` over the items j the
  user has (the item-based part) plus the same over the users who have item i (the user-based part).

An item is not its own neighbour nor a user their own, and unknown
users or items (vocabulary id 0) get no term. The model's factorized interactions and this term
see the same ratings differently (a low-rank fit vs. explicit neighbours); on ml-100k's random
split the blend lifts test AUC from 0.7952 to 0.8017 (bench/quality.py). Ids are the categorical
vocabulary ids the model uses, so training, the predictor and the serving paths share them.

Memory and time: similarities are sparse products over the cells seen. Their work is bounded by
sampling the cells of the busiest rows (`MAX_WORK`, seeded), their size by leaving out a side that
could hold more than `MAX_ENTRIES` similarities (recorded), so a huge catalogue does not blow up a
worker. Scoring takes one user at a time: each candidate's k neighbours looked up in the user's row
(or, for a good share of the catalogue, one sparse matrix-vector product over every item) and the
user's k neighbours' rows summed by item; under a millisecond for 1,000 of ml-100k's items.

Privacy: the artifact holds the residual and seen matrices, that is every training user's items and,
by the residuals' signs, mostly their labels. Training runs only on versions whose PII is resolved
(the training gate), but access to a version's artifact is access to that history. No Django here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import roc_auc_score

from training.ml.batches import EncodedSplit
from training.ml.features import FeatureSpec
from training.ml.linear_blend import fit_temperature, logit, sigmoid
from training.ml.model import CTRModel, HeadConfig

BIAS_REG = 10.0
SHRINK = 100.0
AMPLIFY = 2.0
LAMBDA = 1.0
# Per side: the similarity products' multiply-adds (rows past a cap are sampled down to stay within it) and
# the similarities they may hold (about 100 bytes each at the peak; past it the side is left out).
MAX_WORK = 400_000_000
MAX_ENTRIES = 20_000_000
# Gathering a candidate's neighbours costs about this many times a row of a sparse matrix-vector product.
_GATHER_COST = 5
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


@dataclass
class Neighbours:
    """A fitted neighbourhood term over vocabulary ids (users: rows, items: columns)."""

    residuals: sp.csr_matrix  # users x items: the mean residual of each (user, item) seen
    seen: sp.csr_matrix  # users x items: 1 where seen
    item_similarity: sp.csr_matrix | None  # items x items, k per row; None: that side left out
    user_similarity: sp.csr_matrix | None  # users x users
    weight: float = 0.0  # the term's weight in the final logit
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._abs_item_similarity = abs(self.item_similarity) if self.item_similarity is not None else None

    # -- scoring --------------------------------------------------------------------------------

    def term(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The unweighted term (float64 [n]) for vocabulary ids; 0 where either is unknown."""
        users = np.asarray(users, dtype=np.int64).ravel()
        items = np.asarray(items, dtype=np.int64).ravel()
        out = np.zeros(len(users), dtype=np.float64)
        n_users, n_items = self.residuals.shape
        ok = np.flatnonzero((users > 0) & (users < n_users) & (items > 0) & (items < n_items))
        if not len(ok):
            return out
        # One user's rows at a time: each costs about (rows + the user's neighbours' cells) x k.
        order = ok[np.argsort(users[ok], kind="stable")]
        starts = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1]])
        for start, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):
            rows = order[start:end]
            out[rows] = self._one_user(int(users[rows[0]]), items[rows])
        return out

    def logits(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """What the term adds to the final logit."""
        if not self.weight:
            return np.zeros(len(np.asarray(users).ravel()), dtype=np.float64)
        return self.weight * self.term(users, items)

    def _one_user(self, user: int, items: np.ndarray) -> np.ndarray:
        """term() for one user and their candidate items: sparse rows gathered, one item-length scratch row."""
        out = np.zeros(len(items), dtype=np.float64)
        n_items = self.residuals.shape[1]
        if self.item_similarity is not None:
            # sum_j s(i, j) r(u, j) over the user's items j: each candidate's k neighbours looked up in the user's row.
            _, mine, r = _rows(self.residuals, np.array([user]))
            values, seen = np.zeros(n_items), np.zeros(n_items)
            values[mine] = r
            seen[self.seen.indices[self.seen.indptr[user] : self.seen.indptr[user + 1]]] = 1.0
            if len(items) * _GATHER_COST >= n_items:  # a good share of the catalogue: one pass over every item
                num, den = (self.item_similarity @ values)[items], (self._abs_item_similarity @ seen)[items]
            else:
                owner, cols, sim = _rows(self.item_similarity, items)
                num = np.bincount(owner, sim * values[cols], minlength=len(items))
                den = np.bincount(owner, np.abs(sim) * seen[cols], minlength=len(items))
            out += num / (den + LAMBDA)
        if self.user_similarity is not None:
            # sum_v s(u, v) r(v, i) over the users v who have item i: the user's k neighbours' rows, summed by item.
            _, neighbours, sim = _rows(self.user_similarity, np.array([user]))
            owner, cols, r = _rows(self.residuals, neighbours)
            num = np.bincount(cols, sim[owner] * r, minlength=n_items)[items]
            owner, cols, seen = _rows(self.seen, neighbours)
            den = np.bincount(cols, np.abs(sim[owner]) * seen, minlength=n_items)[items]
            out += num / (den + LAMBDA)
        return out

    # -- files ----------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"weight": np.array(self.weight)}
        for name in ("residuals", "seen", "item_similarity", "user_similarity"):
            m = getattr(self, name)
            if m is None:
                continue
            arrays |= {
                f"{name}.data": m.data.astype(np.float32),
                f"{name}.indices": m.indices,
                f"{name}.indptr": m.indptr,
                f"{name}.shape": np.array(m.shape),
            }
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: Path, info: dict[str, Any] | None = None) -> Neighbours:
        with np.load(path) as z:

            def matrix(name: str) -> sp.csr_matrix | None:
                if f"{name}.data" not in z:
                    return None
                shape = tuple(int(x) for x in z[f"{name}.shape"])
                data = z[f"{name}.data"].astype(np.float64)
                return sp.csr_matrix((data, z[f"{name}.indices"], z[f"{name}.indptr"]), shape=shape)

            residuals, seen = matrix("residuals"), matrix("seen")
            assert residuals is not None and seen is not None
            return cls(
                residuals=residuals,
                seen=seen,
                item_similarity=matrix("item_similarity"),
                user_similarity=matrix("user_similarity"),
                weight=float(z["weight"]),
                info=dict(info or {}),
            )


def fit_neighbours(
    users: np.ndarray,
    items: np.ndarray,
    labels: np.ndarray,
    *,
    n_users: int,
    n_items: int,
    k: int,
    seed: int = 0,
) -> Neighbours | None:
    """Fit on rows' vocabulary ids (0 = unknown, left out) and 0/1 labels; None without a known row."""
    t0 = time.perf_counter()
    users = np.asarray(users, dtype=np.int64).ravel()
    items = np.asarray(items, dtype=np.int64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    keep = (users > 0) & (items > 0)
    users, items, y = users[keep], items[keep], y[keep]
    if not len(y):
        return None
    mu = float(y.mean())
    user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
    user_rows, item_rows = np.bincount(users, minlength=n_users), np.bincount(items, minlength=n_items)
    for _ in range(5):
        item_bias = np.bincount(items, y - mu - user_bias[users], n_items) / (item_rows + BIAS_REG)
        user_bias = np.bincount(users, y - mu - item_bias[items], n_users) / (user_rows + BIAS_REG)
    r = y - mu - user_bias[users] - item_bias[items]
    # One cell per (user, item): the mean residual of its rows.
    keys, inverse = np.unique(users * n_items + items, return_inverse=True)
    counts = np.bincount(inverse).astype(np.float64)
    mean_r = np.bincount(inverse, r) / counts
    cu, ci = keys // n_items, keys % n_items
    residuals = sp.csr_matrix((mean_r, (cu, ci)), shape=(n_users, n_items))
    seen = sp.csr_matrix((np.ones(len(keys)), (cu, ci)), shape=(n_users, n_items))
    info: dict[str, Any] = {"k": k, "shrink": SHRINK, "amplify": AMPLIFY, "rows": len(y), "cells": len(keys)}
    rng = np.random.default_rng(seed)
    item_sim = _similarity(residuals, seen, k, info, "item", rng)
    user_sim = _similarity(residuals.T.tocsr(), seen.T.tocsr(), k, info, "user", rng)
    info["fit_s"] = round(time.perf_counter() - t0, 3)
    if item_sim is None and user_sim is None:
        return None
    return Neighbours(residuals, seen, item_sim, user_sim, info=info)


def pick_weight(
    neighbours: Neighbours, term: np.ndarray, logits: np.ndarray, labels: np.ndarray
) -> dict[str, Any] | None:
    """Pick the term's weight on validation rows (their unweighted term, the model's logits and labels)
    and set it: the largest AUC, ties within 1e-4 per unit of weight going to the smaller. None when
    the rows cannot pick (empty or one class)."""
    labels = np.asarray(labels)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return None
    scores = {w: float(roc_auc_score(labels, logits + w * term)) for w in WEIGHTS}
    weight = max(WEIGHTS, key=lambda w: (scores[w] - 1e-4 * w, -w))
    neighbours.weight = weight
    return {"weight": weight, "model_valid_auc": scores[0.0], "blended_valid_auc": scores[weight]}


def _similarity(
    residuals: sp.csr_matrix, seen: sp.csr_matrix, k: int, info: dict[str, Any], side: str, rng: np.random.Generator
) -> sp.csr_matrix | None:
    """Columns' similarity (columns x columns): rows are the other side (users for items).

    The products' work is the sum over rows of (cells in the row)^2: rows past a cap chosen to keep it
    under `MAX_WORK` are sampled down to the cap (seeded) for the similarity only. Their result holds at
    most min(that sum, columns^2) entries; past `MAX_ENTRIES` the side is left out."""
    per_row = np.diff(seen.indptr)
    cap = _row_cap(per_row)
    if cap < per_row.max(initial=0):
        residuals = _cap_rows(residuals, cap, rng)
        seen = residuals.copy()
        seen.data = np.ones_like(seen.data)
        info[f"{side}_row_cap"] = int(cap)
    work = int((np.minimum(per_row, cap).astype(np.float64) ** 2).sum())
    entries = min(work, seen.shape[1] ** 2)
    info[f"{side}_entries_bound"] = entries
    if entries > MAX_ENTRIES:
        info[f"{side}_left_out"] = f"up to {entries} similarities > {MAX_ENTRIES}"
        return None
    co = (seen.T @ seen).tocsr()
    num = (residuals.T @ residuals).tocsr()
    squares = residuals.multiply(residuals).tocsr()
    norms = (squares.T @ seen).tocsr()  # [a, b]: the sum of a's squared residuals over rows having b
    del squares
    denom = norms.multiply(norms.T).sqrt().tocsr()
    del norms
    denom.data = 1.0 / np.maximum(denom.data, 1e-12)
    co.data = co.data / (co.data + SHRINK)  # the damping of pairs few rows share
    sim = num.multiply(denom).multiply(co).tocsr()
    del num, denom, co
    sim.setdiag(0)
    sim.eliminate_zeros()
    sim.data = np.sign(sim.data) * np.abs(sim.data) ** AMPLIFY
    return _top_k(sim, k)


def _row_cap(per_row: np.ndarray) -> int:
    """The largest cap on a row's cells that keeps sum(min(cells, cap)^2) within MAX_WORK."""
    sizes = np.sort(per_row.astype(np.float64))
    if not len(sizes) or (sizes**2).sum() <= MAX_WORK:
        return int(sizes[-1]) if len(sizes) else 0
    lo, hi = 1, int(sizes[-1])
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (np.minimum(sizes, mid) ** 2).sum() <= MAX_WORK:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _cap_rows(m: sp.csr_matrix, cap: int, rng: np.random.Generator) -> sp.csr_matrix:
    """`m` with each row's cells sampled down to `cap` (seeded)."""
    keep = np.ones(len(m.data), dtype=bool)
    lengths = np.diff(m.indptr)
    for row in np.flatnonzero(lengths > cap):
        a, b = m.indptr[row], m.indptr[row + 1]
        drop = rng.choice(b - a, b - a - cap, replace=False)
        keep[a + drop] = False
    rows = np.repeat(np.arange(m.shape[0]), lengths)[keep]
    return sp.csr_matrix((m.data[keep], (rows, m.indices[keep])), shape=m.shape)


def _top_k(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest |values| of each row."""
    m.sort_indices()
    lengths = np.diff(m.indptr)
    if not len(lengths) or lengths.max() <= k:
        return m
    keep = np.ones(len(m.data), dtype=bool)
    for row in np.flatnonzero(lengths > k):
        a, b = m.indptr[row], m.indptr[row + 1]
        drop = np.argpartition(-np.abs(m.data[a:b]), k)[k:]
        keep[a + drop] = False
    m.data = np.where(keep, m.data, 0.0)
    m.eliminate_zeros()
    return m


def _lengths(m: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    return m.indptr[rows + 1] - m.indptr[rows]


def _rows(m: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored cells of `rows` of a CSR matrix: (position in `rows`, column, value) each."""
    starts, lengths = m.indptr[rows], _lengths(m, rows)
    owner = np.repeat(np.arange(len(rows)), lengths)
    flat = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    return owner, m.indices[flat], m.data[flat]


# -- training (train.py) ------------------------------------------------------------------------


def id_fields(spec: FeatureSpec) -> tuple[int, int] | None:
    """Positions of the user and item columns among the categorical features; None without both."""
    if not spec.user_column or not spec.item_column:
        return None
    features = spec.categorical_features
    return features.index(spec.user_column), features.index(spec.item_column)


def fit_on_split(split: EncodedSplit, spec: FeatureSpec, head: HeadConfig, k: int, seed: int = 0) -> Neighbours | None:
    fields_ = id_fields(spec)
    if fields_ is None or k <= 0 or len(split) == 0:
        return None
    u, i = fields_
    return fit_neighbours(
        split.categorical[:, u],
        split.categorical[:, i],
        split.labels,
        n_users=head.vocab_sizes[u],
        n_items=head.vocab_sizes[i],
        k=k,
        seed=seed,
    )


def split_logits(neighbours: Neighbours | None, split: EncodedSplit, spec: FeatureSpec) -> np.ndarray:
    """What the term adds to each row's logit (zeros without a term)."""
    fields_ = id_fields(spec)
    if neighbours is None or fields_ is None:
        return np.zeros(len(split), dtype=np.float64)
    return neighbours.logits(split.categorical[:, fields_[0]], split.categorical[:, fields_[1]])


def blend_neighbours(
    model: CTRModel,
    spec: FeatureSpec,
    train: EncodedSplit,
    valid: EncodedSplit,
    valid_probabilities: np.ndarray,
    *,
    k: int,
    seed: int = 0,
) -> tuple[Neighbours | None, dict[str, Any] | None]:
    """Fit the term on `train`, pick its weight on `valid` and refit the model's temperature
    (`logit_scale`) to the blend. Returns (the term, None when its weight is 0; what was done, None
    when nothing could be: no user and item columns, k = 0 or a validation split that cannot pick)."""
    t0 = time.perf_counter()
    fields_ = id_fields(spec)
    if fields_ is None or k <= 0 or len(valid) == 0 or len(np.unique(valid.labels)) < 2:
        return None, None
    neighbours = fit_on_split(train, spec, model.head_config, k, seed)
    if neighbours is None:
        return None, None
    model_logit = logit(valid_probabilities)
    term = neighbours.term(valid.categorical[:, fields_[0]], valid.categorical[:, fields_[1]])
    picked = pick_weight(neighbours, term, model_logit, valid.labels)
    if picked is None:
        return None, None
    scale = 1.0
    if neighbours.weight:
        scale = fit_temperature(model_logit + term * neighbours.weight, valid.labels)
        with torch.no_grad():
            model.logit_scale.mul_(scale)
        neighbours.weight *= scale
    info = {**neighbours.info, **picked, "weight": neighbours.weight, "scale": scale}
    info["fit_s"] = round(time.perf_counter() - t0, 3)
    neighbours.info = info
    return (neighbours if neighbours.weight else None), info


def refit_neighbours(
    neighbours: Neighbours, model: CTRModel, spec: FeatureSpec, merged: EncodedSplit, *, seed: int = 0
) -> Neighbours:
    """The term fitted again on train + validation (the refit's rows) with the weight and scale picked
    on validation; the refit model's `logit_scale` gets the same scale. The first fit is kept when the
    refit's would not have the same sides (a side past the limits on the larger rows): the weight was
    picked for those."""
    with torch.no_grad():
        model.logit_scale.mul_(float(neighbours.info.get("scale", 1.0)))
    refitted = fit_on_split(merged, spec, model.head_config, int(neighbours.info["k"]), seed)
    sides = (neighbours.item_similarity is None, neighbours.user_similarity is None)
    if refitted is None or (refitted.item_similarity is None, refitted.user_similarity is None) != sides:
        lost = (
            "no side"
            if refitted is None
            else ", ".join(
                f"{side}s: {refitted.info[f'{side}_left_out']}"
                for side in ("item", "user")
                if f"{side}_left_out" in refitted.info
            )
        )
        neighbours.info = {**neighbours.info, "refit_kept_first_fit": f"on train + validation {lost}"}
        return neighbours
    refitted.weight = neighbours.weight
    refitted.info = {
        **neighbours.info,
        **{f"refit_{key}": value for key, value in refitted.info.items() if key not in ("k", "shrink", "amplify")},
    }
    return refitted


def with_term(
    probabilities: np.ndarray, neighbours: Neighbours | None, split: EncodedSplit, spec: FeatureSpec
) -> np.ndarray:
    """Probabilities with the term added to their logits."""
    if neighbours is None:
        return probabilities
    return sigmoid(logit(probabilities) + split_logits(neighbours, split, spec))
