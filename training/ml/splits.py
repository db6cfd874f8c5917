"""Train / valid / test splits of one table: random, time-ordered or by user, all seeded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training.ml.features import SpecError

Fractions = Sequence[float]


def check_fractions(fractions: Fractions) -> tuple[float, float, float]:
    if len(fractions) != 3:
        raise SpecError("split fractions must be three numbers: train, valid, test")
    f = tuple(float(x) for x in fractions)
    if any(x < 0 for x in f) or f[0] <= 0 or abs(sum(f) - 1.0) > 1e-6:
        raise SpecError(f"split fractions must be >= 0, train > 0, and sum to 1; got {list(f)}")
    return f  # type: ignore[return-value]


def _cut(n: int, fractions: Fractions) -> tuple[int, int]:
    f = check_fractions(fractions)
    n_train = round(n * f[0])
    n_valid = round(n * f[1])
    return n_train, min(n, n_train + n_valid)


def _take(table: pa.Table, order: np.ndarray, fractions: Fractions) -> tuple[pa.Table, ...]:
    a, b = _cut(len(order), fractions)
    return tuple(table.take(pa.array(part)) for part in (order[:a], order[a:b], order[b:]))


def split_random(
    table: pa.Table, fractions: Fractions = (0.8, 0.1, 0.1), *, seed: int = 0
) -> tuple[pa.Table, pa.Table, pa.Table]:
    order = np.random.default_rng(seed).permutation(table.num_rows)
    return _take(table, order, fractions)  # type: ignore[return-value]


def split_time(
    table: pa.Table, time_column: str, fractions: Fractions = (0.8, 0.1, 0.1)
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Oldest rows train, newest test: how a deployed model meets the future."""
    if time_column not in table.column_names:
        raise SpecError(f"time column '{time_column}' not found")
    col = table.column(time_column)
    if col.null_count:
        raise SpecError(f"time column '{time_column}' has {col.null_count} missing value(s)")
    # Stable sort, ties kept in table order, so the split is reproducible.
    order = pc.sort_indices(
        pa.table({"t": col, "i": pa.array(np.arange(table.num_rows))}),
        sort_keys=[("t", "ascending"), ("i", "ascending")],
    ).to_numpy()
    return _take(table, order, fractions)  # type: ignore[return-value]


def split_by_user(
    table: pa.Table, user_column: str, fractions: Fractions = (0.8, 0.1, 0.1), *, seed: int = 0
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Whole users go to one split, so the test measures the model on users it never saw."""
    if user_column not in table.column_names:
        raise SpecError(f"user column '{user_column}' not found")
    users = table.column(user_column).cast(pa.string()).fill_null("")
    uniques = pc.unique(users)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(uniques))
    a, b = _cut(len(uniques), fractions)
    group = np.empty(len(uniques), dtype=np.int8)
    group[shuffled[:a]], group[shuffled[a:b]], group[shuffled[b:]] = 0, 1, 2
    row_group = group[pc.index_in(users, value_set=uniques).to_numpy()]
    return tuple(  # type: ignore[return-value]
        table.filter(pa.array(row_group == g)) for g in (0, 1, 2)
    )


def split_table(
    table: pa.Table,
    *,
    strategy: str,
    fractions: Fractions = (0.8, 0.1, 0.1),
    seed: int = 0,
    time_column: str | None = None,
    user_column: str | None = None,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    if strategy == "random":
        return split_random(table, fractions, seed=seed)
    if strategy == "time":
        if not time_column:
            raise SpecError("a time split needs time_column")
        return split_time(table, time_column, fractions)
    if strategy == "user":
        if not user_column:
            raise SpecError("a by-user split needs user_column")
        return split_by_user(table, user_column, fractions, seed=seed)
    raise SpecError(f"unknown split strategy '{strategy}' (random, time or user)")
