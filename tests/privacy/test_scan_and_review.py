"""Scans run on every new version; stewards review findings; the training gate reads them."""

from __future__ import annotations

import pytest

from core.models import AuditEvent
from governance.catalog.models import DatasetVersion
from governance.privacy.models import PiiFinding, PiiScan
from governance.privacy.selectors import pii_gate_reasons

CUSTOMERS = """customer,email,review,price
Maria Lopez,maria.lopez@example.com,"Arrived fast, call me on 212-555-0147 if needed",9.99
John Smith,john.smith@example.org,Great kettle and quick delivery,12.50
Anna Berg,anna.berg@example.net,"Broken lid, my address is 1659 Hoog Street",3.00
Peter Novak,peter.novak@example.com,Lovely colour and exactly as pictured,7.25
"""


@pytest.fixture
def scanned(scan_upload):
    return scan_upload(CUSTOMERS, name="customers.csv")


@pytest.mark.django_db
def test_new_version_is_scanned_automatically_and_its_pii_columns_flagged(scanned):
    scan = PiiScan.objects.get(version=scanned)
    assert scan.trigger == "auto" and scan.status == "succeeded"
    findings = {f.column: f for f in scan.findings.all()}
    assert findings["email"].entity_type == "EMAIL_ADDRESS" and findings["email"].kind == "entity"
    assert findings["customer"].entity_type == "PERSON"
    assert findings["review"].kind == "free_text"
    assert "price" not in findings
    assert scanned.pii_status == DatasetVersion.PiiStatus.UNRESOLVED


@pytest.mark.django_db
def test_scan_api_lists_each_column_without_raw_values(scanned, api_as):
    scan = PiiScan.objects.get(version=scanned)
    body = api_as("viewer").get(f"/api/v1/pii-scans/{scan.pk}/").json()
    columns = {c["name"]: c for c in body["columns"]}
    assert body["status"] == "succeeded"
    assert columns["email"]["entity_type"] == "EMAIL_ADDRESS" and columns["email"]["finding"]
    assert columns["price"]["entity_type"] is None and columns["price"]["finding"] is None
    text = str(body)
    assert "maria.lopez@example.com" not in text and "212-555-0147" not in text and "Maria Lopez" not in text


@pytest.mark.django_db
def test_manual_scan_returns_a_job_whose_result_lists_columns(
    scanned, steward_api, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(f"/api/v1/dataset-versions/{scanned.pk}/pii-scans/")
    assert response.status_code == 202
    job = steward_api.get(f"/api/v1/jobs/{response.json()['id']}/").json()
    assert job["status"] == "succeeded" and job["result"]["scan"] == response.json()["scan"]
    email = next(c for c in job["result"]["columns"] if c["name"] == "email")
    assert email["entity_type"] == "EMAIL_ADDRESS" and email["score"] > 0.5


@pytest.mark.django_db
def test_rejection_is_remembered_for_the_same_column_in_later_versions(
    scanned, api_as, upload, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    finding = PiiFinding.objects.get(version=scanned, column="customer")
    response = api_as("steward").patch(f"/api/v1/pii-findings/{finding.pk}/", {"decision": "rejected"}, format="json")
    assert response.status_code == 200 and response.json()["decision"] == "rejected"
    with django_capture_on_commit_callbacks(execute=True):
        later = upload(CUSTOMERS + "Eva Green,eva.green@example.com,Nice,1.00\n", name="customers.csv")
    assert PiiFinding.objects.get(version=later, column="customer").decision == "rejected"
    assert PiiFinding.objects.get(version=later, column="email").decision == "pending"


@pytest.mark.django_db
def test_only_stewards_review_and_a_bad_decision_is_a_400(scanned, api_as):
    finding = PiiFinding.objects.get(version=scanned, column="email")
    assert (
        api_as("ml_engineer")
        .patch(f"/api/v1/pii-findings/{finding.pk}/", {"decision": "rejected"}, format="json")
        .status_code
        == 403
    )
    bad = api_as("steward").patch(f"/api/v1/pii-findings/{finding.pk}/", {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "decision" in bad.json()["detail"]
    finding.refresh_from_db()
    assert finding.decision == "pending"


@pytest.mark.django_db
def test_gate_blocks_unscanned_and_unresolved_versions_and_opens_when_all_rejected(scanned, api_as):
    assert any("awaits" in r for r in pii_gate_reasons(scanned))
    unscanned = DatasetVersion.objects.create(
        dataset=scanned.dataset, number=99, sha256="0" * 64, format="csv", parquet=scanned.parquet
    )
    assert "not been scanned" in pii_gate_reasons(unscanned)[0]
    for finding in PiiFinding.objects.filter(version=scanned):
        api_as("steward").patch(f"/api/v1/pii-findings/{finding.pk}/", {"decision": "rejected"}, format="json")
    scanned.refresh_from_db()
    assert pii_gate_reasons(scanned) == [] and scanned.pii_status == "resolved"


@pytest.mark.django_db
def test_rows_api_masks_flagged_columns_for_roles_without_pii_access(scanned, api_as):
    viewer_rows = api_as("viewer").get(f"/api/v1/dataset-versions/{scanned.pk}/rows/?limit=2").json()["results"]
    assert viewer_rows[0]["email"] == "***" and viewer_rows[0]["price"] == 9.99
    steward_rows = api_as("steward").get(f"/api/v1/dataset-versions/{scanned.pk}/rows/?limit=2").json()["results"]
    assert steward_rows[0]["email"] == "maria.lopez@example.com"


@pytest.mark.django_db
def test_raw_examples_are_for_stewards_only_and_each_access_is_audited(scanned, api_as):
    finding = PiiFinding.objects.get(version=scanned, column="email")
    assert api_as("viewer").get(f"/api/v1/pii-findings/{finding.pk}/raw-examples/").status_code == 403
    body = api_as("steward").get(f"/api/v1/pii-findings/{finding.pk}/raw-examples/").json()
    assert "maria.lopez@example.com" in body["examples"]
    event = AuditEvent.objects.get(action="pii.finding.raw_examples")
    assert event.actor.username == "steward-user" and "maria" not in str(event.summary)


@pytest.mark.django_db
def test_custom_recognizer_flags_loyalty_numbers_in_the_next_scan(
    api_as, upload, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = upload("ref,qty\nX-1,1\n", name="orders.csv", dataset="orders")
    spec = {
        "entity_type": "LOYALTY_CARD",
        "patterns": [{"regex": r"\bLC-\d{6}\b", "score": 0.7}],
        "context": ["loyalty"],
    }
    created = api_as("steward").post(
        f"/api/v1/datasets/{first.dataset_id}/pii-recognizers/", {"spec": spec}, format="json"
    )
    assert created.status_code == 201
    bad = api_as("steward").post(
        f"/api/v1/datasets/{first.dataset_id}/pii-recognizers/",
        {"spec": {"entity_type": "X", "patterns": [{"regex": "("}]}},
        format="json",
    )
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        later = upload("ref,qty\nLC-123456,1\nLC-654321,2\nLC-111111,3\n", name="orders.csv", dataset="orders")
    finding = PiiFinding.objects.get(version=later, column="ref")
    assert finding.entity_type == "LOYALTY_CARD"
