from __future__ import annotations

import pyarrow as pa
import pytest

from training.ml import SpecError, split_by_user, split_random, split_time


def _table(n: int = 100) -> pa.Table:
    return pa.table({"u": [i % 10 for i in range(n)], "ts": list(range(n))[::-1], "v": list(range(n))})


def test_random_split_is_seeded_and_covers_every_row_once():
    a = split_random(_table(), (0.8, 0.1, 0.1), seed=3)
    b = split_random(_table(), (0.8, 0.1, 0.1), seed=3)
    assert [t.num_rows for t in a] == [80, 10, 10]
    assert [t.column("v").to_pylist() for t in a] == [t.column("v").to_pylist() for t in b]
    assert sorted(v for t in a for v in t.column("v").to_pylist()) == list(range(100))
    c = split_random(_table(), (0.8, 0.1, 0.1), seed=4)
    assert c[2].column("v").to_pylist() != a[2].column("v").to_pylist()


def test_time_split_trains_on_the_past_and_tests_on_the_future():
    train, valid, test = split_time(_table(), "ts", (0.8, 0.1, 0.1))
    assert max(train.column("ts").to_pylist()) < min(valid.column("ts").to_pylist())
    assert max(valid.column("ts").to_pylist()) < min(test.column("ts").to_pylist())


def test_user_split_keeps_each_user_in_one_split():
    parts = split_by_user(_table(), "u", (0.6, 0.2, 0.2), seed=0)
    users = [set(t.column("u").to_pylist()) for t in parts]
    assert users[0] and users[1] and users[2]
    assert not (users[0] & users[1]) and not (users[0] & users[2]) and not (users[1] & users[2])
    assert sum(t.num_rows for t in parts) == 100


def test_fractions_must_sum_to_one():
    with pytest.raises(SpecError, match="sum to 1"):
        split_random(_table(), (0.5, 0.1, 0.1))
