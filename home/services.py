"""Writes of the site itself: starting the demo story."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.audit import audit_log
from core.jobs import job_start
from core.models import Job
from home.story import KIND


def demo_story_start(*, actor: Any) -> tuple[Job, bool]:
    """Start the demo story unless one already succeeded or is under way: `(job, started)`. The demo_story job
    is the marker, so a second `make run` finds it and does nothing; a failed or cancelled story is started anew."""
    with transaction.atomic():
        existing = (
            Job.objects.select_for_update()
            .filter(kind=KIND, status__in=[Job.Status.SUCCEEDED, Job.Status.QUEUED, Job.Status.RUNNING])
            .order_by("-created_at", "-id")
            .first()
        )
        if existing is not None:
            return existing, False
        job = job_start(
            kind=KIND, task="home.demo_story", actor=actor, params={}, message="the demo story is waiting for a worker"
        )
        audit_log(actor=actor, action="demo_story.start", obj=job, summary={"kind": KIND})
    return job, True
