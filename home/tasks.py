"""The demo story as a job (kind `demo_story`), run by a worker like any other job."""

from __future__ import annotations

from typing import Any

from core.jobs import Reporter, job_task
from core.models import Job
from home.story import KIND, story_run


# allow_running: a worker lost mid-story hands the job to the next one, which resumes after the last finished step.
@job_task("home.demo_story", kind=KIND, allow_running=True)
def demo_story(job: Job, reporter: Reporter) -> dict[str, Any]:
    return story_run(job=job, reporter=reporter)
