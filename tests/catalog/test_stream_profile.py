"""The profile computed from the row groups while they are written equals the one read back from the Parquet copy."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from governance.catalog import ingest

APPROX = {"mean", "std", "mean_length"}  # float sums merged chunk by chunk: equal up to rounding


def _assert_same(streamed: list[dict[str, Any]], read_back: list[dict[str, Any]]) -> None:
    assert [c["name"] for c in streamed] == [c["name"] for c in read_back]
    for got, want in zip(streamed, read_back, strict=True):
        assert set(got) == set(want), got["name"]
        for key, value in want.items():
            if key in APPROX and value is not None:
                assert got[key] == pytest.approx(value, rel=1e-12), (got["name"], key)
            else:
                assert got[key] == value, (got["name"], key)


def _table(rows: int) -> pa.Table:
    nan = float("nan")
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "user": pa.array([f"u{i % 7}" if i % 11 else None for i in range(rows)]),
            "rating": pa.array([(i % 5) + 1 if i % 4 else None for i in range(rows)], pa.int32()),
            "price": pa.array([nan if i == 3 else (i % 13) * 1.37 for i in range(rows)]),
            "score": pa.array([None] * rows, pa.float64()),
            "clicked": pa.array([i % 3 == 0 for i in range(rows)]),
            "ts": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(hours=i % 50) for i in range(rows)]),
            "tags": pa.array([[i % 2, 1] for i in range(rows)]),
            "amount": pa.array([None if i % 9 == 0 else i % 4 for i in range(rows)], pa.decimal128(10, 2)),
            "nothing": pa.nulls(rows),
            "tie": pa.array([f"t{(i * 7) % 12}" for i in range(rows)]),  # every value equally often
        }
    )


@pytest.mark.parametrize("rows", [1, 50, 2_000])
def test_the_streamed_profile_of_a_parquet_upload_equals_the_profile_of_its_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    # Small row groups, so the profile is merged across several of them.
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", 300)
    monkeypatch.setattr(ingest, "PARQUET_BATCH_ROWS", 128)
    src = tmp_path / "in.parquet"
    import pyarrow.parquet as pq

    pq.write_table(_table(rows), src)
    out = tmp_path / "out.parquet"
    result = ingest.ingest(src, "parquet", out, profile_max_rows=10_000)
    assert result.profile is not None
    _assert_same(result.profile, ingest.profile_parquet(out))
    if rows == 2_000:
        tie = next(c for c in result.profile if c["name"] == "tie")
        assert [t["value"] for t in tie["top_values"]] == ["t0", "t7", "t2", "t9", "t4"]  # first seen wins a tie


def test_the_streamed_profile_of_a_csv_equals_the_read_back_one_even_when_a_later_block_changes_a_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first block says `code` is an integer, a later one holds text: the file is read again and the
    # profile must describe only the final pass.
    monkeypatch.setattr(ingest, "BLOCK_SIZE", 1 << 12)
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", 200)
    lines = ["code,price,name"] + [f"{i % 17},{i * 0.5},n{i % 5}" for i in range(1_500)] + ["x9,1.0,"]
    src = tmp_path / "in.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.parquet"
    result = ingest.ingest(src, "csv", out, profile_max_rows=10_000)
    assert result.row_count == 1_501
    assert result.profile is not None
    by_name = {c["name"]: c for c in result.profile}
    assert by_name["code"]["dtype"] == "string" and by_name["code"]["distinct_count"] == 18
    assert by_name["name"]["null_count"] == 1
    assert math.isclose(by_name["price"]["max"], 749.5)
    _assert_same(result.profile, ingest.profile_parquet(out))


def test_over_the_row_limit_no_profile_is_streamed(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(100)))
    result = ingest.ingest(src, "csv", tmp_path / "out.parquet", profile_max_rows=99)
    assert result.row_count == 100 and result.profile is None


def _reference_counts(values: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Distinct count and top values as a reader would count them by hand: by count, then first seen."""
    counts: dict[Any, int] = {}
    for v in values:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1  # dicts keep first-seen order; sorted() is stable
    top = sorted(counts.items(), key=lambda kv: -kv[1])[: ingest.TOP_VALUES]
    return len(counts), [{"value": v, "count": c} for v, c in top]


