from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.catalog.services import dataset_create, dataset_version_upload
from governance.catalog.transform_service import transform_start
from tests.factories import csv_file
from tests.worker import start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_real_worker_profiles_a_large_upload_and_runs_a_transform(settings: Any) -> None:
    # Uploads over the inline limit are profiled by a job; a real worker process must pick it up.
    settings.STEWARD_PROFILE_INLINE_MAX_ROWS = 10
    user = User.objects.create_user("worker-steward", password="pw-steward-123")
    dataset = dataset_create(actor=user, name="clicks")
    text = "user_id,item_id,rating\n" + "".join(f"{i % 7},{i % 11},{i % 5 + 1}\n" for i in range(200))
    version, created = dataset_version_upload(actor=user, dataset=dataset, source=csv_file(text), filename="clicks.csv")
    assert created and version.profile_status == DatasetVersion.ProfileStatus.PENDING
    job = Job.objects.get(kind="profile", subject_id=version.pk)

    with start_worker("default") as proc:
        wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=90, proc=proc)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
        version.refresh_from_db()
        rating = version.column("rating")
        assert version.profile_status == "done"
        assert rating["min"] == 1 and rating["max"] == 5 and rating["distinct_count"] == 5

        transform = transform_start(
            actor=user, version=version, operation="label", params={"column": "liked", "expression": "rating >= 4"}
        )
        wait_for(lambda: Job.objects.get(pk=transform.pk).is_finished, timeout=90, proc=proc)
    transform.refresh_from_db()
    assert transform.status == Job.Status.SUCCEEDED, transform.error
    derived = DatasetVersion.objects.get(pk=transform.result["dataset_version"])
    assert derived.operation == "label" and "liked" in derived.column_names
    assert derived.column("liked")["distinct_count"] == 2
