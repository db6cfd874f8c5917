"""Server-rendered pages: scan report with its chart, review queue, policy editor preview."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.privacy.models import PiiFinding, PiiScan

DATA = "name,email,review\n" + "".join(
    f'Maria Lopez{i},maria{i}@example.com,"Call me on 212-555-01{i:02d} about order {i}"\n' for i in range(30)
)


@pytest.fixture
def version(upload, run_tasks_eagerly, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return upload(DATA, name="people.csv")


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_scan_report_shows_each_column_with_a_chart_and_no_raw_value(version, personas):
    scan = PiiScan.objects.get(version=version)
    html = _login(personas["viewer"]).get(f"/privacy/scans/{scan.pk}/").content.decode()
    assert "<svg" in html and "EMAIL_ADDRESS" in html and "free_text" in html
    assert "maria1@example.com" not in html and "212-555-0101" not in html
    assert "Accept" not in html  # viewers cannot decide


@pytest.mark.django_db
def test_review_queue_lets_a_steward_accept_a_finding(version, personas):
    client = _login(personas["steward"])
    assert "EMAIL_ADDRESS" in client.get("/privacy/").content.decode()
    finding = PiiFinding.objects.get(version=version, column="email")
    client.post(f"/privacy/findings/{finding.pk}/decide/", {"decision": "accepted"})
    finding.refresh_from_db()
    assert finding.decision == "accepted"
    assert _login(personas["viewer"]).get("/privacy/").status_code == 403


@pytest.mark.django_db
def test_policy_editor_previews_twenty_rows_before_and_after(version, personas):
    client = _login(personas["steward"])
    page = client.get(f"/dataset-versions/{version.pk}/mask/").content.decode()
    assert 'name="op:email"' in page
    response = client.post(
        f"/dataset-versions/{version.pk}/mask/",
        {"op:email": "hash", "params:email": "{}", "op:review": "replace", "params:review": "{}", "action": "preview"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<tr>") >= 40  # 20 rows before + 20 after (+ headers)
    assert "maria1@example.com" in html and "&lt;PHONE_NUMBER&gt;" in html
    bad = client.post(
        f"/dataset-versions/{version.pk}/mask/",
        {"op:email": "encrypt", "params:email": '{"key": "x"}', "action": "run"},
    )
    assert bad.status_code == 400 and "never carries a key" in bad.content.decode()