@pytest.mark.parametrize(
    ("label", "values", "dtype", "counted_by_bincount"),
    [
        ("ties settled by first appearance", [(i * 7919) % 12 for i in range(1_000)], pa.int64(), True),
        ("nulls and negatives", [None if i % 6 == 0 else -50 + (i * 31) % 23 for i in range(900)], pa.int32(), True),
        ("int8 spanning its whole range", [-128, 127, 0, 0, -128, 5, 127, 0], pa.int8(), True),
        ("unsigned 64-bit near the top", [2**64 - 1 - (i % 9) for i in range(100)], pa.uint64(), True),
        ("a span too wide for a count array", [i * 10**12 for i in range(50)] * 3 + [7], pa.int64(), False),
        ("more tied values than candidates allowed", list(range(200)) * 2, pa.int64(), False),
    ],
)
def test_integer_distinct_counts_and_top_values_match_a_count_by_hand(
    monkeypatch: pytest.MonkeyPatch, label: str, values: list[Any], dtype: pa.DataType, counted_by_bincount: bool
) -> None:
    if counted_by_bincount:  # the hash-table path must not be what answers

        def no_hashing(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("value_counts used")

        monkeypatch.setattr(ingest.pc, "value_counts", no_hashing)
    stats = ingest.profile_column("n", pa.chunked_array([pa.array(values, dtype)]))
    distinct, top = _reference_counts(values)
    assert stats["distinct_count"] == distinct, label
    assert stats["top_values"] == top, label


def test_a_unique_integer_column_has_no_top_values() -> None:
    stats = ingest.profile_column("id", pa.chunked_array([pa.array(range(10_000), pa.int64())]))
    assert stats["distinct_count"] == 10_000 and "top_values" not in stats


def _csv(path: Path, rows: int) -> Path:
    lines = ["id,user:token,rating,price,city,when,note"]
    for i in range(rows):
        rating = "" if i % 5 == 0 else str(i % 5)
        note = "" if i % 3 else f"n{i % 11}"
        lines.append(f"{i},u{i % 37},{rating},{(i % 17) * 1.25},c{(i * 13) % 9},2024-01-{1 + i % 28:02d}T10:00,{note}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_read_whole_has_the_rows_types_and_profile_of_one_streamed_and_of_its_copy(tmp_path: Path) -> None:
    src = _csv(tmp_path / "in.csv", 3_000)
    whole = ingest.ingest(
        src, "csv", tmp_path / "whole.parquet", profile_max_rows=10_000, whole_file_max_bytes=src.stat().st_size
    )
    streamed = ingest.ingest(src, "csv", tmp_path / "streamed.parquet", profile_max_rows=10_000)
    assert whole.row_count == streamed.row_count == 3_000
    assert whole.columns == streamed.columns
    assert [c["name"] for c in whole.columns] == ["id", "user", "rating", "price", "city", "when", "note"]
    assert whole.profile is not None and streamed.profile is not None
    _assert_same(whole.profile, streamed.profile)
    read_back = ingest.profile_parquet(tmp_path / "whole.parquet")
    # Parquet keeps no second unit: a timestamp[s] column reads back as timestamp[ms] (so in both paths).
    _assert_same(
        [{**c, "dtype": None} for c in whole.profile if c["name"] != "when"],
        [{**c, "dtype": None} for c in read_back if c["name"] != "when"],
    )
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "whole.parquet").equals(pq.read_table(tmp_path / "streamed.parquet"))


def test_a_csv_read_whole_still_refuses_bad_input_and_the_limits(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(ingest.IngestError, match="header has 2 columns but a row has 3"):
        ingest.ingest(ragged, "csv", tmp_path / "o.parquet", whole_file_max_bytes=1 << 20)
    dupes = tmp_path / "dupes.csv"
    dupes.write_text("a,a\n1,2\n")
    with pytest.raises(ingest.IngestError, match="Duplicate column names: a"):
        ingest.ingest(dupes, "csv", tmp_path / "o.parquet", whole_file_max_bytes=1 << 20)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ingest.IngestError, match="not valid in its encoding"):
        ingest.ingest(latin, "csv", tmp_path / "o.parquet", whole_file_max_bytes=1 << 20)
    src = _csv(tmp_path / "in.csv", 500)
    with pytest.raises(ingest.IngestError, match="more than 100 rows"):
        ingest.ingest(
            src, "csv", tmp_path / "o.parquet", limits=ingest.Limits(max_rows=100), whole_file_max_bytes=1 << 20
        )
    assert not (tmp_path / "o.parquet").exists()


def test_over_the_row_limit_a_csv_read_whole_has_no_profile(tmp_path: Path) -> None:
    src = _csv(tmp_path / "in.csv", 100)
    result = ingest.ingest(src, "csv", tmp_path / "o.parquet", profile_max_rows=99, whole_file_max_bytes=1 << 20)
    assert result.row_count == 100 and result.profile is None


@pytest.mark.parametrize("whole_file_max_bytes", [0, 1 << 20])
def test_near_unique_columns_are_written_without_a_dictionary(tmp_path: Path, whole_file_max_bytes: int) -> None:
    import pyarrow.parquet as pq

    src = _csv(tmp_path / "in.csv", 3_000)
    out = tmp_path / "out.parquet"
    ingest.ingest(src, "csv", out, whole_file_max_bytes=whole_file_max_bytes)
    meta = pq.ParquetFile(out).metadata
    encodings = {meta.schema.column(i).name: meta.row_group(0).column(i).encodings for i in range(meta.num_columns)}
    assert not any("DICTIONARY" in e for e in encodings["id"])  # every id is new: plain from the start
    assert any("DICTIONARY" in e for e in encodings["city"])  # nine cities: a dictionary
    assert pq.read_table(out).column("id").to_pylist() == list(range(3_000))


def test_a_csv_read_whole_infers_types_over_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Several blocks: integers first, then a decimal in `a` and text in `b` on the last line. Read whole, pyarrow
    # widens `a` to double; streamed block by block, a column that changes type after the first block is text.
    monkeypatch.setattr(ingest, "BLOCK_SIZE", 1 << 12)
    src = tmp_path / "late.csv"
    src.write_text("a,b,c\n" + "".join(f"{i},{i},{i}\n" for i in range(3_000)) + "1.5,x9,\n")
    whole = ingest.ingest(src, "csv", tmp_path / "w.parquet", profile_max_rows=10_000, whole_file_max_bytes=1 << 20)
    streamed = ingest.ingest(src, "csv", tmp_path / "s.parquet", profile_max_rows=10_000)
    assert [c["dtype"] for c in whole.columns] == ["double", "string", "int64"]
    assert [c["dtype"] for c in streamed.columns] == ["string", "string", "int64"]
    assert whole.profile is not None
    by_name = {c["name"]: c for c in whole.profile}
    assert by_name["a"]["max"] == 2_999 and by_name["b"]["distinct_count"] == 3_001 and by_name["c"]["null_count"] == 1
