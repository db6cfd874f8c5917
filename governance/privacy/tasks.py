"""Celery tasks of the privacy app (queue "pii" through CELERY_TASK_ROUTES: privacy.*).

Masking fans out: `privacy.mask_version` claims the job and enqueues one `privacy.mask_chunk`
per bounded slice of rows; chunks run in parallel on any `pii` worker, and the worker that
completes the last chunk assembles the masked version and finishes the job.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from celery import shared_task

from core.jobs import PartsVerdict, Reporter, job_step, job_task
from core.models import Job


def _scan_abandoned(job: Job) -> None:
    from governance.privacy.services import pii_scan_abandoned

    pii_scan_abandoned(job=job)


# A stale message (after a database reset) may name a job whose scan is another one's: params_match makes
# it claim nothing. A scan whose worker keeps dying (out of memory) fails at its attempt cap, and its version
# stops counting it as in flight (on_abandon).
@job_task("privacy.scan_version", kind="pii_scan", params_match=("scan",), on_abandon=_scan_abandoned)
def scan_version(job: Job, reporter: Reporter, scan_id: int) -> dict[str, Any]:
    from governance.privacy.services import pii_scan_run

    return pii_scan_run(job=job, scan_id=scan_id, reporter=reporter)


def _mask_abandoned(job: Job) -> None:
    from governance.privacy.services import mask_abandoned

    mask_abandoned(job=job)


def _mask_lease_expired(job: Job, now: datetime) -> PartsVerdict:
    from governance.privacy.services import mask_lease_expired

    return mask_lease_expired(job=job, now=now)


# Once fanned out, the job's own lease does not count while its chunks are queued or running with fresh leases
# (each chunk has its own lease and attempt cap: on_lease_expired). Sent again (a lost worker) it re-sends the
# chunks still pending, or assembles the version when all are done (a crash during assembly); assembly registers
# the version once per job (core.jobs.job_output).
@job_task(
    "privacy.mask_version",
    kind="pii_mask",
    finish=False,
    on_abandon=_mask_abandoned,
    on_lease_expired=_mask_lease_expired,
)
def mask_version(job: Job, reporter: Reporter) -> dict[str, Any] | None:
    from governance.privacy.services import mask_chunks_send, mask_finalize, mask_plan

    chunks = mask_plan(job=job)
    if all(chunk.status == chunk.Status.DONE for chunk in chunks):
        return mask_finalize(job=job)
    reporter.progress(0.0, f"masking in {len(chunks)} chunk(s)", chunks=len(chunks), chunks_done=0)
    mask_chunks_send(job=job, chunks=chunks)
    return None  # the chunk that finishes last ends the job


@shared_task(name="privacy.mask_chunk", acks_late=True, reject_on_worker_lost=True)
def mask_chunk(job_id: int, index: int) -> None:
    def work(job: Job, reporter: Reporter) -> dict[str, Any] | None:
        from governance.privacy.services import mask_chunk_run

        return mask_chunk_run(job=job, index=index, worker=_worker_name())

    job_step(job_id, work, kind="pii_mask")


def _worker_name() -> str:
    hostname = getattr(mask_chunk.request, "hostname", None) or "local"
    return f"{hostname} pid {os.getpid()}"
