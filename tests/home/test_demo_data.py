from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest
from sklearn.metrics import roc_auc_score

from home.demo_data import main, write_demo_data

# Deliberately simpler than Presidio: what a steward would grep for.
PHONE = re.compile(r"\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}")


def _rows(path: Path) -> list[dict]:
    return pa_csv.read_csv(path).to_pylist()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_demo_data(tmp_path_factory.mktemp("demo"), seed=7)


@pytest.fixture(scope="module")
def interactions(demo: dict[str, Path]) -> list[dict]:
    return _rows(demo["interactions"])


@pytest.fixture(scope="module")
def item_category(demo: dict[str, Path]) -> dict[int, str]:
    return {row["item_id"]: row["category"] for row in _rows(demo["items"])}


def test_returns_the_three_files_by_kind(demo: dict[str, Path]) -> None:
    assert {kind: path.name for kind, path in demo.items()} == {
        "users": "users.csv",
        "items": "items.csv",
        "interactions": "interactions.csv",
    }
    assert all(path.is_file() for path in demo.values())
    assert not list(demo["users"].parent.glob(".*.tmp"))


def test_same_seed_gives_identical_bytes(demo: dict[str, Path], tmp_path: Path) -> None:
    again = write_demo_data(tmp_path, seed=7)
    for kind, path in demo.items():
        assert again[kind].read_bytes() == path.read_bytes(), kind


def test_another_seed_gives_different_data(demo: dict[str, Path], tmp_path: Path) -> None:
    other = write_demo_data(tmp_path, seed=8)
    for kind, path in demo.items():
        assert other[kind].read_bytes() != path.read_bytes(), kind


def test_files_have_the_documented_columns_and_sizes(demo: dict[str, Path]) -> None:
    expected = {
        "users": [
            "user_id",
            "name",
            "email",
            "phone",
            "street_address",
            "city",
            "zip_code",
            "birth_date",
            "signup_date",
        ],
        "items": ["item_id", "title", "category", "brand", "price", "description"],
        "interactions": [
            "event_id",
            "user_id",
            "item_id",
            "timestamp",
            "event",
            "clicked",
            "purchased",
            "rating",
            "review_text",
        ],
    }
    sizes = {"users": 500, "items": 300, "interactions": 20000}
    for kind, path in demo.items():
        table = pa_csv.read_csv(path)
        assert table.column_names == expected[kind], kind
        assert table.num_rows == sizes[kind], kind


def test_sizes_follow_the_arguments(tmp_path: Path) -> None:
    paths = write_demo_data(tmp_path, seed=3, n_users=20, n_items=15, n_interactions=250)
    assert [len(_rows(paths[k])) for k in ("users", "items", "interactions")] == [20, 15, 250]


def test_interactions_reference_existing_users_and_items(demo: dict[str, Path], interactions: list[dict]) -> None:
    user_ids = {row["user_id"] for row in _rows(demo["users"])}
    item_ids = {row["item_id"] for row in _rows(demo["items"])}
    assert {row["user_id"] for row in interactions} <= user_ids
    assert {row["item_id"] for row in interactions} <= item_ids


def test_events_are_consistent_and_ordered_by_time(interactions: list[dict]) -> None:
    assert [row["event_id"] for row in interactions] == list(range(1, len(interactions) + 1))
    timestamps = [row["timestamp"] for row in interactions]
    assert timestamps == sorted(timestamps)
    assert str(timestamps[0].tzinfo) == "UTC"  # parsed as ISO 8601 timestamps by pyarrow
    expected_event = {(0, 0): "view", (1, 0): "click", (1, 1): "purchase"}
    for row in interactions:
        assert row["event"] == expected_event[(row["clicked"], row["purchased"])]
        if row["rating"] is not None:
            assert row["purchased"] == 1 and 1 <= row["rating"] <= 5
    events = Counter(row["event"] for row in interactions)
    assert events["view"] > events["click"] > 0 and events["purchase"] > 0
    assert len({row["rating"] for row in interactions} - {None}) == 5


def test_users_have_personal_data_columns_filled(demo: dict[str, Path]) -> None:
    users = _rows(demo["users"])
    assert all("@" in row["email"] for row in users)
    assert len({row["email"] for row in users}) == len(users)
    assert all(PHONE.search(str(row["phone"])) for row in users)
    assert all(row["name"] and row["street_address"] and row["city"] for row in users)


def test_some_but_not_most_reviews_contain_emails_or_phone_numbers(
    interactions: list[dict],
) -> None:
    reviews = [row["review_text"] for row in interactions if row["review_text"]]
    assert len(reviews) > 200
    leaking = [text for text in reviews if "@" in text or PHONE.search(text)]
    # The planted share is 15 % of reviews, about two thirds of it e-mails and phone numbers;
    # names and addresses need Presidio to find.
    assert 0.05 <= len(leaking) / len(reviews) <= 0.2
    assert any("@" in text for text in leaking)
    assert any(PHONE.search(text) for text in leaking)


def test_users_click_more_in_the_categories_they_see_most(
    interactions: list[dict], item_category: dict[int, str]
) -> None:
    exposure: dict[int, Counter] = defaultdict(Counter)
    for row in interactions:
        exposure[row["user_id"]][item_category[row["item_id"]]] += 1
    clicks = {True: [0, 0], False: [0, 0]}
    for row in interactions:
        favourite = exposure[row["user_id"]].most_common(1)[0][0]
        bucket = clicks[item_category[row["item_id"]] == favourite]
        bucket[0] += row["clicked"]
        bucket[1] += 1
    preferred_rate = clicks[True][0] / clicks[True][1]
    other_rate = clicks[False][0] / clicks[False][1]
    assert preferred_rate > 1.5 * other_rate


def test_clicks_are_predictable_on_a_later_time_slice(interactions: list[dict], item_category: dict[int, str]) -> None:
    cut = int(len(interactions) * 0.8)
    train, test = interactions[:cut], interactions[cut:]
    prior = sum(row["clicked"] for row in train) / len(train)
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in train:
        key = (row["user_id"], item_category[row["item_id"]])
        counts[key][0] += row["clicked"]
        counts[key][1] += 1

    def predict(row: dict) -> float:
        clicked, seen = counts.get((row["user_id"], item_category[row["item_id"]]), (0, 0))
        return (clicked + 2 * prior) / (seen + 2)

    auc = roc_auc_score([row["clicked"] for row in test], [predict(row) for row in test])
    assert auc > 0.6


def test_counts_below_one_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_items"):
        write_demo_data(tmp_path, n_items=0)
    assert not list(tmp_path.iterdir())


def test_cli_writes_the_files_and_prints_their_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nested" / "demo"
    assert main([str(out), "--seed", "5", "--users", "10", "--items", "8", "--interactions", "40"]) == 0
    printed = capsys.readouterr().out
    for kind, name in (("users", "users.csv"), ("items", "items.csv"), ("interactions", "interactions.csv")):
        assert f"{kind}: {out / name}" in printed
        assert (out / name).is_file()
    assert len(_rows(out / "interactions.csv")) == 40
