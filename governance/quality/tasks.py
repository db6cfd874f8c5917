"""Celery tasks of the quality app (queue "default"). Services start them by name through core.jobs.job_start."""

from __future__ import annotations

from typing import Any

from core.jobs import Reporter, job_task
from core.models import Job


@job_task("quality.check", kind="quality_check")
def quality_check(job: Job, reporter: Reporter) -> dict[str, Any]:
    from governance.quality.services import quality_check_run

    return quality_check_run(job=job, reporter=reporter)
