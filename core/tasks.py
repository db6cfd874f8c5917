"""Celery tasks of core (queue "default"): the periodic job sweep that Celery beat sends every STEWARD_JOB_SWEEP_S."""

from __future__ import annotations

from celery import shared_task

from core.jobs import jobs_sweep


@shared_task(name="core.jobs_sweep", ignore_result=True)
def sweep_jobs() -> dict[str, int]:
    return jobs_sweep()
