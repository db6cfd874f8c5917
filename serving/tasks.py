from __future__ import annotations

from typing import Any

from celery import shared_task

from core.jobs import Reporter, run_job
from core.models import Job


@shared_task(name="serving.batch_score", acks_late=True, max_retries=3, default_retry_delay=10)
def batch_score(job_id: int) -> None:
    def work(job: Job, reporter: Reporter) -> dict[str, Any]:
        from serving.services import batch_score_run

        return batch_score_run(job=job, reporter=reporter)

    # A redelivered job (worker lost) starts over: its output is written to a fresh scratch file and
    # registered only at the end, so a half-done run leaves nothing behind.
    run_job(job_id, work, allow_running=True, kind="batch_score")
