"""Each transform on tiny tables (pure pyarrow, no Django), row expressions, and bad params through the API:
400 with a message, and no job, version, lineage edge or audit row written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent, Job
from governance.catalog import transforms
from governance.catalog.expressions import ExpressionError, compile_expression
from governance.catalog.models import DatasetVersion, LineageEdge
from governance.catalog.transforms import TransformError, apply

EVENTS = pa.table(
    {
        "user_id": [1, 1, 2, 2, 3, 3],
        "item_id": [10, 11, 10, 10, 12, 11],
        "event": ["view", "click", "view", "purchase", "click", "view"],
        "rating": [5, 3, None, 4, 2, 5],
        "price": [9.5, 20.0, 9.5, 9.5, 100.0, 20.0],
        "ts": [100, 200, 150, 300, 50, 250],
    }
)


def col(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def one(operation: str, params: dict[str, Any], *tables: pa.Table) -> pa.Table:
    outputs = apply(operation, list(tables) or [EVENTS], params)
    assert len(outputs) == 1
    return outputs[0]


# --- expressions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rating >= 4", [True, False, None, True, False, True]),
        ("event != 'view' and price > 10", [False, True, False, False, True, False]),
        ("event == 'purchase' or user_id == 3", [False, False, False, True, True, True]),
        ("not event == 'view'", [False, True, False, True, True, False]),
        ("event in ['click', 'purchase']", [False, True, False, True, True, False]),
        ("event not in ('view',)", [False, True, False, True, True, False]),
        ("price * 2 - 1 > 20", [False, True, False, False, True, True]),
        ("price / 2 + ts < 60", [False, False, False, False, False, False]),
        ("-ts < -200", [False, False, False, True, False, True]),
        ("100 <= ts < 250", [True, True, True, False, False, False]),
        ("col['user_id'] == 2", [False, False, True, True, False, False]),
    ],
)
def test_expression_compiles_to_the_expected_mask(text: str, expected: list[bool | None]) -> None:
    import pyarrow.dataset as pads

    mask = pads.dataset(EVENTS).to_table(columns={"m": compile_expression(text, EVENTS.column_names)}).column("m")
    assert mask.to_pylist() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("rating >=", "Cannot parse"),
        ("stars > 3", "Unknown column 'stars'"),
        ("col['stars'] > 3", "Unknown column 'stars'"),
        ("__import__('os').system('true')", "Unsupported syntax"),
        ("price.real > 1", "Unsupported syntax"),
        ("len(event) > 3", "Unsupported syntax"),
        ("event in other", "literal list"),
        ("event in [user_id]", "Only numbers, strings"),
        ("rating is None", "Unsupported comparison"),
        ("price ** 2 > 4", "Unsupported syntax"),
        ("lambda: 1", "Unsupported syntax"),
        ("-" * 3000 + "ts > 1", "nested too deeply"),
        ("not " * 3000 + "ts > 1", "nested too deeply"),
        ("ts\x00 > 1", "Cannot parse"),
        ("rating > 99999999999999999999999", "too large"),
        ("event in [1, 'a']", "of one type"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_expression_refuses_what_it_cannot_compile(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace("[", r"\[")):
        compile_expression(text, EVENTS.column_names)


def test_an_expression_that_is_not_text_is_refused() -> None:
    with pytest.raises(ExpressionError, match="empty"):
        compile_expression(None, EVENTS.column_names)  # type: ignore[arg-type]


# --- operations ----------------------------------------------------------------------------------------------------


def test_label_adds_a_0_1_column_with_missing_values_as_0() -> None:
    out = one("label", {"column": "liked", "expression": "rating >= 4"})
    assert out.column_names == [*EVENTS.column_names, "liked"]
    assert out.schema.field("liked").type == pa.int8()
    assert col(out, "liked") == [1, 0, 0, 1, 0, 1]


def test_label_defaults_to_a_column_named_label_and_may_replace_a_column() -> None:
    assert col(one("label", {"expression": "event == 'purchase'"}), "label") == [0, 0, 0, 1, 0, 0]
    replaced = one("label", {"column": "rating", "expression": "rating >= 4"})
    assert replaced.column_names.count("rating") == 1 and col(replaced, "rating") == [1, 0, 0, 1, 0, 1]


def test_filter_keeps_the_matching_rows_in_order() -> None:
    out = one("filter", {"expression": "event != 'view'"})
    assert col(out, "event") == ["click", "purchase", "click"] and col(out, "ts") == [200, 300, 50]


@pytest.mark.parametrize(("keep", "ts"), [("first", [100, 200, 150, 50, 250]), ("last", [100, 200, 300, 50, 250])])
def test_dedupe_keeps_the_first_or_last_row_per_key(keep: str, ts: list[int]) -> None:
    out = one("dedupe", {"keys": ["user_id", "item_id"], "keep": keep})
    assert col(out, "ts") == ts


def test_dedupe_without_keys_drops_exact_duplicate_rows() -> None:
    doubled = pa.concat_tables([EVENTS, EVENTS.slice(0, 2)])
    assert one("dedupe", {}, doubled).equals(EVENTS)


ITEMS = pa.table({"item_id": [10, 11, 13], "title": ["mug", "cup", "pan"], "price": [1.0, 2.0, 3.0]})


@pytest.mark.parametrize(
    ("how", "rows", "titles"),
    [
        ("inner", 5, {"mug", "cup"}),
        ("left", 6, {"mug", "cup", None}),
        ("outer", 7, {"mug", "cup", "pan", None}),
        ("right", 6, {"mug", "cup", "pan"}),
    ],
)
def test_join_matches_rows_on_the_keys(how: str, rows: int, titles: set[str | None]) -> None:
    out = one("join", {"on": ["item_id"], "how": how}, EVENTS, ITEMS)
    assert out.num_rows == rows
    assert set(col(out, "title")) == titles
    # The right side's clashing column keeps its values under a suffix.
    assert "price_right" in out.column_names


def test_join_keeps_the_left_tables_row_order_so_it_is_reproducible() -> None:
    # Enough rows that Arrow's multi-threaded hash join would emit them in a varying order.
    n = 200_000
    left = pa.table({"row": pa.array(range(n)), "item_id": pa.array([i % 1000 for i in range(n)])})
    right = pa.table({"item_id": pa.array(range(999, -1, -1)), "name": [f"item {i}" for i in range(999, -1, -1)]})
    outs = [one("join", {"on": ["item_id"]}, left, right) for _ in range(3)]
    assert col(outs[0], "row") == list(range(n))
    assert col(outs[0], "name")[:3] == ["item 0", "item 1", "item 2"]
    assert outs[0].column_names == ["row", "item_id", "name"]
    assert outs[1].equals(outs[0]) and outs[2].equals(outs[0])


def test_join_refuses_keys_of_different_types() -> None:
    other = ITEMS.set_column(0, "item_id", pa.array(["10", "11", "13"]))
    with pytest.raises(TransformError, match="types differ"):
        one("join", {"on": ["item_id"]}, EVENTS, other)


def test_select_drop_and_rename_reshape_columns() -> None:
    assert one("select", {"columns": ["ts", "user_id"]}).column_names == ["ts", "user_id"]
    assert one("select", {"columns": "event"}).column_names == ["event"]
    assert one("drop", {"columns": ["price", "ts"]}).column_names == ["user_id", "item_id", "event", "rating"]
    renamed = one("rename", {"columns": {"ts": "timestamp", "event": "action"}})
    assert renamed.column_names == ["user_id", "item_id", "action", "rating", "price", "timestamp"]
    assert col(renamed, "timestamp") == col(EVENTS, "ts")


def test_cast_converts_columns_to_the_named_types() -> None:
    table = pa.table(
        {
            "n": ["1", "2", None],
            "f": [1, 2, 3],
            "day": ["2024-01-02", "2024-02-03", "2024-03-04"],
            "flag": ["true", "false", "true"],
        }
    )
    out = one("cast", {"columns": {"n": "int", "f": "float", "day": "date", "flag": "bool"}}, table)
    assert [str(t) for t in out.schema.types] == ["int64", "double", "date32[day]", "bool"]
    assert col(out, "n") == [1, 2, None] and col(out, "flag") == [True, False, True]
    assert str(col(out, "day")[0]) == "2024-01-02"


def test_cast_names_the_column_whose_values_do_not_fit() -> None:
    with pytest.raises(TransformError, match="Column event has values that cannot become int"):
        one("cast", {"columns": {"event": "int"}})


@pytest.mark.parametrize(
    ("params", "filled"),
    [
        ({"columns": ["rating"]}, 3.8),
        ({"columns": ["rating"], "strategy": "median"}, 4.0),
        ({"columns": ["rating"], "strategy": "mode"}, 5),
        ({"columns": ["rating"], "strategy": "constant", "value": 0}, 0),
    ],
)
def test_impute_fills_missing_values(params: dict[str, Any], filled: float) -> None:
    values = col(one("impute", params), "rating")
    assert values[2] == pytest.approx(filled)
    assert values[:2] + values[3:] == [5, 3, 4, 2, 5]


def test_impute_mode_works_on_text_columns() -> None:
    table = pa.table({"city": ["Berlin", None, "Berlin", "Paris"]})
    assert col(one("impute", {"columns": ["city"], "strategy": "mode"}, table), "city") == [
        "Berlin",
        "Berlin",
        "Berlin",
        "Paris",
    ]


def test_clip_caps_values_at_the_quantiles() -> None:
    table = pa.table({"x": list(range(101))})
    out = col(one("clip", {"columns": ["x"], "lower": 0.1, "upper": 0.9}, table), "x")
    assert min(out) == 10 and max(out) == 90 and out[50] == 50


def test_random_split_partitions_every_row_once_and_repeats_with_the_seed() -> None:
    table = pa.table({"i": list(range(100))})
    parts = apply("split", [table], {"fractions": [0.6, 0.2, 0.2], "seed": 3})
    assert [p.num_rows for p in parts] == [60, 20, 20]
    assert sorted(i for p in parts for i in col(p, "i")) == list(range(100))
    again = apply("split", [table], {"fractions": [0.6, 0.2, 0.2], "seed": 3})
    assert all(a.equals(b) for a, b in zip(parts, again, strict=True))
    other = apply("split", [table], {"fractions": [0.6, 0.2, 0.2], "seed": 4})
    assert not other[0].equals(parts[0])


def test_time_split_puts_the_latest_rows_last() -> None:
    train, test = apply("split", [EVENTS], {"strategy": "time", "time_column": "ts", "fractions": [0.5, 0.5]})
    assert max(col(train, "ts")) < min(col(test, "ts"))
    assert col(train, "ts") == [50, 100, 150]


def test_user_split_keeps_each_user_on_one_side() -> None:
    table = pa.table({"user_id": [u for u in range(40) for _ in range(3)], "item_id": list(range(120))})
    parts = apply("split", [table], {"strategy": "user", "user_column": "user_id", "fractions": [0.5, 0.5]})
    users = [set(col(p, "user_id")) for p in parts]
    assert not users[0] & users[1]
    assert users[0] | users[1] == set(range(40)) and sum(p.num_rows for p in parts) == 120


def test_negative_sampling_adds_unseen_pairs_labelled_0() -> None:
    out = one(
        "negative_sampling",
        {"user_column": "user_id", "item_column": "item_id", "ratio": 1, "seed": 0},
        EVENTS.filter(pc.field("event") != "view"),
    )
    assert out.column_names == ["user_id", "item_id", "label"]
    positives = [
        (u, i)
        for u, i, lab in zip(col(out, "user_id"), col(out, "item_id"), col(out, "label"), strict=True)
        if lab == 1
    ]
    negatives = [
        (u, i)
        for u, i, lab in zip(col(out, "user_id"), col(out, "item_id"), col(out, "label"), strict=True)
        if lab == 0
    ]
    assert sorted(positives) == [(1, 11), (2, 10), (3, 12)]
    assert negatives and not set(negatives) & set(positives)
    assert {i for _, i in negatives} <= {10, 11, 12}


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("label", {"expression": "rating + 1"}, "must be a comparison"),
        ("label", {"expression": "event >= 4"}, "cannot be computed"),
        ("label", {"column": 7, "expression": "rating >= 4"}, "column"),
        ("filter", {"expression": "price + 1"}, "filter cannot be computed"),
        ("filter", {}, "empty"),
        ("dedupe", {"keys": ["nope"]}, "Unknown column(s) in `keys`: nope"),
        ("dedupe", {"keep": "middle"}, "`keep` must be"),
        ("select", {"columns": []}, "non-empty list"),
        ("select", {"columns": [1, 2]}, "non-empty list"),
        ("select", {"columns": ["ts", "ts"]}, "names a column more than once"),
        ("drop", {"columns": ["ghost"]}, "Unknown column(s) in `columns`: ghost"),
        ("rename", {"columns": ["ts"]}, "map old names to new names"),
        ("rename", {"columns": {"ts": "event"}}, "unique"),
        ("rename", {"columns": {"ts": ""}}, "non-empty"),
        ("rename", {"columns": {"ts": ["a"]}}, "non-empty"),
        ("cast", {"columns": {"ts": "decimal"}}, "Unknown type 'decimal'"),
        ("cast", {"columns": {"ts": ["int"]}}, "Unknown type"),
        ("cast", {"columns": {}}, "map column names to types"),
        ("impute", {"columns": ["event"]}, "not numeric"),
        ("impute", {"columns": ["rating"], "strategy": "constant"}, "needs `value`"),
        ("impute", {"columns": ["rating"], "strategy": "constant", "value": "high"}, "does not fit"),
        ("impute", {"columns": ["rating"], "strategy": "guess"}, "`strategy` must be"),
        ("clip", {"columns": ["event"]}, "not numeric"),
        ("clip", {"columns": ["price"], "lower": 0.9, "upper": 0.1}, "Quantiles"),
        ("clip", {"columns": ["price"], "lower": "low"}, "`lower` must be a number"),
        ("clip", {"columns": ["price"], "upper": None}, "`upper` must be a number"),
        ("split", {"fractions": [0.5, 0.6]}, "add up to 1"),
        ("split", {"fractions": [1.0]}, "2 or more"),
        ("split", {"fractions": "half"}, "fractions"),
        ("split", {"strategy": "time"}, "time_column"),
        ("split", {"strategy": "alphabetical"}, "`strategy` must be"),
        ("split", {"seed": "abc"}, "`seed` must be a number"),
        ("join", {"on": ["item_id"], "how": "sideways"}, "`how` must be"),
        ("join", {"on": ["item_id"], "how": ["inner"]}, "`how` must be"),
        ("join", {"on": ["title"]}, "Unknown column(s) in `on`: title"),
        ("negative_sampling", {"user_column": "user_id"}, "item_column"),
        ("negative_sampling", {"user_column": "user_id", "item_column": "item_id", "ratio": 0}, "`ratio` must be"),
        (
            "negative_sampling",
            {"user_column": "user_id", "item_column": "item_id", "ratio": "many"},
            "`ratio` must be a number",
        ),
        (
            "negative_sampling",
            {"user_column": "user_id", "item_column": "item_id", "label_column": ["x"]},
            "label_column",
        ),
        ("teleport", {}, "Unknown operation 'teleport'"),
    ],
)
def test_bad_params_raise_a_transform_error_naming_the_problem(
    operation: str, params: dict[str, Any], message: str
) -> None:
    tables = [EVENTS, ITEMS] if operation == "join" else [EVENTS]
    with pytest.raises(TransformError) as raised:
        apply(operation, tables, params)
    assert message in str(raised.value)


def test_every_operation_is_documented_with_example_params() -> None:
    assert set(transforms.OPERATIONS) == {
        "label",
        "filter",
        "dedupe",
        "join",
        "select",
        "drop",
        "rename",
        "cast",
        "impute",
        "clip",
        "split",
        "negative_sampling",
        "outliers",
        "bucketize",
        "text_normalize",
        "time_features",
        "aggregates",
        "sequence",
    }
    assert all(doc.startswith("{") for _, doc in transforms.OPERATIONS.values())
    # Every operation has a description and its parameters, and its example names only documented parameters.
    assert set(transforms.PARAMS) == set(transforms.OPERATIONS)
    for name, (description, params) in transforms.PARAMS.items():
        assert description and all(p.help for p in params)
        assert set(transforms.EXAMPLES[name]) <= {p.name for p in params}


# --- through the API -----------------------------------------------------------------------------------------------


@pytest.fixture
def version(upload: Callable[..., Any]) -> DatasetVersion:
    text = "user_id,item_id,event,rating,ts\n1,10,view,5,100\n1,11,click,3,200\n2,10,purchase,,300\n"
    return upload(text, name="events.csv")


def _written() -> tuple[int, int, int, int]:
    return Job.objects.count(), DatasetVersion.objects.count(), LineageEdge.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"operation": "teleport", "params": {}}, "operation"),
        ({"params": {}}, "operation"),
        ({"operation": "select", "params": "columns"}, "params"),
        ({"operation": "select", "params": {"columns": ["ghost"]}}, "Unknown column(s) in `columns`: ghost"),
        ({"operation": "dedupe", "params": {"keys": ["user_id"], "keep": "middle"}}, "`keep` must be"),
        ({"operation": "label", "params": {"column": "liked", "expression": "stars >= 4"}}, "Unknown column 'stars'"),
        ({"operation": "label", "params": {"expression": "rating >="}}, "Cannot parse"),
        ({"operation": "label", "params": {"expression": "rating + 1"}}, "must be a comparison"),
        ({"operation": "filter", "params": {"expression": "__import__('os')"}}, "Unsupported syntax"),
        ({"operation": "filter", "params": {"expression": "-" * 5000 + "ts > 1"}}, "nested too deeply"),
        ({"operation": "cast", "params": {"columns": {"rating": "decimal"}}}, "Unknown type 'decimal'"),
        ({"operation": "impute", "params": {"columns": ["event"], "strategy": "mean"}}, "not numeric"),
        ({"operation": "clip", "params": {"columns": ["rating"], "lower": "low"}}, "`lower` must be a number"),
        ({"operation": "split", "params": {"fractions": [0.9, 0.2]}}, "add up to 1"),
        ({"operation": "split", "params": {"strategy": "time", "time_column": "when"}}, "Unknown column(s)"),
        ({"operation": "join", "params": {"right": 999999, "on": ["item_id"]}}, "`right` must be the id"),
        ({"operation": "join", "params": {"right": "self", "on": ["item_id"]}}, "`right` must be the id"),
        (
            {
                "operation": "negative_sampling",
                "params": {"user_column": "user_id", "item_column": "item_id", "ratio": 99},
            },
            "`ratio` must be",
        ),
        ({"operation": "select", "params": {"columns": ["user_id"], "output_dataset": ""}}, "output_dataset"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_transform_params_are_a_400_and_write_nothing(
    steward_api: APIClient, version: DatasetVersion, body: dict[str, Any], message: str
) -> None:
    before = _written()
    response = steward_api.post(f"/api/v1/dataset-versions/{version.pk}/transforms/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert _written() == before


def test_a_join_with_keys_missing_on_the_right_is_a_400(
    steward_api: APIClient, version: DatasetVersion, upload: Callable[..., Any]
) -> None:
    items = upload("sku,title\n10,mug\n", name="items.csv", dataset="items")
    before = _written()
    response = steward_api.post(
        f"/api/v1/dataset-versions/{version.pk}/transforms/",
        {"operation": "join", "params": {"right": items.pk, "on": ["item_id"]}},
        format="json",
    )
    assert response.status_code == 400
    assert "Unknown column(s) in `on`: item_id" in response.json()["detail"]
    assert _written() == before


def test_a_join_through_the_api_registers_a_version_with_two_parents(
    steward_api: APIClient,
    version: DatasetVersion,
    upload: Callable[..., Any],
    run_tasks_eagerly: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    items = upload("item_id,title\n10,mug\n11,cup\n", name="items.csv", dataset="items")
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(
            f"/api/v1/dataset-versions/{version.pk}/transforms/",
            {
                "operation": "join",
                "params": {"right": items.pk, "on": ["item_id"], "how": "left", "output_dataset": "events-with-titles"},
            },
            format="json",
        )
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    joined = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert joined.dataset.name == "events-with-titles"
    assert joined.row_count == 3 and "title" in joined.column_names
    assert sorted(LineageEdge.objects.filter(target_id=joined.pk).values_list("source_id", flat=True)) == sorted(
        [version.pk, items.pk]
    )


def test_a_transform_whose_values_fail_at_run_time_ends_as_a_failed_job_without_a_version(
    steward_api: APIClient, version: DatasetVersion, run_tasks_eagerly: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Column types are known when the job is asked for; whether every value casts is only known by running it.
    versions = DatasetVersion.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(
            f"/api/v1/dataset-versions/{version.pk}/transforms/",
            {"operation": "cast", "params": {"columns": {"event": "int"}}},
            format="json",
        )
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.error == "Column event has values that cannot become int."
    assert DatasetVersion.objects.count() == versions


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("label", {"column": "liked", "expression": "rating >= 4"}),
        ("filter", {"expression": "event != 'view'"}),
        ("dedupe", {"keys": ["user_id"], "keep": "last"}),
        ("join", {"on": ["item_id"], "how": "left"}),
        ("select", {"columns": ["user_id", "item_id"]}),
        ("drop", {"columns": ["ts"]}),
        ("rename", {"columns": {"ts": "timestamp"}}),
        ("cast", {"columns": {"rating": "float"}}),
        ("impute", {"columns": ["rating"], "strategy": "median"}),
        ("clip", {"columns": ["rating"], "lower": 0.05, "upper": 0.95}),
        ("split", {"strategy": "user", "user_column": "user_id", "fractions": [0.5, 0.5], "seed": 1}),
        ("negative_sampling", {"user_column": "user_id", "item_column": "item_id", "ratio": 2}),
    ],
)
def test_every_operation_with_good_params_is_accepted_as_a_job(
    steward_api: APIClient, version: DatasetVersion, operation: str, params: dict[str, Any]
) -> None:
    if operation == "join":
        params = params | {"right": version.pk}
    response = steward_api.post(
        f"/api/v1/dataset-versions/{version.pk}/transforms/", {"operation": operation, "params": params}, format="json"
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.status, job.params["operation"]) == ("transform", "queued", operation)
