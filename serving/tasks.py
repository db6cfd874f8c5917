"""Celery tasks of serving (queue "default"). Services start them by name through core.jobs.job_start."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core.jobs import Reporter, job_task
from core.models import Job


# A job whose worker was lost starts over once its lease expires: its output is written to a fresh scratch file
# and registered only at the end, once per job (core.jobs.job_output), so a half-done run leaves nothing behind.
@job_task("serving.batch_score", kind="batch_score")
def batch_score(job: Job, reporter: Reporter) -> dict[str, Any]:
    from serving.services import batch_score_run

    return batch_score_run(job=job, reporter=reporter)


# Periodic upkeep (CELERY_BEAT_SCHEDULE), not a user's job: idempotent, so a redelivery or an overlap only deletes
# what is already past its retention.
@shared_task(name="serving.prune_retention", ignore_result=True)
def prune_retention() -> dict[str, int]:
    from serving.services import serving_retention_prune

    return serving_retention_prune()
