"""The shared Job lifecycle: create + enqueue on commit, claim idempotently, report progress, finish.

Tasks use `run_job(job_id, work)`: it claims the job (a conditional UPDATE, so a duplicate delivery
does nothing), calls `work(job, reporter)`, and records success, failure (with the reason) or
cancellation. `work` returns the job's result dict.
"""
from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.audit import audit_log
from core.errors import ServiceError
from core.models import Job

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside work when the user asked to cancel; the job ends as `cancelled`."""


def job_create(*, kind: str, actor: Any, params: dict[str, Any] | None = None, subject_type: str = "",
               subject_id: int | None = None, message: str = "waiting for a worker") -> Job:
    job = Job.objects.create(
        kind=kind, params=params or {}, subject_type=subject_type, subject_id=subject_id,
        actor=actor if getattr(actor, "is_authenticated", False) else None, message=message,
    )
    audit_log(actor=actor, action="job.create", obj=job, summary={"kind": kind, "subject": f"{subject_type}:{subject_id}"})
    return job


def job_enqueue(job: Job, task: Any, *args: Any, queue: str | None = None) -> None:
    """Send the task once the surrounding transaction commits, so the worker always finds the row."""
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: task.apply_async(args=(job.pk, *args), **options))


def job_claim(job_id: int, *, allow_running: bool = False, kind: str | None = None) -> Job | None:
    """Move queued -> running exactly once. With allow_running, a redelivered job (worker lost) is taken over.
    With `kind`, a message naming a job of another kind (a stale message after a database reset) claims nothing."""
    statuses = [Job.Status.QUEUED] + ([Job.Status.RUNNING] if allow_running else [])
    now = timezone.now()
    rows = Job.objects.filter(pk=job_id, status__in=statuses, cancel_requested=False)
    if kind is not None:
        rows = rows.filter(kind=kind)
    updated = rows.update(
        status=Job.Status.RUNNING, started_at=now, attempts=F("attempts") + 1, message="running"
    )
    if not updated:
        # Cancelled before it started: close it without running.
        Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, cancel_requested=True).update(
            status=Job.Status.CANCELLED, finished_at=now, message="cancelled before start"
        )
        return None
    return Job.objects.get(pk=job_id)


class Reporter:
    """Writes progress to the Job row and answers whether cancellation was requested."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id

    def progress(self, fraction: float, message: str = "", **details: Any) -> None:
        fields: dict[str, Any] = {"progress": max(0.0, min(1.0, float(fraction)))}
        if message:
            fields["message"] = message[:500]
        if details:
            job = Job.objects.only("details").get(pk=self.job_id)
            merged = dict(job.details)
            merged.update(details)
            fields["details"] = merged
        Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING).update(**fields)

    def cancelled(self) -> bool:
        return Job.objects.filter(pk=self.job_id, cancel_requested=True).exists()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()


def job_succeed(job_id: int, result: dict[str, Any], message: str = "done") -> None:
    Job.objects.filter(pk=job_id).update(
        status=Job.Status.SUCCEEDED, progress=1.0, result=result, message=message, finished_at=timezone.now()
    )


def job_fail(job_id: int, error: str) -> None:
    Job.objects.filter(pk=job_id).exclude(status__in=Job.FINISHED).update(
        status=Job.Status.FAILED, error=error[:10000], message="failed", finished_at=timezone.now()
    )


def run_job(job_id: int, work: Callable[[Job, Reporter], dict[str, Any]], *, allow_running: bool = False,
            kind: str | None = None) -> None:
    job = job_claim(job_id, allow_running=allow_running, kind=kind)
    if job is None:
        return
    reporter = Reporter(job_id)
    try:
        result = work(job, reporter)
    except JobCancelled:
        Job.objects.filter(pk=job_id).update(
            status=Job.Status.CANCELLED, message="cancelled", finished_at=timezone.now()
        )
        return
    except ServiceError as exc:
        job_fail(job_id, exc.message)
        return
    except Exception as exc:  # a failed job must say why instead of vanishing
        log.exception("job %s (%s) failed", job_id, job.kind)
        job_fail(job_id, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        return
    job_succeed(job_id, result or {})


def job_cancel(*, job: Job, actor: Any) -> Job:
    with transaction.atomic():
        if job.is_finished:
            raise ServiceError(f"Job {job.pk} has already finished ({job.status}).", status_code=409, code="finished")
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        Job.objects.filter(Q(pk=job.pk) & Q(status=Job.Status.QUEUED)).update(
            status=Job.Status.CANCELLED, message="cancelled", finished_at=timezone.now()
        )
        audit_log(actor=actor, action="job.cancel", obj=job)
    job.refresh_from_db()
    return job
