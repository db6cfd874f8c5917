"""A real `celery worker` SIGKILLed while it masks every chunk of a job: the sweep sends each chunk again on its own
(counting its attempt), a new worker finishes them, and the job succeeds once, on its first attempt, with one
masked version."""

from __future__ import annotations

from typing import Any

import pytest

from core.jobs import jobs_sweep
from core.models import Job
from governance.catalog.models import DatasetVersion, LineageEdge
from governance.privacy.models import MaskChunk
from governance.privacy.services import mask_start
from tests.worker import kill_worker, purge_broker, start_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LEASE_S = 5
ENV = {"STEWARD_JOB_LEASE_S": str(LEASE_S), "STEWARD_JOB_HEARTBEAT_S": "1", "OMP_NUM_THREADS": "1"}


def test_chunks_of_a_killed_worker_are_retried_on_their_own_and_the_job_succeeds_once(
    settings: Any, upload: Any, steward: Any
) -> None:
    from governance.privacy.tasks import mask_version

    settings.STEWARD_JOB_LEASE_S = LEASE_S
    settings.STEWARD_JOB_HEARTBEAT_S = 1
    settings.STEWARD_PII_CHUNK_ROWS = 40
    version = upload("sku,email\n" + "".join(f"s{i},m{i}@example.com\n" for i in range(120)), name="m.csv")
    purge_broker()
    job = mask_start(version=version, actor=steward, policy={"columns": {"email": "hash"}})
    purge_broker()  # the job's own message: this process runs the fan-out
    mask_version(job.pk)  # claims the job, plans three chunks and sends them to the broker
    chunks = MaskChunk.objects.filter(job=job)
    assert chunks.count() == 3

    # Chunks sleep in their progress report right after their claim, until the worker is killed.
    with start_worker(
        "pii", pool="threads", concurrency=3, extra_env={**ENV, "STEWARD_JOB_STEP_DELAY_MS": "8000"}
    ) as w:
        wait_for(lambda: chunks.filter(status="running", attempts=1).count() == 3, timeout=60, proc=w)
        kill_worker(w)

    def finished() -> bool:
        jobs_sweep()  # as Celery beat sends it
        return Job.objects.get(pk=job.pk).is_finished

    with start_worker("pii", concurrency=1, extra_env=ENV) as second:
        wait_for(finished, timeout=120, interval=1, proc=second)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 1, job.error
    assert sorted(chunks.values_list("attempts", flat=True)) == [2, 2, 2]
    assert job.result["rows"] == 120
    edges = LineageEdge.objects.filter(source=version, operation="mask")
    assert [e.target_id for e in edges] == [job.result["dataset_version"]]
    assert DatasetVersion.objects.filter(operation="mask").count() == 1
