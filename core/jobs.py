"""The shared Job lifecycle: one task contract for every kind of background work.

- Services start work with `job_start(kind=..., task="app.task_name", ...)`: it creates the Job row (with the task
  name, args and queue, so the sweep can send it again) and sends the task *by name* once the surrounding
  transaction commits, so services never import `tasks.py` and a worker always finds the row it is sent.
- Tasks are declared with `@job_task("app.task_name", kind=...)` around a body `body(job, reporter, *args) -> dict`.
  The wrapper claims the job (a conditional UPDATE), runs the body while a thread keeps the job's lease fresh
  (heartbeat), and records success, failure with the reason, or cancellation, each guarded by status and attempt.
- Leases: a claim takes a queued job, or a running one whose heartbeat is older than STEWARD_JOB_LEASE_S (its
  worker died), counting an attempt; past the kind's cap (STEWARD_JOB_MAX_ATTEMPTS, ..._BY_KIND) the job fails
  with the reason. A running job with a fresh lease is never taken over. `jobs_sweep` (Celery beat) sends lost
  jobs again: queued ones whose message was lost, running ones whose lease expired.
- A part of a job that is already running (a masking chunk) runs through `job_step`, with the same heartbeat,
  failure and cancellation handling but no claim.
- A job that fans out to parts with their own leases (masking chunks) registers `on_lease_expired(job, now)`: when
  the job's own lease expires while its parts wait or run, the hook says whether they are alive (the job's lease is
  renewed, no attempt counted), lost beyond their own attempt cap (the job fails with the hook's reason), or
  neither (the job is retried as any other).
- `job_output` makes finalisation idempotent: an output (a version, a model version) is registered in the same
  transaction that records it on the job, so a retried job finds it instead of registering it twice.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app, current_task, shared_task
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.audit import audit_log, user_or_none
from core.errors import ServiceError
from core.models import Job
from core.openlineage import job_event
from core.roles import STEWARD, user_roles

log = logging.getLogger(__name__)

JobBody = Callable[..., "dict[str, Any] | None"]
# kind -> what to tidy up when a job of that kind ends without its body (lost worker, attempts spent): the body's
# own failure handling never ran. Registered by job_task(on_abandon=...).
_ON_ABANDON: dict[str, Callable[[Job], None]] = {}


@dataclass(frozen=True)
class PartsVerdict:
    """What a kind's on_lease_expired hook says of a job whose own lease expired: its parts are `alive` (queued or
    running with fresh leases: keep the job), or `failed` (a part spent its attempts: fail the job with this reason);
    neither: the job is lost and handled as any other."""

    alive: bool = False
    failed: str = ""


# kind -> on_lease_expired(job, now) -> PartsVerdict, registered by job_task(on_lease_expired=...).
_ON_LEASE_EXPIRED: dict[str, Callable[[Job, datetime], PartsVerdict]] = {}


class JobCancelled(Exception):
    """Raised inside work when the user asked to cancel; the job ends as `cancelled`."""


class JobLost(Exception):
    """Raised inside work whose job is no longer this attempt's (the sweep retried or failed it, or another
    worker took it over): the work stops and writes nothing more."""


def max_attempts(kind: str) -> int:
    """How many claims a job of `kind` gets before a lost worker fails it instead of retrying it."""
    return int(settings.STEWARD_JOB_MAX_ATTEMPTS_BY_KIND.get(kind, settings.STEWARD_JOB_MAX_ATTEMPTS))


def worker_identity() -> str:
    """`hostname pid N` of the process running a job (the Celery worker's node name where there is one)."""
    request = current_task.request if current_task else None  # None outside a task (a test calling run_job)
    hostname = (getattr(request, "hostname", None) or "") if request else ""
    return f"{hostname or socket.gethostname()} pid {os.getpid()}"[:200]


def _step_delay() -> None:
    """Test and chaos-bench hook (STEWARD_JOB_STEP_DELAY_MS): makes a job slow on tiny data, outside transactions."""
    delay = settings.STEWARD_JOB_STEP_DELAY_MS
    if delay and not connection.in_atomic_block:
        time.sleep(delay / 1000)


def job_create(
    *,
    kind: str,
    actor: Any,
    params: dict[str, Any] | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    message: str = "waiting for a worker",
    task: str = "",
    task_args: tuple[Any, ...] = (),
    queue: str | None = None,
) -> Job:
    job = Job.objects.create(
        kind=kind,
        params=params or {},
        subject_type=subject_type,
        subject_id=subject_id,
        actor=user_or_none(actor),
        message=message,
        task=task,
        task_args=list(task_args),
        queue=queue or "",
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
        app = current_app
        if app.conf.task_always_eager:  # tests and STEWARD_TASKS_EAGER: run here, through the registered task
            if task not in app.tasks:
                app.loader.import_default_modules()  # autodiscovers every app's tasks.py, once per process
            registered = app.tasks.get(task)
            if registered is not None:
                registered.apply_async(args=(job_id, *args), **options)
                return
        # By name, routed by CELERY_TASK_ROUTES: a web process need not import every task module (and the ML stack
        # behind them, seconds) before the first job it starts.
        app.send_task(task, args=(job_id, *args), **options)

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
            kind=kind,
            actor=actor,
            params=params,
            subject_type=subject_type,
            subject_id=subject_id,
            message=message,
            task=task,
            task_args=task_args,
            queue=queue,
        )
        job_enqueue(job, task, *task_args, queue=queue)
    return job


def _lease_expired(now: datetime) -> Q:
    cutoff = now - timedelta(seconds=settings.STEWARD_JOB_LEASE_S)
    return Q(status=Job.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff) | Q(started_at__isnull=True)
    )


