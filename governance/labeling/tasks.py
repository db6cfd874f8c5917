"""Celery tasks of the labeling app (queue "default"). Services start them by name: the two jobs through
core.jobs.job_start, webhook deliveries on commit of the write that caused the event."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from core.jobs import Reporter, job_task
from core.models import Job


@job_task("labeling.create_tasks", kind="labeling_tasks")
def create_tasks(job: Job, reporter: Reporter) -> dict[str, Any]:
    from governance.labeling.services import tasks_create_run

    return tasks_create_run(job=job, reporter=reporter)


@job_task("labeling.export", kind="labeling_export")
def export(job: Job, reporter: Reporter) -> dict[str, Any]:
    from governance.labeling.services import export_run

    return export_run(job=job, reporter=reporter)


@shared_task(name="labeling.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self: Any, delivery_id: int) -> None:
    """One attempt per run; a failed attempt is retried after STEWARD_LABELING_WEBHOOK_BACKOFF_S, doubling each time
    (10 s, 20 s, 40 s, ...), until STEWARD_LABELING_WEBHOOK_RETRIES retries have failed."""
    from governance.labeling.services import DeliveryFailed, webhook_attempt

    retries = settings.STEWARD_LABELING_WEBHOOK_RETRIES
    try:
        webhook_attempt(delivery_id=delivery_id, final=self.request.retries >= retries)
    except DeliveryFailed as exc:
        if self.request.retries >= retries:
            return  # logged as failed on the delivery; nothing more to do
        countdown = settings.STEWARD_LABELING_WEBHOOK_BACKOFF_S * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from None
