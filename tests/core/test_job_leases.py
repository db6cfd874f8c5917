"""Job leases: who runs a job, its heartbeat, attempts and their cap, status-guarded endings, the sweep that
recovers lost jobs, and outputs registered once per job."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from core import jobs
from core.jobs import (
    JobLost,
    Reporter,
    job_claim,
    job_create,
    job_fail,
    job_output,
    job_succeed,
    jobs_sweep,
    run_job,
)
from core.models import Job
from tests.factories import expire_lease

pytestmark = pytest.mark.django_db


def _job(kind: str = "profile", **fields: Any) -> Job:
    job = job_create(kind=kind, actor=None, params={"dataset_version": 1}, task="catalog.profile_version")
    if fields:
        Job.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, tuple[Any, ...]]]:
    """What the sweep sends to the broker (job id, task, args)."""
    calls: list[tuple[int, str, tuple[Any, ...]]] = []
    monkeypatch.setattr(jobs, "job_enqueue", lambda job, task, *args, queue=None: calls.append((job.pk, task, args)))
    return calls


def test_a_claim_records_the_worker_the_heartbeat_and_the_attempt() -> None:
    job = _job()
    claimed = job_claim(job.pk, worker="w1@host pid 11")
    assert claimed is not None
    assert claimed.status == "running" and claimed.attempts == 1
    assert claimed.worker == "w1@host pid 11" and claimed.heartbeat_at is not None


def test_a_running_job_with_a_fresh_lease_is_never_taken_over() -> None:
    job = _job()
    job_claim(job.pk, worker="first")
    assert job_claim(job.pk, worker="second") is None
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1 and job.worker == "first"


def test_a_job_whose_lease_expired_is_taken_over_as_the_next_attempt() -> None:
    job = _job()
    job_claim(job.pk, worker="dead")
    expire_lease(job)
    claimed = job_claim(job.pk, worker="alive")
    assert claimed is not None and claimed.attempts == 2 and claimed.worker == "alive"
    assert "attempt 2 of 3" in claimed.message


def test_past_its_attempt_cap_a_lost_job_fails_with_the_reason(settings: Any) -> None:
    settings.STEWARD_JOB_MAX_ATTEMPTS = 2
    job = _job()
    for _ in range(2):
        job_claim(job.pk, worker="oom-killed pid 7")
        expire_lease(job)
    assert job_claim(job.pk, worker="next") is None
    job.refresh_from_db()
    assert job.status == "failed"
    assert "gave up after 2 of 2 attempts" in job.error and "oom-killed pid 7" in job.error


def test_the_attempt_cap_can_differ_per_kind(settings: Any) -> None:
    settings.STEWARD_JOB_MAX_ATTEMPTS = 5
    settings.STEWARD_JOB_MAX_ATTEMPTS_BY_KIND = {"pii_scan": 1}
    scan = _job(kind="pii_scan")
    job_claim(scan.pk)
    expire_lease(scan)
    assert job_claim(scan.pk) is None
    scan.refresh_from_db()
    assert scan.status == "failed" and "1 of 1 attempts" in scan.error
    assert jobs.max_attempts("profile") == 5


def test_succeed_and_fail_are_guarded_by_status_and_attempt() -> None:
    job = _job()
    assert not job_succeed(job.pk, {"x": 1})  # queued: not running
    job_claim(job.pk)
    expire_lease(job)
    job_claim(job.pk)  # attempt 2 took over
    assert not job_succeed(job.pk, {"stale": True}, attempt=1)
    assert not job_fail(job.pk, "stale failure", attempt=1)
    assert job_succeed(job.pk, {"ok": True}, attempt=2)
    assert not job_fail(job.pk, "too late")
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result == {"ok": True} and job.error == ""


def test_progress_renews_the_lease_and_stops_an_attempt_that_lost_its_job() -> None:
    job = _job()
    job_claim(job.pk)
    expire_lease(job)
    Reporter(job.pk, 1).progress(0.5, "half")
    job.refresh_from_db()
    assert job.heartbeat_at > timezone.now() - timedelta(seconds=5)
    expire_lease(job)
    job_claim(job.pk)
    with pytest.raises(JobLost):
        Reporter(job.pk, 1).progress(0.6, "the dead worker woke up")


def test_a_body_of_an_attempt_that_lost_its_job_writes_no_outcome() -> None:
    job = _job()

    def body(j: Job, reporter: Reporter) -> dict[str, Any]:
        expire_lease(j)
        job_claim(j.pk, worker="the new worker")  # the sweep sent it again and another worker took it
        reporter.progress(0.9, "still going")  # raises JobLost
        return {"written": True}

    run_job(job.pk, body)
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 2 and job.result == {}


def test_an_output_is_registered_once_per_job_and_only_by_its_attempt() -> None:
    job = _job()
    claimed = job_claim(job.pk)
    calls = []
    assert job_output(claimed, "version", lambda: calls.append(1) or 41) == 41
    assert job_output(claimed, "version", lambda: calls.append(1) or 42) == 41
    assert calls == [1]
    expire_lease(job)
    job_claim(job.pk)  # claimed (attempt 1) is stale now
    with pytest.raises(JobLost):
        job_output(claimed, "other", lambda: calls.append(2) or 43)
    assert calls == [1]
    job.refresh_from_db()
    assert job.output == {"version": 41}


def test_sweep_requeues_and_resends_a_job_whose_lease_expired(sent: list) -> None:
    job = _job()
    job_claim(job.pk, worker="killed pid 9")
    expire_lease(job)
    counts = jobs_sweep()
    job.refresh_from_db()
    assert counts["requeued"] == 1
    assert job.status == "queued" and "killed pid 9" in job.message
    assert sent == [(job.pk, "catalog.profile_version", ())]
    assert job_claim(job.pk).attempts == 2


def test_sweep_fails_a_lost_job_at_its_cap_and_cancels_one_its_owner_cancelled(settings: Any, sent: list) -> None:
    settings.STEWARD_JOB_MAX_ATTEMPTS = 1
    capped, cancelled = _job(), _job()
    for job in (capped, cancelled):
        job_claim(job.pk, worker="gone")
        expire_lease(job)
    Job.objects.filter(pk=cancelled.pk).update(cancel_requested=True)
    counts = jobs_sweep()
    capped.refresh_from_db()
    cancelled.refresh_from_db()
    assert counts["failed"] == 1 and counts["cancelled"] == 1 and sent == []
    assert capped.status == "failed" and "gave up after 1 of 1 attempts" in capped.error
    assert cancelled.status == "cancelled"


def test_sweep_leaves_fresh_leases_alone_and_resends_a_queued_job_whose_message_was_lost(
    settings: Any, sent: list
) -> None:
    settings.STEWARD_JOB_QUEUED_RESEND_S = 60
    running, fresh_queued, lost = _job(), _job(), _job()
    job_claim(running.pk)
    Job.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    counts = jobs_sweep()
    assert counts == {"requeued": 0, "resent": 1, "failed": 0, "cancelled": 0, "kept": 0}
    assert sent == [(lost.pk, "catalog.profile_version", ())]
    assert jobs_sweep()["resent"] == 0  # not again until another STEWARD_JOB_QUEUED_RESEND_S passed
    assert Job.objects.get(pk=running.pk).status == "running"
    assert Job.objects.get(pk=fresh_queued.pk).status == "queued"


def test_job_start_records_how_to_send_the_job_again() -> None:
    job = jobs.job_start(kind="pii_scan", task="privacy.scan_version", actor=None, task_args=(7,), queue="pii")
    job.refresh_from_db()
    assert (job.task, job.task_args, job.queue) == ("privacy.scan_version", [7], "pii")


def test_celery_beat_runs_the_sweep_periodically() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE["jobs-sweep"]
    assert schedule["task"] == "core.jobs_sweep"
    assert schedule["schedule"] == django_settings.STEWARD_JOB_SWEEP_S
    from config.celery import app

    app.loader.import_default_modules()
    assert "core.jobs_sweep" in app.tasks


def test_redis_visibility_timeout_outlasts_the_longest_task() -> None:
    env = dict(os.environ, CELERY_BROKER_URL="redis://127.0.0.1:6379/0", STEWARD_TASK_SOFT_TIME_LIMIT="21600")
    env.pop("PYTEST_VERSION", None)
    env["STEWARD_DATA_DIR"] = str(django_settings.DATA_DIR)
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup();"
        "from django.conf import settings as s;"
        "print(s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], s.CELERY_TASK_TIME_LIMIT)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    visibility, limit = map(int, out.stdout.split())
    assert limit == 21600 + 120 and visibility > limit


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_thread_keeps_a_long_silent_step_leased(settings: Any) -> None:
    settings.STEWARD_JOB_HEARTBEAT_S = 1
    job = _job()
    beats = []

    def body(j: Job, reporter: Reporter) -> dict[str, Any]:
        first = Job.objects.get(pk=j.pk).heartbeat_at
        time.sleep(2.5)  # no progress reported: only the thread renews the lease
        beats.append((first, Job.objects.get(pk=j.pk).heartbeat_at))
        return {}

    run_job(job.pk, body)
    first, later = beats[0]
    assert later > first
    assert Job.objects.get(pk=job.pk).status == "succeeded"