def _lost_reason(job: Job) -> str:
    beat = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "never"
    return (
        f"its worker ({job.worker or 'unknown'}) was lost on attempt {job.attempts}: no heartbeat since {beat} "
        f"(lease {settings.STEWARD_JOB_LEASE_S} s)"
    )


def _abandoned(job: Job) -> None:
    hook = _ON_ABANDON.get(job.kind)
    if hook is None:
        return
    try:
        hook(Job.objects.get(pk=job.pk))
    except Exception:  # the job's own state is already final; a failed tidy-up must not undo that
        log.exception("tidying up abandoned job %s (%s) failed", job.pk, job.kind)


def _parts_verdict(job: Job, now: datetime) -> PartsVerdict:
    hook = _ON_LEASE_EXPIRED.get(job.kind)
    if hook is None:
        return PartsVerdict()
    try:
        return hook(job, now)
    except Exception:  # a broken hook must not keep a job alive forever: it is retried as any other
        log.exception("checking the parts of job %s (%s) failed", job.pk, job.kind)
        return PartsVerdict()


def _settle_expired(job: Job, now: datetime, verdict: PartsVerdict) -> str:
    """Apply a verdict on a running job whose lease expired, guarded by the state it was seen in: "kept" (its
    lease renewed), "failed" (with the parts' reason) or "" (nothing applied)."""
    seen = Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, heartbeat_at=job.heartbeat_at
    )
    if verdict.failed:
        if seen.update(
            status=Job.Status.FAILED,
            error=verdict.failed[:10000],
            message="failed: a part's attempts exhausted",
            finished_at=now,
        ):
            log.warning("job %s (%s) failed: %s", job.pk, job.kind, verdict.failed)
            _abandoned(job)
            return "failed"
        return ""
    if verdict.alive and seen.update(heartbeat_at=now):
        return "kept"
    return ""


def _give_up(job: Job, why: str) -> bool:
    """Fail a job whose attempts are spent, guarded by the state it was seen in."""
    cap = max_attempts(job.kind)
    error = f"gave up after {job.attempts} of {cap} attempts: {why}"
    failed = bool(
        Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts, heartbeat_at=job.heartbeat_at).update(
            status=Job.Status.FAILED, error=error, message="failed: attempts exhausted", finished_at=timezone.now()
        )
    )
    if failed:
        log.warning("job %s (%s) failed: %s", job.pk, job.kind, error)
        _abandoned(job)
        job_event(job.pk, "FAIL", kind=job.kind)
    return failed


