"""A real `celery worker` on queue pii scans a new version and masks it in parallel chunks."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.catalog.services import dataset_create, dataset_version_upload
from governance.privacy.models import PiiScan
from governance.privacy.services import mask_start
from tests.factories import csv_file
from tests.worker import start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_pii_worker_scans_then_masks_in_chunks(settings: Any) -> None:
    user = User.objects.create_user("worker-steward", password="pw-steward-123")
    dataset = dataset_create(actor=user, name="people")
    text = "name,email,price\n" + "".join(f"Maria Lopez{i % 9},maria{i}@example.com,{i}.5\n" for i in range(300))
    version, _ = dataset_version_upload(actor=user, dataset=dataset, source=csv_file(text), filename="people.csv")
    scan = PiiScan.objects.get(version=version)
    with start_worker("pii", concurrency=2, extra_env={"STEWARD_PII_CHUNK_ROWS": "100"}) as proc:
        wait_for(lambda: Job.objects.get(pk=scan.job_id).is_finished, timeout=180, proc=proc)
        scan.refresh_from_db()
        assert scan.status == "succeeded"
        assert {f.column for f in scan.findings.all()} >= {"email"}
        settings.STEWARD_PII_CHUNK_ROWS = 100
        job = mask_start(version=version, actor=user, policy={"columns": {"email": "hash", "name": "pseudonymize"}})
        wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=180, proc=proc)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["chunks"] == 3 and job.mask_chunks.filter(status="done").count() == 3
    masked = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert masked.row_count == 300 and masked.operation == "mask"
