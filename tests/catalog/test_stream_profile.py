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
