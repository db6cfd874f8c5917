"""Rules suggested from a version's profile; a steward accepts or rejects each, and an accepted one checks the
current version at once."""

from __future__ import annotations

import pytest

from governance.quality.models import QualityRule
from governance.quality.services import quality_suggestion_decide, quality_suggestions_create

pytestmark = pytest.mark.django_db


def _rows(n: int = 200) -> str:
    lines = ["order_id,user_id,status,price,timestamp,note"]
    for i in range(n):
        note = "" if i % 3 else "gift"
        price = 1000.0 if i == 7 else 10.0 + i % 50
        lines.append(f"{i},{i % 17},{('new', 'paid', 'sent')[i % 3]},{price},{1_700_000_000 + i * 60},{note}")
    return "\n".join(lines) + "\n"


def test_suggestions_follow_the_profile(scan_upload, steward):
    # Scanned: rules that carry values (allowed_values) are suggested only for columns a finished scan cleared.
    version = scan_upload(_rows(), dataset="orders")
    suggested = quality_suggestions_create(actor=steward, version=version)
    got = {(r.kind, tuple(r.columns)): r for r in suggested}
    assert set(got) == {
        ("not_null", ("order_id",)),
        ("unique", ("order_id",)),
        ("not_null", ("user_id",)),
        ("not_null", ("status",)),
        ("allowed_values", ("status",)),
        ("not_null", ("price",)),
        ("range", ("price",)),
        ("not_null", ("timestamp",)),
        ("freshness", ("timestamp",)),
        ("allowed_values", ("note",)),  # nulls: no not_null, but its one value is a low-cardinality set
    }
    assert got[("allowed_values", ("status",))].params == {"values": ["new", "paid", "sent"]}
    bounds = got[("range", ("price",))].params
    assert 0 <= bounds["min"] <= 10 and 59 <= bounds["max"] < 1000  # robust: the one outlier does not set the bound
    assert got[("freshness", ("timestamp",))].params["max_age_days"] >= 7
    assert all(r.status == "suggested" and r.suggested_from_id == version.pk for r in suggested)


def test_accepting_a_suggestion_checks_the_current_version_at_once_and_rejections_are_remembered(
    upload, steward, committing
):
    version = upload(_rows(), dataset="orders")
    suggested = {(r.kind, r.columns[0]): r for r in quality_suggestions_create(actor=steward, version=version)}
    committing(quality_suggestion_decide, actor=steward, rule=suggested[("range", "price")], accept=True)
    version.refresh_from_db()
    assert version.quality_status == "warning"  # suggested ranges are warnings
    assert version.quality_reports.get().rules[0]["failing_rows"] == [7]  # the 1000.0 outlier
    quality_suggestion_decide(actor=steward, rule=suggested[("unique", "order_id")], accept=False)
    again = quality_suggestions_create(actor=steward, version=version)
    assert again == []  # nothing new: accepted, rejected and pending suggestions are all remembered
    assert QualityRule.objects.get(kind="unique").status == "rejected"


def test_personal_data_columns_get_no_value_bearing_suggestion(upload, steward, monkeypatch):
    from governance.catalog import hooks

    version = upload(_rows(), dataset="orders")
    monkeypatch.setattr(hooks, "_hidden_columns", [lambda v, user: {"status", "price"}])
    kinds = {(r.kind, r.columns[0]) for r in quality_suggestions_create(actor=steward, version=version)}
    assert ("allowed_values", "status") not in kinds and ("range", "price") not in kinds
    assert ("not_null", "status") in kinds