def job_claim(
    job_id: int, *, kind: str | None = None, params_match: dict[str, Any] | None = None, worker: str = ""
) -> Job | None:
    """Take the job for this worker: a queued one, or a running one whose lease expired (its worker died); each
    claim counts an attempt, and a job past its kind's cap fails with the reason instead. A running job with a
    fresh lease is refused (None), as is a stale message naming a job of another kind or with other `params_match`
    (after a database reset)."""
    now = timezone.now()
    rows = Job.objects.filter(pk=job_id, cancel_requested=False)
    if kind is not None:
        rows = rows.filter(kind=kind)
    for key, value in (params_match or {}).items():
        rows = rows.filter(**{f"params__{key}": value})
    claimable = Q(status=Job.Status.QUEUED) | _lease_expired(now)
    job = rows.filter(claimable).first()
    if job is None:
        # Cancelled before it started: close it without running.
        Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, cancel_requested=True).update(
            status=Job.Status.CANCELLED, finished_at=now, message="cancelled before start"
        )
        return None
    if job.status == Job.Status.RUNNING:
        verdict = _parts_verdict(job, now)
        if verdict.alive or verdict.failed:  # its parts carry on (or ended it): not this message's to take over
            _settle_expired(job, now, verdict)
            return None
    cap = max_attempts(job.kind)
    if job.attempts >= cap:
        _give_up(job, _lost_reason(job) if job.status == Job.Status.RUNNING else "it was sent again after its cap")
        return None
    attempt = job.attempts + 1
    updated = rows.filter(claimable, attempts=job.attempts).update(
        status=Job.Status.RUNNING,
        started_at=now,
        attempts=F("attempts") + 1,
        message="running" if attempt == 1 else f"running (attempt {attempt} of {cap})",
        worker=(worker or worker_identity())[:200],
        heartbeat_at=now,
    )
    if not updated:  # another worker claimed it in between
        return None
    if job.status == Job.Status.RUNNING:
        log.warning("job %s (%s) taken over: %s", job_id, job.kind, _lost_reason(job))
    return Job.objects.get(pk=job_id)


def job_heartbeat(job_id: int, attempt: int) -> bool:
    """Renew the lease of `attempt`; False when the job is no longer that attempt's, or no longer running."""
    return bool(
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempts=attempt).update(heartbeat_at=timezone.now())
    )


class _Heartbeat:
    """Renews a job's lease every STEWARD_JOB_HEARTBEAT_S from a thread while its body runs, so a long step
    that reports no progress (a training epoch, a big read) keeps its lease. Not started inside an outer
    transaction (eager tests): another connection's heartbeat could not see the uncommitted job row.
    With `beat`, renews that instead (a part's own lease: `beat()` returns False once the part is not its own)."""

    def __init__(self, job_id: int, attempt: int, beat: Callable[[], bool] | None = None) -> None:
        self.job_id, self.attempt = job_id, attempt
        self._beat = beat or (lambda: job_heartbeat(self.job_id, self.attempt))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.STEWARD_JOB_HEARTBEAT_S):
                try:
                    if not self._beat():
                        return  # finished, retried or failed elsewhere: nothing left to renew
                except Exception:  # the database is briefly unreachable: try again next beat
                    log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections

    def __enter__(self) -> _Heartbeat:
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._run, name=f"job-{self.job_id}-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class Reporter:
    """Writes progress (and renews the lease) on the Job row and answers whether cancellation was requested.
    With `attempt`, progress of an attempt that lost the job raises JobLost, so the work stops."""

    def __init__(self, job_id: int, attempt: int | None = None) -> None:
        self.job_id = job_id
        self.attempt = attempt

    def progress(self, fraction: float, message: str = "", **details: Any) -> None:
        fields: dict[str, Any] = {"progress": max(0.0, min(1.0, float(fraction))), "heartbeat_at": timezone.now()}
        if message:
            fields["message"] = message[:500]
        if details:
            job = Job.objects.only("details").get(pk=self.job_id)
            merged = dict(job.details)
            merged.update(details)
            fields["details"] = merged
        rows = Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING)
        if self.attempt is not None:
            rows = rows.filter(attempts=self.attempt)
        if not rows.update(**fields) and self.attempt is not None:
            raise JobLost(f"job {self.job_id} is no longer attempt {self.attempt}'s")
        _step_delay()

    def cancelled(self) -> bool:
        return Job.objects.filter(pk=self.job_id, cancel_requested=True).exists()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()


def part_heartbeat(job_id: int, beat: Callable[[], bool]) -> _Heartbeat:
    """A context manager renewing a part's own lease (`beat`) from a thread while the part runs."""
    return _Heartbeat(job_id, 0, beat)


def _attempt_rows(job_id: int, attempt: int | None) -> Any:
    rows = Job.objects.filter(pk=job_id)
    return rows.filter(attempts=attempt) if attempt is not None else rows


def job_succeed(job_id: int, result: dict[str, Any], message: str = "done", *, attempt: int | None = None) -> bool:
    """Running -> succeeded; False (and nothing written) when the job is not running any more, or (with
    `attempt`) is running another attempt."""
    return bool(
        _attempt_rows(job_id, attempt)
        .filter(status=Job.Status.RUNNING)
        .update(status=Job.Status.SUCCEEDED, progress=1.0, result=result, message=message, finished_at=timezone.now())
    )


