"""The shared Job lifecycle: one task contract for every kind of background work.

- Services start work with `job_start(kind=..., task="app.task_name", ...)`: it creates the Job row and sends the
  task *by name* once the surrounding transaction commits, so services never import `tasks.py` and a worker always
  finds the row it is sent.
- Tasks are declared with `@job_task("app.task_name", kind=...)` around a body `body(job, reporter, *args) -> dict`.
  The wrapper claims the job (a conditional UPDATE, so a duplicate delivery does nothing), runs the body, and
  records success (guarded by status), failure with the reason, or cancellation.
- A part of a job that is already running (a masking chunk) runs through `job_step`, with the same failure and
  cancellation handling but no claim.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

from celery import current_app, shared_task
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.audit import audit_log, user_or_none
from core.errors import ServiceError
from core.models import Job
from core.roles import STEWARD, user_roles

log = logging.getLogger(__name__)

JobBody = Callable[..., "dict[str, Any] | None"]


class JobCancelled(Exception):
    """Raised inside work when the user asked to cancel; the job ends as `cancelled`."""


def job_create(
    *,
    kind: str,
    actor: Any,
    params: dict[str, Any] | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    message: str = "waiting for a worker",
) -> Job:
    job = Job.objects.create(
        kind=kind,
        params=params or {},
        subject_type=subject_type,
        subject_id=subject_id,
        actor=user_or_none(actor),
        message=message,
    )
    audit_log(
        actor=actor, action="job.create", obj=job, summary={"kind": kind, "subject": f"{subject_type}:{subject_id}"}
    )
    return job


def job_enqueue(job: Job | int, task: str, *args: Any, queue: str | None = None) -> None:
    """Send task `task` (a registered name) with `(job id, *args)` once the surrounding transaction commits."""
    job_id = job if isinstance(job, int) else job.pk
    options = {"queue": queue} if queue else {}

    def send() -> None:
        if task not in current_app.tasks:
            current_app.loader.import_default_modules()  # autodiscovers every app's tasks.py, once per process
        registered = current_app.tasks.get(task)
        if registered is not None:  # apply_async honours task_always_eager (tests), send_task would not
            registered.apply_async(args=(job_id, *args), **options)
        else:
            current_app.send_task(task, args=(job_id, *args), **options)

    transaction.on_commit(send)


def job_start(
    *,
    kind: str,
    task: str,
    actor: Any,
    params: dict[str, Any] | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    message: str = "waiting for a worker",
    task_args: tuple[Any, ...] = (),
    queue: str | None = None,
) -> Job:
    """Create a job and enqueue its task on commit: the one way services start background work."""
    with transaction.atomic():
        job = job_create(
            kind=kind, actor=actor, params=params, subject_type=subject_type, subject_id=subject_id, message=message
        )
        job_enqueue(job, task, *task_args, queue=queue)
    return job


def job_claim(
    job_id: int, *, allow_running: bool = False, kind: str | None = None, params_match: dict[str, Any] | None = None
) -> Job | None:
    """Move queued -> running exactly once. With allow_running, a redelivered job (worker lost) is taken over.
    With `kind` (and `params_match`), a stale message naming a job of another kind or with other parameters
    (after a database reset) claims nothing."""
    statuses = [Job.Status.QUEUED] + ([Job.Status.RUNNING] if allow_running else [])
    now = timezone.now()
    rows = Job.objects.filter(pk=job_id, status__in=statuses, cancel_requested=False)
    if kind is not None:
        rows = rows.filter(kind=kind)
    for key, value in (params_match or {}).items():
        rows = rows.filter(**{f"params__{key}": value})
    updated = rows.update(status=Job.Status.RUNNING, started_at=now, attempts=F("attempts") + 1, message="running")
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


def job_succeed(job_id: int, result: dict[str, Any], message: str = "done") -> bool:
    """Running -> succeeded; False (and nothing written) when the job is not running any more."""
    return bool(
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED, progress=1.0, result=result, message=message, finished_at=timezone.now()
        )
    )


def job_fail(job_id: int, error: str) -> bool:
    return bool(
        Job.objects.filter(pk=job_id)
        .exclude(status__in=Job.FINISHED)
        .update(status=Job.Status.FAILED, error=error[:10000], message="failed", finished_at=timezone.now())
    )


def _job_cancelled(job_id: int) -> None:
    Job.objects.filter(pk=job_id).exclude(status__in=Job.FINISHED).update(
        status=Job.Status.CANCELLED, message="cancelled", finished_at=timezone.now()
    )


def _settle(job_id: int, label: str, call: Callable[[], dict[str, Any] | None], *, finish: bool) -> None:
    """Run `call` and record how it ended. With finish, a returned result (None counts as {}) ends the job as
    succeeded; without, only a returned dict does (a step that was not the last leaves the job running)."""
    try:
        result = call()
    except JobCancelled:
        _job_cancelled(job_id)
        return
    except ServiceError as exc:
        job_fail(job_id, exc.message)
        return
    except Exception as exc:  # a failed job must say why instead of vanishing
        log.exception("%s failed", label)
        job_fail(job_id, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        return
    if result is not None or finish:
        job_succeed(job_id, result or {})


def run_job(
    job_id: int,
    work: Callable[[Job, Reporter], dict[str, Any] | None],
    *,
    allow_running: bool = False,
    kind: str | None = None,
    params_match: dict[str, Any] | None = None,
    finish: bool = True,
) -> Job | None:
    """Claim the job, run `work(job, reporter)`, record the outcome. Returns the claimed job (None if not claimed).
    With finish=False the work only starts the job (fans out steps) and a returned None leaves it running."""
    job = job_claim(job_id, allow_running=allow_running, kind=kind, params_match=params_match)
    if job is None:
        return None
    _settle(job_id, f"job {job_id} ({job.kind})", lambda: work(job, Reporter(job_id)), finish=finish)
    return job


def job_step(job_id: int, work: Callable[[Job, Reporter], dict[str, Any] | None], *, kind: str) -> None:
    """Run one part of a job that is already running (no claim). `work` returns the job's result when this part
    finished the job, None otherwise; failures and cancellation are recorded as in run_job."""
    job = Job.objects.filter(pk=job_id, kind=kind, status=Job.Status.RUNNING).first()
    if job is None:
        return

    def call() -> dict[str, Any] | None:
        reporter = Reporter(job_id)
        reporter.check_cancelled()
        return work(job, reporter)

    _settle(job_id, f"step of job {job_id} ({kind})", call, finish=False)


def job_task(
    name: str,
    *,
    kind: str,
    allow_running: bool = False,
    params_match: tuple[str, ...] = (),
    finish: bool = True,
    **options: Any,
) -> Callable[[JobBody], Any]:
    """Declare the Celery task `name` whose body runs a `kind` job: `body(job, reporter, *args) -> result dict`.

    The task is called with `(job_id, *args)`. `allow_running` lets a redelivered message (worker lost) take
    over a running job; `params_match` names job params that the extra args must equal (stale-message guard);
    `finish=False` is for a body that fans the work out to steps (`job_step`), the last of which ends the job.
    """

    def decorate(body: JobBody) -> Any:
        @shared_task(name=name, acks_late=True, **options)
        @functools.wraps(body)
        def task(job_id: int, *args: Any) -> None:
            match = dict(zip(params_match, args, strict=False)) if params_match else None
            run_job(
                job_id,
                lambda job, reporter: body(job, reporter, *args),
                allow_running=allow_running,
                kind=kind,
                params_match=match,
                finish=finish,
            )

        return task

    return decorate


def job_cancel(*, job: Job, actor: Any) -> Job:
    """Ask a job to stop: its owner, a steward or an admin may; one that has not started ends at once."""
    user = user_or_none(actor)
    if user is None or not (user.pk == job.actor_id or user.is_superuser or STEWARD in user_roles(user)):
        raise ServiceError(
            "Only the job's owner or a steward may cancel it.", status_code=403, code="permission_denied"
        )
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
