"""Derived versions are profiled in batches, and only the columns a transform computed: the columns it left as they
were keep their parent's profile. Either way the stored profile equals the one read back from the version's file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from core.storage import local_path
from governance.catalog import ingest
from governance.catalog.models import DatasetVersion
from tests.catalog.test_stream_profile import _assert_same, _table

EVENTS = (
    "user_id,item_id,event,rating,timestamp\n"
    "1,10,click,5,100\n1,11,view,,200\n1,12,purchase,3,200\n2,10,view,4,150\n3,13,view,,90\n2,12,click,2,300\n"
)


@pytest.mark.parametrize("rows", [0, 1, 50, 2_000])
def test_the_batched_profile_of_a_parquet_file_equals_the_whole_column_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", 300)  # several batches, merged
    path = tmp_path / "t.parquet"
    pq.write_table(_table(rows), path, row_group_size=128)
    _assert_same(ingest.profile_parquet_streamed(path), ingest.profile_parquet(path))
    some = ["tags", "price", "user"]
    whole = {c["name"]: c for c in ingest.profile_parquet(path)}
    _assert_same(ingest.profile_parquet_streamed(path, some), [whole[n] for n in some])


def _read_back(version: DatasetVersion) -> list[dict[str, Any]]:
    with local_path(version.parquet) as path:
        return ingest.profile_parquet(path)


def _profiled_columns(monkeypatch: pytest.MonkeyPatch) -> list[list[str] | None]:
    asked: list[list[str] | None] = []
    real = ingest.profile_parquet_sql

    def spy(path: Path, columns: list[str] | None = None, limits: Any = None) -> list[dict[str, Any]]:
        asked.append(columns)
        return real(path, columns, limits)

    monkeypatch.setattr(ingest, "profile_parquet_sql", spy)
    return asked


@pytest.mark.parametrize(
    ("operation", "params", "profiled"),
    [
        ("impute", {"columns": ["rating"], "strategy": "mean"}, ["rating"]),
        ("label", {"column": "rating", "expression": "rating >= 4"}, ["rating"]),
        (
            "aggregates",
            {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp", "event_column": "event"},
            [
                "user_events_before",
                "user_click_rate",
                "user_purchase_rate",
                "item_events_before",
                "item_click_rate",
                "item_purchase_rate",
            ],
        ),
        (
            "sequence",
            {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp", "length": 2},
            ["item_sequence"],
        ),
        ("dedupe", {"keys": ["user_id"], "keep": "first"}, ["user_id", "item_id", "event", "rating", "timestamp"]),
        ("filter", {"expression": "rating >= 0"}, ["user_id", "item_id", "event", "rating", "timestamp"]),
    ],
)
def test_a_derived_version_profiles_only_the_columns_its_transform_computed_and_its_profile_is_exact(
    upload: Callable[..., Any],
    run_transform: Callable[..., DatasetVersion],
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    params: dict[str, Any],
    profiled: list[str],
) -> None:
    events = upload(EVENTS, name="events.csv")
    asked = _profiled_columns(monkeypatch)
    derived = run_transform(events, operation, params)
    assert asked == [profiled]
    _assert_same(derived.columns, _read_back(derived))


def test_a_left_join_keeps_the_left_profiles_only_when_every_left_row_matched_at_most_once(
    upload: Callable[..., Any], run_transform: Callable[..., DatasetVersion], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = upload(EVENTS, name="events.csv")
    items = upload("item_id,price\n10,1.5\n11,2.0\n12,\n", name="items.csv", dataset="items")
    twice = upload("item_id,price\n10,1.5\n10,9.0\n11,2.0\n", name="items2.csv", dataset="items2")
    asked = _profiled_columns(monkeypatch)
    joined = run_transform(events, "join", {"right": items.pk, "on": ["item_id"], "how": "left"})
    assert asked == [["price"]]
    _assert_same(joined.columns, _read_back(joined))
    asked.clear()
    # Item 10 matches two rows: the left rows are no longer the parent's, so every column is profiled again.
    doubled = run_transform(events, "join", {"right": twice.pk, "on": ["item_id"], "how": "left"})
    assert doubled.row_count == 8 and asked == [doubled.column_names]
    _assert_same(doubled.columns, _read_back(doubled))


@pytest.mark.parametrize("rows", [0, 1, 50, 2_000])
def test_the_duckdb_profile_of_a_parquet_file_equals_the_whole_column_one(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(_table(rows), path, row_group_size=128)
    _assert_same(
        ingest.profile_parquet_sql(path, limits=ingest.SqlLimits(memory_limit="64MB")), ingest.profile_parquet(path)
    )
    whole = {c["name"]: c for c in ingest.profile_parquet(path)}
    _assert_same(
        ingest.profile_parquet_sql(path, ["tags", "tie", "price"]), [whole[n] for n in ("tags", "tie", "price")]
    )
