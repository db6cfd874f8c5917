"""Masking jobs: policy validation, chunked execution, lineage, rescan, decryption."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.models import AuditEvent, Job
from governance.catalog.models import DatasetVersion, LineageEdge
from governance.privacy.models import PiiFinding

KEY = "0123456789abcdef0123456789abcdef"
SALT = "a-test-salt-that-is-long-enough"


def _customers(n: int) -> str:
    lines = ["customer,email,card,review,price"]
    for i in range(n):
        review = f"Call me on 212-555-{i % 10000:04d} please" if i % 5 == 0 else "Great kettle and quick delivery"
        lines.append(f'Maria Lopez{i % 7},maria{i}@example.com,4111111111111111,"{review}",{i}.5')
    return "\n".join(lines) + "\n"


@pytest.fixture
def version(upload, run_tasks_eagerly, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        v = upload(_customers(250), name="customers.csv")
    v.refresh_from_db()
    return v


@override_settings(STEWARD_PII_ENCRYPTION_KEY=KEY, STEWARD_PII_HASH_SALT=SALT, STEWARD_PII_CHUNK_ROWS=100)
@pytest.mark.django_db
def test_masking_in_chunks_makes_a_new_version_with_mask_lineage_and_a_clean_rescan(
    version, steward_api, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    policy = {
        "columns": {
            "email": {"operator": "hash"},
            "customer": {"operator": "pseudonymize"},
            "card": {"operator": "encrypt"},
            "review": {"operator": "replace"},
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(f"/api/v1/dataset-versions/{version.pk}/mask/", policy, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded", job.error
    assert job.result["chunks"] == 3
    # Each chunk records which worker process ran it and when (the benchmark's parallelism check).
    assert all(c.worker and c.started_at and c.finished_at >= c.started_at for c in job.mask_chunks.all())
    masked = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert masked.row_count == 250 and masked.operation == "mask"
    edge = LineageEdge.objects.get(source=version, target_id=masked.pk, operation="mask")
    assert edge.params["policy"]["columns"]["card"]["operator"] == "encrypt"
    assert KEY not in str(edge.params) and SALT not in str(edge.params)
    rows = steward_api.get(f"/api/v1/dataset-versions/{masked.pk}/rows/?limit=250").json()["results"]
    assert not any("@example.com" in r["email"] for r in rows)
    assert "<PHONE_NUMBER>" in rows[0]["review"] and "212-555" not in str(rows)
    # The rescan of the masked version: no pending finding of a masked type, so training may use it.
    masked.refresh_from_db()
    assert masked.pii_status in ("clean", "resolved")
    assert not PiiFinding.objects.filter(version=masked, decision="pending").exists()
    # Stewards may decrypt, and it is audited.
    token = rows[0]["card"]
    body = steward_api.post(
        "/api/v1/pii/decrypt/", {"values": [token], "dataset_version": masked.pk, "column": "card"}, format="json"
    ).json()
    assert body["values"] == ["4111111111111111"]
    assert AuditEvent.objects.filter(action="pii.decrypt").count() == 1


@override_settings(STEWARD_PII_ENCRYPTION_KEY=KEY, STEWARD_PII_HASH_SALT=SALT)
@pytest.mark.django_db
@pytest.mark.parametrize(
    "columns, message",
    [
        ({"nope": {"operator": "hash"}}, "unknown column"),
        ({"email": {"operator": "explode"}}, "unknown operator"),
        ({"email": {"operator": "mask", "params": {"chars_to_keep": "x"}}}, "chars_to_keep"),
        ({"email": {"operator": "encrypt", "params": {"key": KEY}}}, "never carries a key"),
    ],
)
def test_bad_policies_are_400_and_nothing_is_written(version, steward_api, columns, message):
    jobs, versions = Job.objects.count(), DatasetVersion.objects.count()
    response = steward_api.post(f"/api/v1/dataset-versions/{version.pk}/mask/", {"columns": columns}, format="json")
    assert response.status_code == 400 and message in response.json()["detail"]
    assert (Job.objects.count(), DatasetVersion.objects.count()) == (jobs, versions)


@override_settings(STEWARD_PII_ENCRYPTION_KEY="too-short")
@pytest.mark.django_db
def test_an_encrypt_key_of_the_wrong_length_is_a_400(version, steward_api):
    response = steward_api.post(
        f"/api/v1/dataset-versions/{version.pk}/mask/", {"columns": {"card": {"operator": "encrypt"}}}, format="json"
    )
    assert response.status_code == 400 and "16, 24 or 32" in response.json()["detail"]


@pytest.mark.django_db
def test_masking_is_for_stewards_and_a_version_you_may_not_read_is_a_400(version, api_as):
    body = {"columns": {"email": {"operator": "hash"}}}
    assert (
        api_as("ml_engineer").post(f"/api/v1/dataset-versions/{version.pk}/mask/", body, format="json").status_code
        == 403
    )
    outsider = api_as("outsider").post(f"/api/v1/dataset-versions/{version.pk}/mask/", body, format="json")
    assert outsider.status_code == 400 and "may not read" in outsider.json()["detail"]
    assert api_as("viewer").post("/api/v1/pii/decrypt/", {"values": ["x"]}, format="json").status_code == 403
