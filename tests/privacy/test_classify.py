"""Column classification on tiny tables with the real analyzer."""

from __future__ import annotations

import pyarrow as pa

from governance.privacy.classify import classify_column, classify_table, name_hint, name_tokens

EMAILS = [f"user{i}@example.com" for i in range(20)]
REVIEWS = [
    "Great blender, arrived quickly and works well for smoothies.",
    "Terrible packaging, the box was crushed but the kettle works.",
    "Please call me back on 212-555-0147 about the refund for my order.",
    "Lovely colour, exactly as pictured, would buy this again soon.",
    "Sent to the wrong place, my address is 1659 Hoog Street, please fix.",
] * 4


def test_email_column_is_an_entity_column_with_masked_evidence(analyzer):
    report = classify_column("contact", pa.string(), EMAILS, analyzer=analyzer)
    assert (report.kind, report.entity_type, report.share) == ("entity", "EMAIL_ADDRESS", 1.0)
    assert "OfflineEmailRecognizer" in report.recognizers
    assert report.snippets and not any(e in s for s in report.snippets for e in EMAILS)


def test_review_column_is_free_text_that_contains_entities(analyzer):
    report = classify_column("review", pa.string(), REVIEWS, analyzer=analyzer)
    assert report.kind == "free_text"
    types = {e.entity_type: e.share for e in report.entities}
    assert types["PHONE_NUMBER"] == 0.2 and types["STREET_ADDRESS"] == 0.2
    assert not any("212-555-0147" in s or "Hoog" in s for s in report.snippets)


def test_columns_that_cannot_hold_pii_are_skipped_and_clean_columns_stay_unflagged(analyzer):
    table = pa.table(
        {
            "price": pa.array([9.99, 12.5, 3.0]),
            "in_stock": pa.array([True, False, True]),
            "category": pa.array(["kitchen", "garden", "toys"]),
        }
    )
    reports = {r.name: r for r in classify_table(table, analyzer=analyzer)}
    assert reports["price"].skipped and reports["in_stock"].skipped
    assert reports["category"].skipped is None and not reports["category"].flagged


def test_name_columns_are_flagged_from_their_name_and_the_shape_of_their_values(analyzer):
    surnames = ["Hamanová", "Neal", "Tratnik", "Desrosiers", "Kubíková", "Barrett"] * 3
    report = classify_column("Surname", pa.string(), surnames, analyzer=analyzer)
    assert report.entity_type == "PERSON" and report.kind == "entity"
    ids = ["5706114632083", "WK48391724", "190641-4941", "308.271.618-08"] * 3
    assert classify_column("NationalID", pa.string(), ids, analyzer=analyzer).entity_type == "NATIONAL_ID"
    # The same values under a neutral name are not claimed to be national ids.
    assert classify_column("code", pa.string(), ids, analyzer=analyzer).entity_type != "NATIONAL_ID"


def test_integer_card_numbers_are_analyzed_but_bare_ten_digit_ids_are_not_called_phones(analyzer):
    cards = pa.array([5545634085461876, 4916429195104076, 4532820383285186] * 4)
    assert classify_column("CCNumber", cards.type, cards.to_pylist(), analyzer=analyzer).entity_type == "CREDIT_CARD"
    transfer_ids = [6945116246, 6186449862, 1178606881, 7398998399] * 3
    assert not classify_column("TransferRef", pa.int64(), transfer_ids, analyzer=analyzer).flagged


def test_column_names_are_split_into_hint_tokens():
    assert name_tokens("EmailAddress") == ["email", "address"]
    assert name_tokens("cc_number") == ["cc", "number"]
    assert name_hint("TelephoneNumber") == "PHONE_NUMBER"
    assert name_hint("NameSet") is None and name_hint("CCType") is None
