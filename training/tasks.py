"""Celery tasks of training, routed to queue "gpu" (settings: training.* -> gpu)."""

from __future__ import annotations

from typing import Any

from core.jobs import Reporter, job_task
from core.models import Job


# A worker that dies mid-training does not ack the message (acks_late + reject_on_worker_lost), so it is
# delivered again and the job, still "running", is taken over (allow_running) and resumes from its last
# checkpoint. The global soft/hard time limits end runaway tasks; each job also has its own time_limit_s.
@job_task("training.train", kind="training", allow_running=True, reject_on_worker_lost=True)
def train_model(job: Job, reporter: Reporter) -> dict[str, Any]:
    from training.services.jobs import training_run

    return training_run(job=job, reporter=reporter)
