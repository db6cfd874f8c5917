"""Celery tasks of training, routed to queue "gpu" (settings: training.* -> gpu)."""

from __future__ import annotations

from typing import Any

from core.jobs import Reporter, job_task
from core.models import Job


# A worker that dies mid-training leaves the job running with a checkpoint; once its lease expires, the redelivered
# message (or the sweep) takes it over and it resumes from that checkpoint (core.jobs). The global soft/hard time
# limits end runaway tasks; each job also has its own time_limit_s.
@job_task("training.train", kind="training")
def train_model(job: Job, reporter: Reporter) -> dict[str, Any]:
    from training.services.jobs import training_run

    return training_run(job=job, reporter=reporter)