def job_fail(job_id: int, error: str, *, attempt: int | None = None) -> bool:
    """Queued or running -> failed with the reason; False when it already finished (or is another attempt's)."""
    return bool(
        _attempt_rows(job_id, attempt)
        .exclude(status__in=Job.FINISHED)
        .update(status=Job.Status.FAILED, error=error[:10000], message="failed", finished_at=timezone.now())
    )


def _job_cancelled(job_id: int, attempt: int | None = None) -> bool:
    return bool(
        _attempt_rows(job_id, attempt)
        .exclude(status__in=Job.FINISHED)
        .update(status=Job.Status.CANCELLED, message="cancelled", finished_at=timezone.now())
    )


def job_output(job: Job, key: str, make: Callable[[], Any]) -> Any:
    """Register an output of `job` at most once. `make` writes it (a version, a model version, lineage edges) and
    returns a JSON value naming it; that value is recorded on the job in the same transaction, fenced by the job's
    attempt, so an attempt retried after a crash anywhere in `make` or later gets the recorded value back."""
    with transaction.atomic():
        row = Job.objects.select_for_update().filter(pk=job.pk).values("output", "status", "attempts").first()
        if row is None:
            raise JobLost(f"job {job.pk} no longer exists")
        if key in row["output"]:
            return row["output"][key]
        if row["status"] != Job.Status.RUNNING or row["attempts"] != job.attempts:
            raise JobLost(f"job {job.pk} is no longer attempt {job.attempts}'s")
        value = make()
        Job.objects.filter(pk=job.pk).update(output={**row["output"], key: value})
    return value


def job_output_get(job: Job, key: str) -> Any | None:
    """The value an earlier attempt recorded under `key`, or None."""
    output = Job.objects.filter(pk=job.pk).values_list("output", flat=True).first() or {}
    return output.get(key)


def _settle(
    job_id: int, label: str, call: Callable[[], dict[str, Any] | None], *, finish: bool, attempt: int | None
) -> bool:
    """Run `call` and record how it ended. With finish, a returned result (None counts as {}) ends the job as
    succeeded; without, only a returned dict does (a step that was not the last leaves the job running).
    True when this call ended the job (so exactly one caller announces the end)."""
    try:
        result = call()
    except JobLost as exc:
        log.warning("%s stopped: %s", label, exc)
        return False
    except JobCancelled:
        return _job_cancelled(job_id, attempt)
    except ServiceError as exc:
        return job_fail(job_id, exc.message, attempt=attempt)
    except Exception as exc:  # a failed job must say why instead of vanishing
        log.exception("%s failed", label)
        return job_fail(job_id, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}", attempt=attempt)
    if result is not None or finish:
        return job_succeed(job_id, result or {}, attempt=attempt)
    return False


def run_job(
    job_id: int,
    work: Callable[[Job, Reporter], dict[str, Any] | None],
    *,
    kind: str | None = None,
    params_match: dict[str, Any] | None = None,
    finish: bool = True,
    worker: str = "",
) -> Job | None:
    """Claim the job, run `work(job, reporter)` under a heartbeat, record the outcome. Returns the claimed job
    (None if not claimed). With finish=False the work only starts the job (fans out steps) and a returned None
    leaves it running."""
    job = job_claim(job_id, kind=kind, params_match=params_match, worker=worker)
    if job is None:
        return None
    attempt = job.attempts
    job_event(job_id, "START", kind=job.kind)
    with _Heartbeat(job_id, attempt):
        ended = _settle(
            job_id,
            f"job {job_id} ({job.kind})",
            lambda: work(job, Reporter(job_id, attempt)),
            finish=finish,
            attempt=attempt,
        )
    if ended:
        job_event(job_id, kind=job.kind)
    return job


def job_step(job_id: int, work: Callable[[Job, Reporter], dict[str, Any] | None], *, kind: str) -> None:
    """Run one part of a job that is already running (no claim). `work` returns the job's result when this part
    finished the job, None otherwise; failures and cancellation are recorded as in run_job."""
    job = Job.objects.filter(pk=job_id, kind=kind, status=Job.Status.RUNNING).first()
    if job is None:
        return
    attempt = job.attempts
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempts=attempt).update(
        heartbeat_at=timezone.now(), worker=worker_identity()
    )
    _step_delay()

    def call() -> dict[str, Any] | None:
        reporter = Reporter(job_id, attempt)
        reporter.check_cancelled()
        return work(job, reporter)

    with _Heartbeat(job_id, attempt):
        ended = _settle(job_id, f"step of job {job_id} ({kind})", call, finish=False, attempt=attempt)
    if ended:
        job_event(job_id, kind=kind)


