"""A masking job's chunks have their own leases: the job survives while its chunks wait in a busy queue or run, a
chunk whose worker died is sent again on its own (counting its own attempt), one past its cap fails the job with the
reason, and nothing is registered twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils import timezone

from core.jobs import jobs_sweep
from core.models import Job
from governance.catalog.models import DatasetVersion, LineageEdge
from governance.privacy.models import MaskChunk
from tests.factories import Killed, expire_chunk_lease, expire_lease

pytestmark = pytest.mark.django_db


def _customers(n: int) -> str:
    rows = [f"Maria Lopez{i % 7},maria{i}@example.com,{i}.5" for i in range(n)]
    return "customer,email,price\n" + "\n".join(rows) + "\n"


@pytest.fixture
def version(scan_upload: Any) -> DatasetVersion:
    return scan_upload(_customers(120), name="customers.csv")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, tuple[Any, ...]]]:
    """The chunk messages sent (job id, task, args); the tests deliver them by calling the task."""
    from governance.privacy import services

    calls: list[tuple[int, str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        services, "job_enqueue", lambda job, task, *args, queue=None: calls.append((job.pk, task, args))
    )
    return calls


def _start(version: DatasetVersion, steward: Any) -> Job:
    from governance.privacy.services import mask_start
    from governance.privacy.tasks import mask_version

    job = mask_start(version=version, actor=steward, policy={"columns": {"email": "hash", "customer": "redact"}})
    mask_version(job.pk)  # claims the job, plans three chunks of 50, 50 and 20 rows and sends them
    job.refresh_from_db()
    assert job.status == "running" and job.mask_chunks.count() == 3
    return job


def _chunk(job: Job, index: int) -> MaskChunk:
    return MaskChunk.objects.get(job=job, index=index)


def _kill_chunk(monkeypatch: pytest.MonkeyPatch, job: Job, index: int) -> None:
    """Deliver chunk `index` to a worker that dies while masking it."""
    from governance.privacy import services
    from governance.privacy.tasks import mask_chunk

    real = services.masked_rows
    monkeypatch.setattr(services, "masked_rows", lambda **kw: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        mask_chunk(job.pk, index)
    monkeypatch.setattr(services, "masked_rows", real)


def _chunk_messages(sent: list[tuple[int, str, tuple[Any, ...]]], job: Job) -> list[int]:
    return [args[0] for job_id, task, args in sent if job_id == job.pk and task == "privacy.mask_chunk"]


@override_settings(STEWARD_PII_CHUNK_ROWS=50)
def test_a_mask_job_whose_chunks_wait_in_a_busy_queue_survives_many_sweeps(
    version: DatasetVersion, steward: Any, sent: list[Any]
) -> None:
    from governance.privacy.tasks import mask_chunk, mask_version

    job = _start(version, steward)
    assert _chunk_messages(sent, job) == [0, 1, 2]
    for _ in range(5):  # each sweep finds the job's own lease expired, and its chunks queued
        expire_lease(job)
        counts = jobs_sweep()
        assert counts["kept"] == 1 and counts["requeued"] == 0 and counts["failed"] == 0
        job.refresh_from_db()
        assert job.status == "running" and job.attempts == 1
        assert job.heartbeat_at > timezone.now() - timedelta(seconds=5)  # its lease was renewed
    # A redelivered job message does not take the job over while its chunks are alive.
    expire_lease(job)
    mask_version(job.pk)
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1
    assert _chunk_messages(sent, job) == [0, 1, 2]
    # Queued past STEWARD_JOB_QUEUED_RESEND_S, a chunk's message is sent again (maybe lost), counting no attempt.
    later = timezone.now() + timedelta(seconds=django_settings.STEWARD_JOB_QUEUED_RESEND_S + 1)
    assert jobs_sweep(now=later)["kept"] == 1
    assert _chunk_messages(sent, job) == [0, 1, 2, 0, 1, 2]
    for index in (0, 1, 2, 0, 1, 2):  # every message is delivered, the resent duplicates included
        mask_chunk(job.pk, index)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 1, job.error
    assert [c.attempts for c in job.mask_chunks.order_by("index")] == [1, 1, 1]
    assert job.result["rows"] == 120


@override_settings(STEWARD_PII_CHUNK_ROWS=50)
def test_a_chunk_whose_worker_died_is_sent_again_on_its_own_counting_its_attempt_and_registers_once(
    version: DatasetVersion, steward: Any, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.privacy.services import mask_chunk_execute
    from governance.privacy.tasks import mask_chunk

    job = _start(version, steward)
    mask_chunk(job.pk, 0)
    _kill_chunk(monkeypatch, job, 1)
    dead = _chunk(job, 1)
    assert dead.status == "running" and dead.attempts == 1 and dead.worker
    mask_chunk(job.pk, 1)  # a duplicate message while the lease is fresh: not taken over
    assert _chunk(job, 1).attempts == 1

    expire_chunk_lease(dead)
    expire_lease(job)
    counts = jobs_sweep()
    assert counts["kept"] == 1 and counts["requeued"] == 0
    assert _chunk_messages(sent, job) == [0, 1, 2, 1]  # only the dead chunk is sent again
    assert _chunk(job, 1).status == "pending"
    job.refresh_from_db()
    assert job.attempts == 1  # the job's own attempts are untouched

    mask_chunk(job.pk, 1)
    retried = _chunk(job, 1)
    assert retried.status == "done" and retried.attempts == 2
    # The dead attempt waking up late writes nothing: its completion is fenced by the chunk's attempt.
    stale = _chunk(job, 1)
    stale.attempts = 1
    assert mask_chunk_execute(job=job, chunk=stale) is False
    assert _chunk(job, 1).part == retried.part
    mask_chunk(job.pk, 2)
    mask_chunk(job.pk, 1)  # the kill's redelivered message, last: nothing to do
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 1, job.error
    assert [c.attempts for c in job.mask_chunks.order_by("index")] == [1, 2, 1]
    assert job.result["rows"] == 120
    edges = LineageEdge.objects.filter(source=version, operation="mask")
    assert [e.target_id for e in edges] == [job.result["dataset_version"]]
    assert DatasetVersion.objects.filter(operation="mask").count() == 1
    assert jobs_sweep()["kept"] == 0  # a finished job is left alone


@override_settings(STEWARD_PII_CHUNK_ROWS=50, STEWARD_JOB_MAX_ATTEMPTS_BY_KIND={"pii_mask_chunk": 2})
def test_a_chunk_past_its_attempt_cap_fails_the_job_with_the_reason(
    version: DatasetVersion, steward: Any, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.files.storage import default_storage

    from governance.privacy.services import mask_chunk_claim, mask_chunk_execute
    from governance.privacy.tasks import mask_chunk

    job = _start(version, steward)
    mask_chunk(job.pk, 1)
    part = _chunk(job, 1).part
    assert default_storage.exists(part)
    late = mask_chunk_claim(job=job, index=2, worker="slow but alive")  # still masking when the job fails
    assert late is not None
    for attempt in (1, 2):
        _kill_chunk(monkeypatch, job, 0)
        assert _chunk(job, 0).attempts == attempt
        expire_chunk_lease(_chunk(job, 0))
        expire_lease(job)
        counts = jobs_sweep()
        if attempt == 1:
            assert counts["kept"] == 1 and _chunk(job, 0).status == "pending"
    assert counts["failed"] == 1
    job.refresh_from_db()
    assert job.status == "failed"
    assert "masking chunk 0 (rows 0-50) gave up after 2 of 2 attempts" in job.error
    assert "no heartbeat since" in job.error
    assert not default_storage.exists(part)  # the parts written are tidied up
    assert mask_chunk_execute(job=job, chunk=late) is False  # its part is not recorded (and is deleted)
    assert _chunk(job, 2).status == "running" and _chunk(job, 2).part == ""
    mask_chunk(job.pk, 2)  # a chunk message of the failed job does nothing
    assert _chunk(job, 2).attempts == 1
    assert not DatasetVersion.objects.filter(operation="mask").exists()


@override_settings(STEWARD_PII_CHUNK_ROWS=50, STEWARD_JOB_MAX_ATTEMPTS_BY_KIND={"pii_mask_chunk": 1})
def test_a_redelivered_message_of_a_chunk_past_its_cap_fails_the_job(
    version: DatasetVersion, steward: Any, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.privacy.tasks import mask_chunk

    job = _start(version, steward)
    _kill_chunk(monkeypatch, job, 2)
    expire_chunk_lease(_chunk(job, 2))
    mask_chunk(job.pk, 2)  # the broker redelivers the dead worker's message
    job.refresh_from_db()
    assert job.status == "failed" and "masking chunk 2 (rows 100-120) gave up after 1 of 1 attempts" in job.error


@override_settings(STEWARD_PII_CHUNK_ROWS=50)
def test_a_mask_job_whose_worker_died_before_sending_its_chunks_is_retried_as_a_job(
    version: DatasetVersion, steward: Any, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.privacy.services import mask_plan, mask_start
    from governance.privacy.tasks import mask_chunk, mask_version

    job = mask_start(version=version, actor=steward, policy={"columns": {"email": "hash"}})
    real_plan = mask_plan

    def plan_then_die(**kwargs: Any) -> Any:
        real_plan(**kwargs)
        raise Killed()

    monkeypatch.setattr("governance.privacy.services.mask_plan", plan_then_die)
    with pytest.raises(Killed):
        mask_version(job.pk)
    monkeypatch.setattr("governance.privacy.services.mask_plan", real_plan)
    assert job.mask_chunks.count() == 3 and sent == []

    expire_lease(job)
    assert jobs_sweep()["requeued"] == 1  # its chunks were never sent: the job itself was lost
    mask_version(job.pk)
    assert _chunk_messages(sent, job) == [0, 1, 2]
    for index in (0, 1, 2):
        mask_chunk(job.pk, index)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2, job.error
    assert DatasetVersion.objects.filter(operation="mask").count() == 1
