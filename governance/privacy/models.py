from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from core.models import Job


class PiiScanQuerySet(models.QuerySet):
    """Scans by status, which is their job's (PiiScan.status)."""

    def succeeded(self) -> PiiScanQuerySet:
        return self.filter(job__status=Job.Status.SUCCEEDED)

    def in_flight(self) -> PiiScanQuerySet:
        """Queued or running."""
        return self.filter(job__status__in=[Job.Status.QUEUED, Job.Status.RUNNING])


class PiiScan(models.Model):
    """One classification pass over a dataset version (a sample per column), run as a Job."""

    # What PiiScan.status reads: its job's status, where a cancelled scan counts as failed.
    STATUSES = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.SUCCEEDED, Job.Status.FAILED)

    version = models.ForeignKey("catalog.DatasetVersion", related_name="pii_scans", on_delete=models.CASCADE)
    # Set in the transaction that creates the scan. It holds the scan's status, so it may not be deleted first.
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(max_length=16, default="manual")  # manual | auto
    sample_rows = models.PositiveIntegerField(default=500)
    # Per column: ColumnReport.to_dict() (masked snippets only; never a raw value).
    columns = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PiiScanQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"PII scan {self.pk} of {self.version}"

    @property
    def status(self) -> str:
        """The job's status; a scan whose job was cancelled (or is gone) failed: it has no findings. Load the
        job with select_related("job") when listing scans."""
        if self.job is None or self.job.status == Job.Status.CANCELLED:
            return Job.Status.FAILED
        return self.job.status

    @property
    def finished_at(self) -> dt.datetime | None:
        return self.job.finished_at if self.job is not None else None


class PiiFinding(models.Model):
    """A column flagged by a scan, with its evidence and the steward's decision."""

    class Decision(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"  # it is PII: mask it before training
        REJECTED = "rejected"  # not PII: remembered for this column of the dataset
        MASKED = "masked"  # the column was masked by the policy that produced this version

    RESOLVED = (Decision.REJECTED, Decision.MASKED)

    scan = models.ForeignKey(PiiScan, related_name="findings", on_delete=models.CASCADE)
    version = models.ForeignKey("catalog.DatasetVersion", related_name="pii_findings", on_delete=models.CASCADE)
    column = models.CharField(max_length=300)
    entity_type = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)  # entity | free_text
    share = models.FloatField()
    score = models.FloatField()
    recognizers = models.JSONField(default=list)
    # Other entity types seen in the column and masked snippets (no raw value).
    evidence = models.JSONField(default=dict)
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    decision_note = models.CharField(max_length=300, blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scan_id", "id"]
        constraints = [models.UniqueConstraint(fields=["scan", "column"], name="one_finding_per_scan_column")]

    def __str__(self) -> str:
        return f"{self.column}: {self.entity_type} ({self.decision})"

    @property
    def resolved(self) -> bool:
        return self.decision in self.RESOLVED


class PiiColumnDecision(models.Model):
    """A steward's rejection remembered for a column of a dataset and the entity type found in it, applied to later
    versions only where the same column shows the same entity type."""

    dataset = models.ForeignKey("catalog.Dataset", related_name="pii_column_decisions", on_delete=models.CASCADE)
    column = models.CharField(max_length=300)
    decision = models.CharField(max_length=16, default=PiiFinding.Decision.REJECTED)
    entity_type = models.CharField(max_length=64, blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "column", "entity_type"], name="one_decision_per_dataset_column_entity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.column}: {self.decision}"


class CustomRecognizer(models.Model):
    """A per-dataset recognizer (regex with context words, or a deny list) from a JSON spec."""

    dataset = models.ForeignKey("catalog.Dataset", related_name="pii_recognizers", on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    spec = models.JSONField()
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset_id", "name"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="unique_recognizer_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.dataset})"


class MaskingPolicy(models.Model):
    """A saved policy (as recorded in lineage: operators and params, never a key or salt)."""

    dataset = models.ForeignKey("catalog.Dataset", related_name="masking_policies", on_delete=models.CASCADE)
    name = models.CharField(max_length=100, default="default")
    policy = models.JSONField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset_id", "name"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="unique_policy_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.dataset_id})"


class MaskChunk(models.Model):
    """One bounded slice of rows of a masking job; chunks run in parallel on `pii` workers and
    the worker that finishes the last one assembles the masked version. A chunk has its own lease: a worker claims
    it (counting an attempt) and renews `heartbeat_at` while it runs; one whose worker died is sent again on its own,
    up to the `pii_mask_chunk` attempt cap, past which its job fails."""

    class Status(models.TextChoices):
        PENDING = "pending"  # queued (heartbeat_at: when its message was last sent)
        RUNNING = "running"
        DONE = "done"

    job = models.ForeignKey("core.Job", related_name="mask_chunks", on_delete=models.CASCADE)
    index = models.PositiveIntegerField()
    start = models.BigIntegerField()
    stop = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    part = models.CharField(max_length=500, blank=True, default="")
    seconds = models.FloatField(default=0.0)
    # Which worker process ran the chunk, and when: shows whether chunks really ran in parallel.
    worker = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="unique_mask_chunk")]

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index} ({self.status})"
