"""Celery tasks of the privacy app (queue "pii" through CELERY_TASK_ROUTES: privacy.*).

Masking fans out: `privacy.mask_version` claims the job and enqueues one `privacy.mask_chunk`
per bounded slice of rows; chunks run in parallel on any `pii` worker, and the worker that
completes the last chunk assembles the masked version and finishes the job.
"""
from __future__ import annotations

import logging
import os
import traceback
from typing import Any

from celery import shared_task
from django.db import transaction

from core.jobs import JobCancelled, Reporter, job_claim, job_fail, job_succeed, run_job
from core.models import Job

log = logging.getLogger(__name__)


@shared_task(name="privacy.scan_version", acks_late=True, max_retries=3, default_retry_delay=10)
def scan_version(job_id: int, scan_id: int) -> None:
    from governance.privacy.models import PiiScan
    from governance.privacy.services import pii_scan_execute, pii_scan_fail

    def work(job: Job, reporter: Reporter) -> dict[str, Any]:
        scan = PiiScan.objects.select_related("version__dataset").filter(pk=scan_id, job_id=job_id).first()
        if scan is None:
            return {"scan": None}
        return pii_scan_execute(scan=scan, reporter=reporter)

    # A stale message (after a database reset) may name a job or scan that is now another one's:
    # it must neither claim that job nor touch that scan.
    job = Job.objects.filter(pk=job_id, kind="pii_scan").only("params").first()
    if job is None or job.params.get("scan") != scan_id:
        return
    run_job(job_id, work, allow_running=True, kind="pii_scan")
    job = Job.objects.filter(pk=job_id, kind="pii_scan").only("status").first()
    if job is not None and job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
        pii_scan_fail(scan_id=scan_id)


@shared_task(name="privacy.mask_version", acks_late=True, max_retries=3, default_retry_delay=10)
def mask_version(job_id: int) -> None:
    from governance.privacy.services import mask_plan

    job = job_claim(job_id, allow_running=True, kind="pii_mask")
    if job is None:
        return
    try:
        chunks = mask_plan(job=job)
    except Exception as exc:  # noqa: BLE001 - the job must say why it failed
        log.exception("planning mask job %s failed", job_id)
        job_fail(job_id, f"{type(exc).__name__}: {exc}")
        return
    Reporter(job_id).progress(0.0, f"masking in {len(chunks)} chunk(s)", chunks=len(chunks), chunks_done=0)
    pending = [c for c in chunks if c.status == c.Status.PENDING]
    for chunk in pending:
        transaction.on_commit(lambda i=chunk.index: mask_chunk.apply_async(args=(job_id, i)))


@shared_task(name="privacy.mask_chunk", acks_late=True, max_retries=3, default_retry_delay=10)
def mask_chunk(job_id: int, index: int) -> None:
    from core.errors import ServiceError
    from governance.privacy.models import MaskChunk
    from governance.privacy.services import mask_chunk_execute, mask_finalize

    job = Job.objects.filter(pk=job_id, kind="pii_mask").first()
    if job is None or job.status != Job.Status.RUNNING:
        return
    chunk = MaskChunk.objects.filter(job=job, index=index).first()
    if chunk is None or chunk.status == MaskChunk.Status.DONE:
        return
    reporter = Reporter(job_id)
    try:
        reporter.check_cancelled()
        last = mask_chunk_execute(job=job, chunk=chunk, worker=_worker_name())
        if last:
            result = mask_finalize(job=job)
            job_succeed(job_id, result, message="masked version created")
    except JobCancelled:
        Job.objects.filter(pk=job_id).exclude(status__in=Job.FINISHED).update(
            status=Job.Status.CANCELLED, message="cancelled")
    except ServiceError as exc:
        job_fail(job_id, exc.message)
    except Exception as exc:  # noqa: BLE001
        log.exception("mask chunk %s of job %s failed", index, job_id)
        job_fail(job_id, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")


def _worker_name() -> str:
    hostname = getattr(mask_chunk.request, "hostname", None) or "local"
    return f"{hostname} pid {os.getpid()}"
