from __future__ import annotations

from typing import Any

from celery import shared_task

from core.jobs import Reporter, run_job
from core.models import Job


# Routed to queue "gpu" (settings: training.* -> gpu). A worker that dies mid-training does not
# ack the message (acks_late + reject_on_worker_lost), so it is delivered again and the job,
# still "running", is taken over (allow_running) and resumes from its last checkpoint. The
# global soft/hard time limits end runaway tasks; each job also has its own time_limit_s.
@shared_task(name="training.train", acks_late=True, reject_on_worker_lost=True, max_retries=3,
             default_retry_delay=30)
def train_model(job_id: int) -> None:
    def work(job: Job, reporter: Reporter) -> dict[str, Any]:
        from training.services import training_run

        return training_run(job=job, reporter=reporter)

    run_job(job_id, work, allow_running=True, kind="training")
