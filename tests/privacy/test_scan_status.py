"""A scan's status is its job's: one record says whether a scan is queued, running, done or failed."""

from __future__ import annotations

import pytest

from core.jobs import job_cancel
from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.privacy.models import PiiFinding, PiiScan
from governance.privacy.selectors import pii_gate_reasons
from governance.privacy.services import pii_scan_start

CUSTOMERS = "customer,email\nMaria Lopez,maria.lopez@example.com\nJohn Smith,john.smith@example.org\n"


@pytest.mark.django_db
def test_a_scan_whose_job_is_cancelled_before_it_starts_reads_failed_and_the_gate_stops_waiting(
    upload, steward, api_as
):
    version = upload(CUSTOMERS)
    scan = pii_scan_start(version=version, actor=steward)  # queued: tasks are sent on commit, never here
    assert scan.status == "queued" and "being scanned" in pii_gate_reasons(version)[0]

    job_cancel(job=scan.job, actor=steward)

    assert api_as("viewer").get(f"/api/v1/pii-scans/{scan.pk}/").json()["status"] == "failed"
    assert "has not been scanned" in pii_gate_reasons(version)[0]


@pytest.mark.django_db
def test_a_scan_that_raises_fails_with_its_job_and_leaves_the_version_not_scanning(
    upload, run_tasks_eagerly, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("classifier exploded")

    monkeypatch.setattr("governance.privacy.classify.classify_column", broken)
    with django_capture_on_commit_callbacks(execute=True):
        version = upload(CUSTOMERS)
    scan = PiiScan.objects.select_related("job").get(version=version)
    assert scan.job.status == Job.Status.FAILED and "classifier exploded" in scan.job.error
    assert scan.status == "failed" and scan.finished_at == scan.job.finished_at
    version.refresh_from_db()
    assert version.pii_status == DatasetVersion.PiiStatus.NOT_SCANNED
    assert not PiiFinding.objects.filter(scan=scan).exists()


@pytest.mark.django_db
def test_a_scan_succeeds_with_its_findings_and_a_redelivered_message_changes_nothing(
    upload, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    from governance.privacy.tasks import scan_version

    with django_capture_on_commit_callbacks(execute=True):
        version = upload(CUSTOMERS)
    scan = PiiScan.objects.select_related("job").get(version=version)
    assert scan.status == "succeeded" and scan.job.result["scan"] == scan.pk
    assert scan.finished_at == scan.job.finished_at is not None
    findings = set(scan.findings.values_list("id", flat=True))
    assert findings

    scan_version.apply(args=(scan.job_id, scan.pk))  # the same message again (a worker lost after the commit)

    scan.job.refresh_from_db()
    assert scan.job.status == Job.Status.SUCCEEDED and scan.job.error == ""
    assert set(scan.findings.values_list("id", flat=True)) == findings
