"""Feature engineering for recommendation (time_features, aggregates, sequence, bucketize, outliers, text_normalize)
on hand-built tables, checked against brute force for leakage; the Parquet engine against the in-memory one at
small batch sizes and a tight memory limit; and the new operations through the API as jobs writing versions."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent, Job
from governance.catalog import transforms
from governance.catalog.models import DatasetVersion, LineageEdge
from governance.catalog.transforms import Limits, TransformError, apply, run

# A hand-built log: user 1 has two events at t=2 and two at t=3 (ties), user 2 two at t=5.
LOG = pa.table(
    {
        "user": [1, 1, 1, 1, 2, 2, 1],
        "item": [10, 11, 12, 13, 10, 11, 14],
        "ts": [1, 2, 2, 3, 5, 5, 3],
        "event": ["click", "view", "purchase", "click", "view", "click", "view"],
        "rating": [5, None, 3, 4, 1, 2, 2],
        "cat": ["a", "b", "c", "d", "a", "b", "e"],
    }
)
AGG = {
    "user_column": "user",
    "item_column": "item",
    "time_column": "ts",
    "event_column": "event",
    "rating_column": "rating",
}


def col(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def one(operation: str, params: dict[str, Any], table: pa.Table = LOG) -> pa.Table:
    (out,) = apply(operation, [table], params)
    return out


def test_aggregates_count_only_events_strictly_before_the_row_so_ties_never_see_each_other() -> None:
    out = one("aggregates", AGG)
    assert col(out, "user_events_before") == [0, 1, 1, 3, 0, 0, 3]
    # The two t=2 rows of user 1 see only the click at t=1; the two t=3 rows see t=1 and both t=2 rows.
    assert col(out, "user_click_rate") == [None, 1.0, 1.0, pytest.approx(1 / 3), None, None, pytest.approx(1 / 3)]
    assert col(out, "user_purchase_rate")[3] == pytest.approx(1 / 3)
    assert col(out, "user_mean_rating") == [None, 5.0, 5.0, 4.0, None, None, 4.0]
    # Item 10 at t=5 sees user 1's click at t=1; item 11 at t=5 sees the view at t=2, not the click at t=5 itself.
    assert col(out, "item_events_before") == [0, 0, 0, 0, 1, 1, 0]
    assert col(out, "item_click_rate")[4:6] == [1.0, 0.0]
    assert col(out, "item_mean_rating")[4:6] == [5.0, None]
    assert out.column_names[:6] == LOG.column_names


def _brute_force(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float | None], list[float | None]]:
    counts, rates, means = [], [], []
    for row in rows:
        before = [r for r in rows if r[key] == row[key] and r["ts"] < row["ts"]]
        counts.append(len(before))
        rates.append(sum(r["event"] == "click" for r in before) / len(before) if before else None)
        rated = [r["rating"] for r in before if r["rating"] is not None]
        means.append(sum(rated) / len(rated) if rated else None)
    return counts, rates, means


def test_aggregates_match_a_brute_force_past_only_computation_on_a_shuffled_log_with_many_ties() -> None:
    rng = random.Random(7)
    rows = [
        {
            "user": rng.randint(1, 8),
            "item": rng.randint(1, 6),
            "ts": rng.randint(1, 15),
            "event": rng.choice(["view", "click", "purchase"]),
            "rating": rng.choice([None, 1, 2, 3, 4, 5]),
        }
        for _ in range(300)
    ]
    table = pa.Table.from_pylist(rows)
    # In batches of 7 rows, so a key's events and groups of ties cross batch boundaries.
    (out,) = apply("aggregates", [table], AGG, Limits(batch_rows=7))
    for side, key in (("user", "user"), ("item", "item")):
        counts, rates, means = _brute_force(rows, key)
        assert col(out, f"{side}_events_before") == counts
        assert col(out, f"{side}_click_rate") == [pytest.approx(r) if r is not None else None for r in rates]
        assert col(out, f"{side}_mean_rating") == [pytest.approx(m) if m is not None else None for m in means]


def test_aggregates_work_on_timestamp_columns_to_the_microsecond() -> None:
    base = dt.datetime(2024, 5, 1, 12, 0, 0)
    stamps = [base, base + dt.timedelta(microseconds=1), base + dt.timedelta(microseconds=1)]
    table = pa.table({"user": [1, 1, 1], "ts": pa.array(stamps, type=pa.timestamp("us"))})
    out = one("aggregates", {"user_column": "user", "time_column": "ts"}, table)
    assert col(out, "user_events_before") == [0, 1, 1]


def test_sequence_lists_each_users_last_items_strictly_before_the_row_oldest_first() -> None:
    params = {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 2, "category_column": "cat"}
    out = one("sequence", params)
    assert col(out, "item_sequence") == [[], [10], [10], [11, 12], [], [], [11, 12]]
    assert col(out, "category_sequence") == [[], ["a"], ["a"], ["b", "c"], [], [], ["b", "c"]]
    assert out.schema.field("item_sequence").type == pa.list_(pa.int64())


def test_sequence_matches_brute_force_on_a_shuffled_log_with_ties() -> None:
    rng = random.Random(3)
    rows = [{"user": rng.randint(1, 5), "item": f"i{rng.randint(1, 30)}", "ts": rng.randint(1, 40)} for _ in range(250)]
    # In batches of 7 rows, so a user's events (and a group of ties) cross batch boundaries.
    (out,) = apply(
        "sequence",
        [pa.Table.from_pylist(rows)],
        {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 5},
        Limits(batch_rows=7),
    )
    expected = []
    for row in rows:
        earlier = sorted(
            (r["ts"], i, r["item"]) for i, r in enumerate(rows) if r["user"] == row["user"] and r["ts"] < row["ts"]
        )
        expected.append([item for _, _, item in earlier[-5:]])
    assert col(out, "item_sequence") == expected


@pytest.mark.parametrize("batch_rows", [3, 7, 1000])
def test_a_sequence_of_the_events_that_enter_it_matches_brute_force(batch_rows: int) -> None:
    """Only liked events (label 1) enter the lists, every row still gets its list; across batch boundaries."""
    rng = random.Random(5)
    rows = [
        {
            "user": rng.randint(1, 4),
            "item": rng.randint(1, 30),
            "ts": rng.randint(1, 30),
            "label": rng.choice([0, 1, 1, None]),
        }
        for _ in range(200)
    ]
    params = {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 4}
    (out,) = apply(
        "sequence",
        [pa.Table.from_pylist(rows)],
        {**params, "event_column": "label", "event_values": [1], "column": "liked"},
        Limits(batch_rows=batch_rows),
    )
    expected = []
    for row in rows:
        earlier = sorted(
            (r["ts"], i, r["item"])
            for i, r in enumerate(rows)
            if r["user"] == row["user"] and r["ts"] < row["ts"] and r["label"] == 1
        )
        expected.append([item for _, _, item in earlier[-4:]])
    assert col(out, "liked") == expected
    assert out.num_rows == len(rows) and any(expected) and not all(expected)


def test_a_user_with_many_events_that_enter_no_list_keeps_the_carry_small_and_the_lists_right() -> None:
    """A bot-like user: hundreds of views and two clicks; batches of 7 rows."""
    rows = [{"user": 1, "item": i, "ts": i, "event": "view"} for i in range(300)]
    rows[10]["event"] = rows[200]["event"] = "click"
    rows.append({"user": 2, "item": 999, "ts": 5, "event": "click"})
    (out,) = apply(
        "sequence",
        [pa.Table.from_pylist(rows)],
        {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 3, "event_column": "event"}
        | {"event_values": ["click"]},
        Limits(batch_rows=7),
    )
    lists = col(out, "item_sequence")
    assert lists[:11] == [[]] * 11 and lists[11:201] == [[10]] * 190 and lists[201:300] == [[10, 200]] * 99
    assert lists[300] == []


def test_sequence_event_values_need_a_column_and_fit_its_type() -> None:
    params = {"user_column": "user", "item_column": "item", "time_column": "ts"}
    with pytest.raises(TransformError, match="needs `event_column`"):
        one("sequence", {**params, "event_values": ["click"]})
    with pytest.raises(TransformError, match="non-empty"):
        one("sequence", {**params, "event_column": "event"})
    out = one("sequence", {**params, "event_column": "event", "event_values": ["click", "purchase"]})
    assert col(out, "item_sequence") == [[], [10], [10], [10, 12], [], [], [10, 12]]


def test_a_boolean_event_column_takes_true_as_a_boolean_a_number_or_the_word_a_form_sends() -> None:
    table = pa.table({"u": [1, 1, 1, 2], "i": [1, 2, 3, 1], "ts": [1, 2, 3, 1], "clicked": [True, False, True, None]})
    params = {"user_column": "u", "item_column": "i", "time_column": "ts", "length": 5, "event_column": "clicked"}
    for value in ([True], True, "true", ["TRUE"], 1, ["yes"]):
        (out,) = apply("sequence", [table], {**params, "event_values": value})
        assert col(out, "item_sequence") == [[], [1], [1], []], value
    (out,) = apply("sequence", [table], {**params, "event_values": "false"})
    assert col(out, "item_sequence") == [[], [], [2], []]
    with pytest.raises(TransformError, match="do not fit column clicked"):
        apply("sequence", [table], {**params, "event_values": ["click"]})


def test_time_features_from_integer_seconds_and_timestamps() -> None:
    stamps = [dt.datetime(2024, 1, 1, 7, 30), dt.datetime(2024, 3, 1, 23, 0), dt.datetime(2024, 3, 2, 23, 0)]
    table = pa.table(
        {
            "at": pa.array(stamps, type=pa.timestamp("s")),
            "secs": [int(s.replace(tzinfo=dt.UTC).timestamp()) for s in stamps],
        }
    )
    for name in ("at", "secs"):
        out = one("time_features", {"time_column": name}, table)
        assert col(out, f"{name}_hour") == [7, 23, 23]
        assert col(out, f"{name}_weekday") == [0, 4, 5]  # Monday, Friday, Saturday
        assert col(out, f"{name}_day_of_year") == [1, 61, 62]
        assert col(out, f"{name}_recency_days") == [pytest.approx(61 + 15.5 / 24), 1.0, 0.0]
    out = one(
        "time_features", {"time_column": "at", "features": ["recency"], "reference": "2024-03-12T23:00:00"}, table
    )
    assert col(out, "at_recency_days")[2] == pytest.approx(10.0) and "at_hour" not in out.column_names


def test_bucketize_by_quantiles_or_fixed_edges_keeps_nulls() -> None:
    table = pa.table({"price": [1.0, 2.0, 3.0, 4.0, None, 100.0, 7.0, 8.0]})
    out = one("bucketize", {"columns": ["price"], "buckets": 2}, table)
    assert col(out, "price_bucket") == [0, 0, 0, 1, None, 1, 1, 1]  # the median, 4, starts the upper bucket
    fixed = one("bucketize", {"columns": ["price"], "strategy": "fixed", "edges": [2, 10]}, table)
    assert col(fixed, "price_bucket") == [0, 1, 1, 1, None, 2, 1, 1]


@pytest.mark.parametrize(
    ("params", "flags"),
    [
        ({"columns": ["x"]}, [0, 0, 0, 0, 0, 1, 0]),
        ({"columns": ["x"], "method": "zscore", "threshold": 2}, [0, 0, 0, 0, 0, 1, 0]),
        ({"columns": ["x"], "method": "iqr", "threshold": 0.1}, [1, 1, 0, 0, 1, 1, 0]),
    ],
)
def test_outliers_are_flagged_by_iqr_or_zscore(params: dict[str, Any], flags: list[int]) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 3.0, 4.0, 100.0, None]})
    assert col(one("outliers", params, table), "x_outlier") == flags


def test_outliers_drop_removes_the_flagged_rows_only() -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 3.0, 4.0, 100.0, None], "i": list(range(7))})
    out = one("outliers", {"columns": ["x"], "action": "drop"}, table)
    assert col(out, "i") == [0, 1, 2, 3, 4, 6] and out.column_names == ["x", "i"]


def test_text_normalize_lowercases_strips_html_and_whitespace() -> None:
    table = pa.table({"title": ["  Red <b>MUG</b>&amp;\n Saucer ", None, "<p>Café&nbsp;Crème</p>"]})
    assert col(one("text_normalize", {"columns": ["title"]}, table), "title") == [
        "red mug & saucer",
        None,
        "café crème",
    ]
    kept = one("text_normalize", {"columns": ["title"], "lower": False, "strip_html": False}, table)
    assert col(kept, "title")[0] == "Red <b>MUG</b>&amp; Saucer"


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("time_features", {}, "`time_column` is required"),
        ("time_features", {"time_column": "event"}, "not a timestamp"),
        ("time_features", {"time_column": "ts", "features": ["minute"]}, "`features` must be"),
        ("time_features", {"time_column": "ts", "reference": "yesterday"}, "`reference` must be"),
        ("aggregates", {"user_column": "user"}, "`time_column` is required"),
        ("aggregates", {"time_column": "ts"}, "Name `user_column`"),
        ("aggregates", {"time_column": "ts", "user_column": "who"}, "Unknown column(s) in `user_column`: who"),
        ("aggregates", {"time_column": "ts", "user_column": "user", "rating_column": "event"}, "not numeric"),
        (
            "aggregates",
            {"time_column": "ts", "user_column": "user", "event_column": "event", "click_values": []},
            "click_values",
        ),
        ("sequence", {"user_column": "user", "item_column": "item"}, "`time_column` is required"),
        ("sequence", {"user_column": "user", "time_column": "ts"}, "`item_column` is required"),
        ("sequence", {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 0}, "`length`"),
        (
            "sequence",
            {"user_column": "user", "item_column": "item", "time_column": "ts", "column": "cat"},
            "already exist",
        ),
        ("bucketize", {"columns": ["event"]}, "not numeric"),
        ("bucketize", {"columns": ["rating"], "buckets": 1}, "`buckets`"),
        ("bucketize", {"columns": ["rating"], "strategy": "fixed", "edges": [3, 1]}, "increasing"),
        ("bucketize", {"columns": ["rating"], "strategy": "custom"}, "`strategy` must be"),
        ("outliers", {"columns": ["rating"], "method": "mad"}, "`method` must be"),
        ("outliers", {"columns": ["rating"], "action": "clip"}, "`action` must be"),
        ("outliers", {"columns": ["rating"], "threshold": -1}, "`threshold`"),
        ("text_normalize", {"columns": ["rating"]}, "not text"),
        ("text_normalize", {"columns": ["cat"], "lower": "yes"}, "`lower` must be true or false"),
    ],
)
def test_bad_feature_params_raise_a_transform_error_naming_the_problem(
    operation: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(TransformError) as raised:
        apply(operation, [LOG.slice(0, 0)], params)
    assert message in str(raised.value)


# --- the Parquet engine ---------------------------------------------------------------------------------------------

ITEMS = pa.table(
    {"item": [10, 11, 12, 13, 99], "title": ["mug", "cup", "pan", "pot", "lid"], "rating": [1, 2, 3, 4, 5]}
)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("label", {"expression": "rating >= 4"}),
        ("filter", {"expression": "event != 'view'"}),
        ("dedupe", {"keys": ["user"], "keep": "last"}),
        ("join", {"on": ["item"], "how": "outer"}),
        ("join", {"on": ["item"], "how": "left"}),
        ("join", {"on": ["item"], "how": "inner"}),
        ("cast", {"columns": {"rating": "float"}}),
        ("impute", {"columns": ["rating"], "strategy": "median"}),
        ("impute", {"columns": ["cat"], "strategy": "mode"}),
        ("clip", {"columns": ["rating"], "lower": 0.2, "upper": 0.8}),
        ("split", {"strategy": "random", "fractions": [0.5, 0.5], "seed": 2}),
        ("split", {"strategy": "time", "time_column": "ts", "fractions": [0.4, 0.6]}),
        ("split", {"strategy": "user", "user_column": "user", "fractions": [0.5, 0.5]}),
        ("aggregates", AGG),
        ("sequence", {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 3}),
        ("time_features", {"time_column": "ts"}),
        ("bucketize", {"columns": ["rating"], "buckets": 3}),
        ("outliers", {"columns": ["rating"], "action": "drop", "threshold": 0.5}),
        ("text_normalize", {"columns": ["event"]}),
        ("negative_sampling", {"user_column": "user", "item_column": "item"}),
    ],
)
def test_the_parquet_engine_in_small_batches_writes_what_the_in_memory_run_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, params: dict[str, Any]
) -> None:
    tables = [LOG, ITEMS] if operation == "join" else [LOG]
    paths = []
    for i, table in enumerate(tables):
        paths.append(tmp_path / f"in{i}.parquet")
        pq.write_table(table, paths[-1], row_group_size=2)
    expected = apply(operation, tables, params)
    # 2-row batches, and rows put back in order 3 positions at a time.
    monkeypatch.setattr(transforms, "SORT_BACK_ROWS", 3)
    limits = Limits(memory_limit="64MB", temp_dir=tmp_path, threads=1, batch_rows=2)
    written = run(operation, paths, params, tmp_path, limits)
    assert [pq.read_table(p) for p in written] == expected
    assert not list(tmp_path.glob("duckdb-*"))  # the spill directory goes with the run


@pytest.mark.parametrize("how", ["inner", "left"])
def test_a_join_streaming_the_left_side_gives_what_duckdbs_sorted_join_gives(
    monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    right = pa.table({"item": [10, 10, 12, None, 13], "title": ["a", "b", "c", "d", "e"], "rating": [1, 2, 3, 4, 5]})
    left = LOG.append_column("n", pa.array(range(LOG.num_rows)))
    streamed = apply("join", [left, right], {"on": ["item"], "how": how}, Limits(batch_rows=3))
    monkeypatch.setattr(transforms, "RIGHT_IN_MEMORY_ROWS", 0)
    sorted_by_duckdb = apply("join", [left, right], {"on": ["item"], "how": how})
    assert streamed == sorted_by_duckdb
    assert col(streamed[0], "title")[:2] == ["a", "b"] and "rating_right" in streamed[0].column_names


def test_a_run_that_fails_midway_leaves_no_output_file(tmp_path: Path) -> None:
    table = pa.table({"n": ["1", "2", "3", "x"]})
    pq.write_table(table, tmp_path / "in.parquet")
    with pytest.raises(TransformError, match="cannot become int"):
        run("cast", [tmp_path / "in.parquet"], {"columns": {"n": "int"}}, tmp_path, Limits(batch_rows=2))
    assert [p.name for p in tmp_path.iterdir()] == ["in.parquet"]


def test_windows_and_sorts_of_600k_rows_run_under_a_64_mb_memory_limit(tmp_path: Path) -> None:
    # DuckDB keeps under its limit by spilling sorts and window partitions to tmp_path.
    n, users = 600_000, 5000
    rng = random.Random(1)
    ts = list(range(n))
    rng.shuffle(ts)
    table = pa.table({"user": [i % users for i in range(n)], "item": [i % 700 for i in range(n)], "ts": ts})
    pq.write_table(table, tmp_path / "log.parquet")
    limits = Limits(memory_limit="64MB", temp_dir=tmp_path, threads=1)
    params = {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 3}
    (aggregated,) = run("aggregates", [tmp_path / "log.parquet"], params, tmp_path, limits)
    counts = pq.read_table(aggregated, columns=["user_events_before"]).column(0).to_pylist()
    per_user = n // users
    assert sum(counts) == users * (per_user * (per_user - 1) // 2)
    (sequenced,) = run("sequence", [tmp_path / "log.parquet"], params, tmp_path, limits)
    lengths = pq.read_table(sequenced, columns=["item_sequence"]).column(0).combine_chunks().value_lengths()
    assert lengths.to_pylist().count(0) == users and lengths.to_pylist().count(3) == n - 3 * users


# --- through the API ------------------------------------------------------------------------------------------------


@pytest.fixture
def events(upload: Callable[..., Any]) -> DatasetVersion:
    text = (
        "user_id,item_id,event,rating,timestamp,title\n"
        "1,10,click,5,100,<b>Red</b> Mug\n1,11,view,,200,Cup\n1,12,purchase,3,200,Pan\n2,10,view,4,150,<i>Red</i> mug\n"
    )
    return upload(text, name="events.csv")


def _written() -> tuple[int, int, int, int]:
    return Job.objects.count(), DatasetVersion.objects.count(), LineageEdge.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"operation": "time_features", "params": {}}, "`time_column` is required"),
        ({"operation": "time_features", "params": {"time_column": "title"}}, "Column title is not a timestamp"),
        ({"operation": "aggregates", "params": {"user_column": "user_id"}}, "`time_column` is required"),
        (
            {"operation": "aggregates", "params": {"user_column": "buyer", "time_column": "timestamp"}},
            "Unknown column(s) in `user_column`: buyer",
        ),
        (
            {"operation": "sequence", "params": {"user_column": "user_id", "item_column": "item_id"}},
            "`time_column` is required",
        ),
        ({"operation": "bucketize", "params": {"columns": ["title"]}}, "Column title is not numeric"),
        ({"operation": "outliers", "params": {"columns": ["rating"], "method": "mad"}}, "`method` must be"),
        ({"operation": "text_normalize", "params": {"columns": ["ghost"]}}, "Unknown column(s) in `columns`: ghost"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_feature_params_are_a_400_naming_the_problem_and_write_nothing(
    steward_api: APIClient, events: DatasetVersion, body: dict[str, Any], message: str
) -> None:
    before = _written()
    response = steward_api.post(f"/api/v1/dataset-versions/{events.pk}/transforms/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert _written() == before


@pytest.mark.parametrize(
    ("operation", "params", "column", "values"),
    [
        (
            "sequence",
            {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp", "length": 20},
            "item_sequence",
            [[], [10], [10], []],
        ),
        (
            "aggregates",
            {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp", "event_column": "event"},
            "item_click_rate",
            [None, None, None, 1.0],
        ),
        ("time_features", {"time_column": "timestamp", "features": ["recency"]}, "timestamp_recency_days", None),
        ("bucketize", {"columns": ["rating"], "strategy": "fixed", "edges": [4]}, "rating_bucket", [1, None, 0, 1]),
        ("outliers", {"columns": ["rating"], "method": "zscore"}, "rating_outlier", [0, 0, 0, 0]),
        ("text_normalize", {"columns": ["title"]}, "title", ["red mug", "cup", "pan", "red mug"]),
    ],
)
def test_a_feature_transform_job_registers_a_profiled_version_with_lineage(
    steward_api: APIClient,
    events: DatasetVersion,
    run_transform: Callable[..., DatasetVersion],
    operation: str,
    params: dict[str, Any],
    column: str,
    values: list[Any] | None,
) -> None:
    derived = run_transform(events, operation, params)
    assert derived.row_count == 4 and column in derived.column_names
    assert LineageEdge.objects.filter(source=events, target_id=derived.pk, operation=operation).exists()
    rows = steward_api.get(f"/api/v1/dataset-versions/{derived.pk}/rows/").json()["results"]
    if values is not None:
        assert [row[column] for row in rows] == values
    else:
        assert [row[column] for row in rows] == [pytest.approx(100 / 86400 * x) for x in (1, 0, 0, 0.5)]


def test_a_transform_over_its_memory_limit_fails_naming_the_setting_and_leaves_no_file(tmp_path: Path) -> None:
    n = 300_000
    table = pa.table({"user": [i % 977 for i in range(n)], "item": list(range(n)), "ts": list(range(n, 0, -1))})
    pq.write_table(table, tmp_path / "log.parquet")
    params = {"user_column": "user", "item_column": "item", "time_column": "ts"}
    with pytest.raises(TransformError, match="STEWARD_TRANSFORM_MEMORY_LIMIT"):
        run("sequence", [tmp_path / "log.parquet"], params, tmp_path, Limits(memory_limit="1MB", temp_dir=tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["log.parquet"]


def test_jobs_take_the_engines_limits_from_settings(settings: Any) -> None:
    from governance.catalog.transform_service import transform_limits

    settings.STEWARD_TRANSFORM_MEMORY_LIMIT = "256MB"
    settings.STEWARD_TRANSFORM_THREADS = 1
    limits = transform_limits()
    assert (limits.memory_limit, limits.threads) == ("256MB", 1)
    assert limits.temp_dir is not None and Path(settings.FILE_UPLOAD_TEMP_DIR) == limits.temp_dir


def test_sort_back_buckets_hold_a_share_of_the_memory_limit_sized_by_the_rows_width(tmp_path: Path) -> None:
    wide = pa.table({"a": list(range(100)), "seq": [list(range(20))] * 100})
    source = transforms.Source.arrow(wide)
    with transforms._connect([source], Limits(memory_limit="64MB", temp_dir=tmp_path)) as (con, spill):
        ctx = transforms.Context(con=con, sources=[source], sinks=lambda n: [], scratch=spill)
        limit = ctx.memory_limit()  # DuckDB shows 64MB as "61.0 MiB"
        assert 60 * 2**20 <= limit <= 64 * 10**6
        assert ctx.row_bytes(["a"]) == 8.0
        assert ctx.row_bytes() >= 8 + 20 * 8  # the list's values are counted
        assert ctx.bucket_rows(1000) == int(limit * transforms.SORT_BACK_SHARE / 1000)
        assert ctx.bucket_rows(1) == transforms.SORT_BACK_ROWS  # narrow rows: at most the cap
        assert ctx.bucket_rows(10**12) == 1


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("split", {"strategy": "time", "time_column": "ts", "fractions": [0.4, 0.6]}),
        ("sequence", {"user_column": "user", "item_column": "item", "time_column": "ts", "length": 3}),
        ("aggregates", AGG),
    ],
)
def test_rows_put_back_in_order_in_buckets_sized_by_bytes_give_what_one_bucket_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, params: dict[str, Any]
) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(LOG, path)
    expected = apply(operation, [LOG], params)
    # A share of the 64MB limit that holds a row or two of the log: the bytes, not SORT_BACK_ROWS, set the buckets.
    monkeypatch.setattr(transforms, "SORT_BACK_SHARE", 100 / 64e6)
    buckets: list[int] = []
    init = transforms._Buckets.__init__

    def counting(self: Any, ctx: Any, schema: pa.Schema, count: int, *args: Any) -> None:
        buckets.append(count)
        init(self, ctx, schema, count, *args)

    monkeypatch.setattr(transforms._Buckets, "__init__", counting)
    written = run(operation, [path], params, tmp_path, Limits(memory_limit="64MB", temp_dir=tmp_path, batch_rows=3))
    assert [pq.read_table(p) for p in written] == expected
    assert buckets and min(buckets) >= 3
