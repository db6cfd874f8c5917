"""The demo search log (the fourth demo dataset): real query-item pairs over the demo catalogue for relevance
projects, seeded and reproducible."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest

from home.demo_data import SEARCH_LOG_COLUMNS, write_demo_data, write_search_log


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("demo")
    files = write_demo_data(out, seed=7)
    files["search_log"] = write_search_log(out, seed=7)
    return files


def test_the_search_log_has_the_documented_columns_and_ten_results_per_search(demo: dict[str, Path]) -> None:
    table = pa_csv.read_csv(demo["search_log"])
    assert tuple(table.column_names) == SEARCH_LOG_COLUMNS
    assert table.num_rows == 3000 * 10
    positions = defaultdict(list)
    for search, position in zip(
        table.column("search_id").to_pylist(), table.column("position").to_pylist(), strict=True
    ):
        positions[search].append(position)
    assert all(sorted(p) == list(range(1, 11)) for p in positions.values())
    ids = table.column("search_id").to_pylist()
    assert ids[0] == 1 and max(ids) == 3000  # numbered in time order


def test_items_shown_are_the_demo_catalogue_items_with_their_titles(demo: dict[str, Path]) -> None:
    items = {r["item_id"]: r["title"] for r in pa_csv.read_csv(demo["items"]).to_pylist()}
    for row in pa_csv.read_csv(demo["search_log"]).to_pylist():
        assert items[row["item_id"]] == row["title"]


def test_clicks_fall_with_position_and_favour_results_that_match_the_query(demo: dict[str, Path]) -> None:
    rows = pa_csv.read_csv(demo["search_log"]).to_pylist()
    rate = {p: sum(r["clicked"] for r in rows if r["position"] == p) / 3000 for p in (1, 5, 10)}
    assert rate[1] > rate[5] > rate[10] > 0
    # A product query's results whose title names the product are clicked more than the others.
    named = [r["clicked"] for r in rows if r["query"].split()[-1].lower() in r["title"].lower()]
    other = [r["clicked"] for r in rows if r["query"].split()[-1].lower() not in r["title"].lower()]
    assert sum(named) / len(named) > 2 * sum(other) / len(other)


def test_the_same_seed_gives_the_same_bytes_and_leaves_the_other_files_alone(
    demo: dict[str, Path], tmp_path: Path
) -> None:
    assert write_search_log(tmp_path, seed=7).read_bytes() == demo["search_log"].read_bytes()
    alone = write_demo_data(tmp_path / "alone", seed=7)
    for kind in ("users", "items", "interactions"):
        assert alone[kind].read_bytes() == demo[kind].read_bytes()


@pytest.mark.django_db
def test_setup_registers_the_search_log_as_the_fourth_demo_dataset(settings, tmp_path: Path) -> None:
    from django.core.management import call_command

    from governance.catalog.models import Dataset

    settings.DATA_DIR = tmp_path
    call_command("steward_setup", stdout=io.StringIO())
    log = Dataset.objects.get(name="demo-search-log")
    assert log.kind == "interactions" and log.latest_version().row_count == 30000
    assert sorted(Dataset.objects.values_list("name", flat=True)) == [
        "demo-interactions",
        "demo-items",
        "demo-search-log",
        "demo-users",
    ]
