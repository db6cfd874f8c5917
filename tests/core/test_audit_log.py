"""The audit log people can use: filters (actor, action prefix, object, date range) on the page and the API,
readable summaries, links to the objects, pages that keep the filters, and a CSV export for compliance reviews."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.audit import audit_log
from core.models import AuditEvent
from core.selectors import audit_summary_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(personas: dict[str, Any]) -> dict[str, AuditEvent]:
    steward, engineer = personas["steward"], personas["ml_engineer"]
    events = {
        "upload": audit_log(
            actor=steward,
            action="catalog.version.create",
            object_type="catalog.datasetversion",
            object_id=7,
            summary={"dataset": "clicks", "rows": 120, "columns": ["user_id", "item_id"]},
        ),
        "train": audit_log(
            actor=engineer,
            action="training.start",
            object_type="core.job",
            object_id=3,
            summary={"model": "ctr", "dataset_versions": {"source": 7}, "base_model": None},
        ),
        "alias": audit_log(
            actor=engineer, action="training.alias.set", object_type="training.registeredmodel", object_id="ctr"
        ),
        "formula": audit_log(
            actor=steward,
            action="privacy.decide",
            object_type="privacy.piifinding",
            object_id=1,
            summary={"note": '=HYPERLINK("http://x")'},
        ),
    }
    old = timezone.now() - timedelta(days=40)
    AuditEvent.objects.filter(pk=events["upload"].pk).update(created_at=old)
    return events


def test_summaries_read_as_text_not_dict_reprs() -> None:
    text = audit_summary_text({"model": "ctr", "dataset_versions": {"source": 7}, "base_model": None, "ok": True})
    assert text == "base model: none; dataset versions: {source: 7}; model: ctr; ok: yes"  # keys in name order
    assert audit_summary_text({"columns": ["a", "b"], "empty": []}) == "columns: a, b; empty: none"
    assert audit_summary_text({}) == ""


def test_the_api_filters_by_actor_action_prefix_object_and_dates(api_as: Any, log: dict[str, AuditEvent]) -> None:
    api = api_as("steward")

    def ids(**query: str) -> set[int]:
        r = api.get("/api/v1/audit-events/", query)
        assert r.status_code == 200, r.content
        return {e["id"] for e in r.json()["results"]} & {e.pk for e in log.values()}

    assert ids(actor="ml_engineer-user") == {log["train"].pk, log["alias"].pk}
    assert ids(action="training.") == {log["train"].pk, log["alias"].pk}
    assert ids(action="training.start") == {log["train"].pk}
    assert ids(object_type="catalog.datasetversion", object_id="7") == {log["upload"].pk}
    today = timezone.now().date()
    assert log["upload"].pk not in ids(since=str(today - timedelta(days=1)))
    assert ids(until=str(today - timedelta(days=30))) == {log["upload"].pk}
    row = next(e for e in api.get("/api/v1/audit-events/", {"action": "training.start"}).json()["results"])
    assert row["summary_text"] == "base model: none; dataset versions: {source: 7}; model: ctr"
    assert row["object_url"] == "/jobs/3/"
    bad = api.get("/api/v1/audit-events/", {"since": "last tuesday"})
    assert bad.status_code == 400 and "since" in bad.content.decode()


def test_the_csv_export_has_the_same_filters_and_is_audited(api_as: Any, log: dict[str, AuditEvent]) -> None:
    r = api_as("steward").get("/api/v1/audit-events/export/", {"actor": "steward-user"})
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert {row["action"] for row in rows} == {"catalog.version.create", "privacy.decide"}
    upload = next(row for row in rows if row["action"] == "catalog.version.create")
    assert upload["object_url"] == "/dataset-versions/7/"
    assert upload["summary"] == "columns: user_id, item_id; dataset: clicks; rows: 120"
    formula = next(row for row in rows if row["action"] == "privacy.decide")
    assert formula["summary"].startswith("note: =HYPERLINK")  # not a formula: the cell starts with "note"
    assert AuditEvent.objects.filter(action="audit.export", summary={"actor": "steward-user"}).exists()
    assert api_as("steward").get("/api/v1/audit-events/export/", {"until": "no"}).status_code == 400
    assert api_as("viewer").get("/api/v1/audit-events/export/").status_code == 403


def test_the_page_filters_links_objects_and_pages_keep_the_filters(
    client: Any, personas: dict[str, Any], log: dict[str, AuditEvent]
) -> None:
    for i in range(60):
        audit_log(
            actor=personas["steward"], action="catalog.dataset.create", object_type="catalog.dataset", object_id=i
        )
    client.force_login(personas["steward"])
    page = client.get("/audit/", {"action": "catalog.dataset."})
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count("<td>catalog.dataset.create</td>") == 50 and "<td>training.start</td>" not in html
    assert 'href="/datasets/59/"' in html
    assert "?action=catalog.dataset.&amp;page=2" in html and "60 events" in html
    assert 'href="/api/v1/audit-events/export/?action=catalog.dataset."' in html

    jobs = client.get("/audit/", {"actor": "ml_engineer-user"}).content.decode()
    assert "base model: none; dataset versions: {source: 7}; model: ctr" in jobs
    assert "{&#x27;model&#x27;" not in jobs and 'href="/jobs/3/"' in jobs
    bad = client.get("/audit/", {"since": "yesterday-ish"}).content.decode()
    assert "Enter a valid date" in bad and "Fix the filters above." in bad