def job_task(
    name: str,
    *,
    kind: str,
    params_match: tuple[str, ...] = (),
    finish: bool = True,
    on_abandon: Callable[[Job], None] | None = None,
    on_lease_expired: Callable[[Job, datetime], PartsVerdict] | None = None,
    **options: Any,
) -> Callable[[JobBody], Any]:
    """Declare the Celery task `name` whose body runs a `kind` job: `body(job, reporter, *args) -> result dict`.

    The task is called with `(job_id, *args)`. Messages are acked late and rejected (so redelivered) when the
    worker process dies; the claim's lease makes a redelivery harmless while the first run is alive.
    `params_match` names job params that the extra args must equal (stale-message guard); `finish=False` is for
    a body that fans the work out to steps (`job_step`), the last of which ends the job. Bodies must be safe to
    run again after a crash: outputs go through `job_output`. `on_abandon(job)` tidies up state the body keeps
    elsewhere when the job ends without it (its worker was lost and its attempts are spent, or it was cancelled).
    `on_lease_expired(job, now)` judges a fanned-out job whose own lease expired by its parts (PartsVerdict).
    """
    if on_abandon is not None:
        _ON_ABANDON[kind] = on_abandon
    if on_lease_expired is not None:
        _ON_LEASE_EXPIRED[kind] = on_lease_expired

    def decorate(body: JobBody) -> Any:
        @shared_task(name=name, acks_late=True, reject_on_worker_lost=True, **options)
        @functools.wraps(body)
        def task(job_id: int, *args: Any) -> None:
            match = dict(zip(params_match, args, strict=False)) if params_match else None
            run_job(
                job_id,
                lambda job, reporter: body(job, reporter, *args),
                kind=kind,
                params_match=match,
                finish=finish,
            )

        return task

    return decorate


def jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic recovery pass (Celery beat, every STEWARD_JOB_SWEEP_S):
    - a running job whose lease expired is queued and sent again, or failed with the reason once its kind's
      attempt cap is spent (cancelled, if its owner had asked to cancel it);
    - a queued job nobody claimed for STEWARD_JOB_QUEUED_RESEND_S is sent again (its message was lost: a broker
      that dropped it, a worker killed after taking it off the filesystem broker).
    Each change is a conditional UPDATE on the state the sweep saw, so it never races a live worker."""
    now = now or timezone.now()
    current_app.loader.import_default_modules()  # the tasks modules register their on_abandon hooks
    counts = {"requeued": 0, "resent": 0, "failed": 0, "cancelled": 0, "kept": 0}
    for job in Job.objects.filter(_lease_expired(now)).order_by("pk")[:500]:
        seen = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts)
        seen = seen.filter(heartbeat_at=job.heartbeat_at)
        if job.cancel_requested:
            if seen.update(status=Job.Status.CANCELLED, message="cancelled (its worker was lost)", finished_at=now):
                counts["cancelled"] += 1
                _abandoned(job)
            continue
        outcome = _settle_expired(job, now, _parts_verdict(job, now))
        if outcome:
            counts[outcome] += 1
            continue
        if job.attempts >= max_attempts(job.kind):
            counts["failed"] += _give_up(job, _lost_reason(job))
            continue
        if not job.task:
            if seen.update(
                status=Job.Status.FAILED,
                error=f"{_lost_reason(job)}; the job records no task to send again",
                message="failed: worker lost",
                finished_at=now,
            ):
                counts["failed"] += 1
                _abandoned(job)
            continue
        with transaction.atomic():
            if seen.update(status=Job.Status.QUEUED, message=f"requeued: {_lost_reason(job)}"[:500], heartbeat_at=now):
                job_enqueue(job, job.task, *job.task_args, queue=job.queue or None)
                counts["requeued"] += 1
                log.warning("job %s (%s) requeued: %s", job.pk, job.kind, _lost_reason(job))
    resend_cutoff = now - timedelta(seconds=settings.STEWARD_JOB_QUEUED_RESEND_S)
    stale = (
        Job.objects.filter(status=Job.Status.QUEUED, cancel_requested=False)
        .exclude(task="")
        .annotate(waiting_since=Coalesce("heartbeat_at", "created_at"))
        .filter(waiting_since__lt=resend_cutoff)
        .order_by("pk")[:500]
    )
    for job in stale:
        with transaction.atomic():
            touched = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED, heartbeat_at=job.heartbeat_at)
            if touched.update(heartbeat_at=now):
                job_enqueue(job, job.task, *job.task_args, queue=job.queue or None)
                counts["resent"] += 1
    if any(counts.values()):
        log.info("jobs sweep: %s", counts)
    return counts


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
