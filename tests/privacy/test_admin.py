"""The privacy section of the Django admin: every page renders for a superuser, shows masked evidence only,
keeps written records read-only, and decides findings through the review service."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from core.models import AuditEvent
from governance.privacy.models import CustomRecognizer, MaskingPolicy, PiiColumnDecision, PiiFinding, PiiScan
from governance.privacy.services import custom_recognizer_create

# Raw values that must never reach an admin page.
MARKERS = ["zorblax.quentin@example.com", "Zorblax Quentin", "212-555-0199", "LOY-99231"]
DATA = "customer,email,review,loyalty\n" + "".join(
    f'Zorblax Quentin,zorblax.quentin@example.com,"Call me on 212-555-0199 about order {i}",LOY-99231\n'
    for i in range(12)
)
SALT = "a-test-salt-that-is-long-enough"


@pytest.fixture
def privacy_records(upload, steward, steward_api, run_tasks_eagerly, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        version = upload(DATA, name="people.csv")
    custom_recognizer_create(
        dataset=version.dataset,
        actor=steward,
        spec={"name": "loyalty", "entity_type": "LOYALTY_ID", "patterns": [{"regex": r"LOY-\d{5}", "score": 0.9}]},
    )
    finding = PiiFinding.objects.get(version=version, column="email")
    steward_api.patch(f"/api/v1/pii-findings/{finding.pk}/", {"decision": "rejected"}, format="json")
    with override_settings(STEWARD_PII_HASH_SALT=SALT), django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(
            f"/api/v1/dataset-versions/{version.pk}/mask/",
            {"columns": {"customer": {"operator": "hash"}}, "save_as": "default"},
            format="json",
        )
    assert response.status_code == 202, response.content
    return version


def _admin(personas) -> Client:
    client = Client()
    client.force_login(personas["admin"])
    return client


@pytest.mark.django_db
def test_every_privacy_admin_page_renders_without_a_raw_value(privacy_records, personas):
    client = _admin(personas)
    scan = PiiScan.objects.filter(version=privacy_records).first()
    pages = {
        "/admin/privacy/": None,
        "/admin/privacy/piiscan/": "shop v1",
        f"/admin/privacy/piiscan/{scan.pk}/change/": "EMAIL_ADDRESS",
        "/admin/privacy/piifinding/": "EMAIL_ADDRESS",
        f"/admin/privacy/piifinding/{PiiFinding.objects.get(version=privacy_records, column='review').pk}/change/": (
            "PHONE_NUMBER"
        ),
        "/admin/privacy/piicolumndecision/": "email",
        f"/admin/privacy/piicolumndecision/{PiiColumnDecision.objects.get().pk}/change/": "rejected",
        "/admin/privacy/maskingpolicy/": "customer: hash",
        f"/admin/privacy/maskingpolicy/{MaskingPolicy.objects.get().pk}/change/": "hash",
        "/admin/privacy/customrecognizer/": "loyalty",
        f"/admin/privacy/customrecognizer/{CustomRecognizer.objects.get().pk}/change/": "LOYALTY_ID",
        "/admin/privacy/piifinding/?decision__exact=rejected&q=email": "email",
        "/admin/privacy/piiscan/?q=shop&trigger__exact=auto": "shop v1",
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        if expected:
            assert expected in html, path
        assert not any(m in html for m in MARKERS), path
    # The finding page says why and shows the masked snippets and who decided.
    email = client.get(
        f"/admin/privacy/piifinding/{PiiFinding.objects.get(version=privacy_records, column='email').pk}/change/"
    ).content.decode()
    assert "OfflineEmailRecognizer" in email and "z*****" in email and personas["steward"].username in email


@pytest.mark.django_db
def test_written_records_are_read_only_and_findings_are_decided_through_the_service(privacy_records, personas):
    client = _admin(personas)
    scan = PiiScan.objects.filter(version=privacy_records).first()
    assert client.get("/admin/privacy/piiscan/add/").status_code == 403
    assert client.post(f"/admin/privacy/piiscan/{scan.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/privacy/maskingpolicy/add/").status_code == 403
    assert "Save" not in client.get(f"/admin/privacy/piiscan/{scan.pk}/change/").content.decode()
    finding = PiiFinding.objects.get(version=privacy_records, column="review")
    response = client.post(
        "/admin/privacy/piifinding/", {"action": "accept", "_selected_action": [finding.pk]}, follow=True
    )
    assert response.status_code == 200
    finding.refresh_from_db()
    assert finding.decision == "accepted" and finding.decided_by == personas["admin"] and finding.decided_at
    assert AuditEvent.objects.filter(action="pii.finding.decide", object_id=str(finding.pk)).exists()


@pytest.mark.django_db
def test_recognizers_are_switched_off_and_deleted_with_an_audit_row(privacy_records, personas):
    client = _admin(personas)
    recognizer = CustomRecognizer.objects.get()
    response = client.post(f"/admin/privacy/customrecognizer/{recognizer.pk}/change/", {"enabled": ""})
    assert response.status_code == 302
    recognizer.refresh_from_db()
    assert not recognizer.enabled and recognizer.spec["entity_type"] == "LOYALTY_ID"
    assert AuditEvent.objects.filter(action="pii.recognizer.disable").exists()
    client.post(f"/admin/privacy/customrecognizer/{recognizer.pk}/delete/", {"post": "yes"})
    assert not CustomRecognizer.objects.exists()
    assert AuditEvent.objects.filter(action="pii.recognizer.delete").exists()
