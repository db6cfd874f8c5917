from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    """One record for every piece of background work: transforms, scans, masking, exports, training."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # Free-form live details (training curves, per-chunk counts) that pages draw while the job runs.
    details = models.JSONField(default=dict, blank=True)
    subject_type = models.CharField(max_length=64, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Claims so far (each delivery that started the body); past the kind's cap the job fails instead of retrying.
    attempts = models.PositiveIntegerField(default=0)
    # The lease: who runs the job and when it last said so. A running job whose heartbeat is older than
    # STEWARD_JOB_LEASE_S lost its worker; the sweep (core.jobs.jobs_sweep) retries or fails it.
    worker = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # How to send the job again (the sweep re-sends a lost message): task name, extra args, queue.
    task = models.CharField(max_length=100, blank=True, default="")
    task_args = models.JSONField(default=list, blank=True)
    queue = models.CharField(max_length=64, blank=True, default="")
    # Outputs committed in the same transaction as the job's writes (core.jobs.job_output), so a retried
    # job finds what an earlier attempt registered instead of registering it twice.
    output = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.kind} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    # Below this much progress the rate says little (setup: reading data, loading a model).
    ETA_MIN_PROGRESS = 0.05

    def eta_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds left at the rate progress has moved since the job started; None when not running or too early."""
        if self.status != self.Status.RUNNING or self.started_at is None:
            return None
        progress = float(self.progress or 0.0)
        if not self.ETA_MIN_PROGRESS <= progress < 1.0:
            return None
        elapsed = ((now or timezone.now()) - self.started_at).total_seconds()
        if elapsed <= 0:
            return None
        return round(elapsed * (1.0 - progress) / progress, 1)

    @property
    def eta_text(self) -> str:
        """`about 3 min left` for pages; empty when there is no estimate."""
        return eta_words(self.eta_seconds())


def eta_words(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min left"
    return f"about {seconds / 3600:.1f} h left"


class AuditEvent(models.Model):
    """Who wrote what, when. The summary never carries raw cell values."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"
