"""The check's engine alone (no database): the trickier counting rules on hand-built Parquet files."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from governance.quality.engine import Context, RuleSpec, evaluate


def _file(tmp_path, name, **columns):
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=3)
    return path


def _run(path, kind, columns, params=None, **ctx):
    spec = RuleSpec(id=1, name=kind, kind=kind, severity="blocking", columns=columns, params=params or {})
    context = Context(version_time=datetime(2024, 1, 10, tzinfo=UTC), batch_rows=2, **ctx)
    return evaluate(path, [spec], context)[0]


def test_unique_fails_every_repeat_after_a_keys_first_row_and_ignores_null_keys(tmp_path):
    path = _file(
        tmp_path,
        "t",
        user=pa.array([1, 2, 1, 1, None, None, 2, 3]),
        item=pa.array(["a", "a", "a", "b", "a", "a", "a", None]),
    )
    single = _run(path, "unique", ["user"])
    assert (single["failing_count"], single["failing_rows"]) == (3, [2, 3, 6])
    pair = _run(path, "unique", ["user", "item"])
    assert (pair["failing_count"], pair["failing_rows"]) == (2, [2, 6])


def test_distribution_shift_counts_a_new_category_in_the_rest_bucket(tmp_path):
    before = _file(tmp_path, "before", group=pa.array(["a", "b"] * 50))
    same = _file(tmp_path, "same", group=pa.array(["b", "a"] * 50))
    new = _file(tmp_path, "new", group=pa.array(["a", "b", "c", "c"] * 25))
    assert _run(same, "distribution_shift", ["group"], {"threshold": 0.1}, previous_path=before)["passed"]
    shifted = _run(new, "distribution_shift", ["group"], {"threshold": 0.1}, previous_path=before)
    assert not shifted["passed"] and shifted["failing_count"] == 1


def test_references_compare_keys_of_different_integer_types(tmp_path):
    items = _file(tmp_path, "items", item_id=pa.array([1, 2, 3], type=pa.int32()))
    clicks = _file(tmp_path, "clicks", item_id=pa.array([1, 4, None, 3, 5], type=pa.int64()))
    result = _run(
        clicks, "references", ["item_id"], {"dataset_version": 7, "column": "item_id"}, reference_paths={7: items}
    )
    assert (result["failing_count"], result["failing_rows"]) == (2, [1, 4])


def test_allowed_values_that_do_not_fit_the_column_type_are_compared_as_text(tmp_path):
    path = _file(tmp_path, "t", rating=pa.array([1, 2, 7]))
    result = _run(path, "allowed_values", ["rating"], {"values": [1, 2, 10**30]})
    assert (result["failing_count"], result["failing_rows"]) == (1, [2])
