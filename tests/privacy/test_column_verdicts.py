"""Column verdicts from values, name and profile together, each with its reasons."""

from __future__ import annotations

import pyarrow as pa

from governance.privacy.classify import classify_column, classify_table


def test_integer_ids_are_not_usernames_or_phones_but_numeric_logins_with_letters_are_usernames(analyzer):
    ids = list(range(1001, 1041))
    report = classify_column("user_id", pa.int64(), ids, analyzer=analyzer)
    assert not report.flagged
    assert any(r.startswith("id-like column (numeric, named 'user_id'") for r in report.reasons)
    phones_as_ids = [2125550100 + i for i in range(40)]  # unique and increasing: a sequence, not phones
    assert not classify_column("ref", pa.int64(), phones_as_ids, analyzer=analyzer).flagged
    logins = [f"shopper{i}x" for i in range(40)]
    assert classify_column("user_id", pa.string(), logins, analyzer=analyzer).entity_type == "USERNAME"


def test_place_named_columns_need_place_like_values(analyzer):
    cities = ["Lake Jamesburgh", "North Christopher", "Port Jennifer", "Vila Real", "Kangerlussuaq"] * 8
    report = classify_column("city", pa.string(), cities, analyzer=analyzer)
    assert (report.entity_type, report.kind) == ("LOCATION", "entity")
    assert any(r.startswith("place-like values") for r in report.reasons)
    statuses = ["active", "pending", "closed", "on hold", "shipped", "returned"] * 7
    status = classify_column("state", pa.string(), statuses, analyzer=analyzer)
    assert not status.flagged and any("not place-like" in r for r in status.reasons)


def test_product_copy_of_an_items_table_does_not_count_names_but_keeps_real_pii(analyzer):
    chefs = ("Jamie Oliver", "Martha Stewart", "Gordon Ramsay", "Nigella Lawson", "Julia Child", "Mary Berry")
    titles = [f"{chef} {kind} Blender" for chef in chefs for kind in ("Classic", "Pro", "Mini", "Family")] * 2
    table = pa.table({"item_id": list(range(48)), "title": titles, "price": [9.5] * 48})
    reports = {r.name: r for r in classify_table(table, analyzer=analyzer)}
    assert not reports["title"].flagged
    assert any("product copy of an items table" in r for r in reports["title"].reasons)
    # The same column in a table of users is judged on its values.
    users = pa.table({"user_id": list(range(48)), "title": titles})
    assert {r.name: r for r in classify_table(users, analyzer=analyzer)}["title"].entity_type == "PERSON"


def test_few_distinct_values_are_a_category_not_names(analyzer):
    tiers = ["Gold", "Silver", "Bronze"] * 10
    report = classify_column("tier", pa.string(), tiers, analyzer=analyzer)
    assert not report.flagged


def test_precise_latitudes_and_longitudes_are_locations_with_masked_evidence(analyzer):
    lat = [41.274541, -33.868820, 51.507351, 35.689487] * 5
    report = classify_column("Latitude", pa.float64(), lat, analyzer=analyzer)
    assert (report.entity_type, report.kind, report.share) == ("LOCATION", "entity", 1.0)
    assert not any("41.274541" in s for s in report.snippets)
    rough = classify_column("lat", pa.float64(), [41.3, -33.9, 51.5] * 5, analyzer=analyzer)
    assert not rough.flagged and "values not precise coordinates" in rough.reasons[-1]
    assert classify_column("price", pa.float64(), [9.99] * 5, analyzer=analyzer).skipped
