from __future__ import annotations

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    class Kind(models.TextChoices):
        INTERACTIONS = "interactions"
        ITEMS = "items"
        USERS = "users"
        OTHER = "other"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    tags = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> DatasetVersion | None:
        return self.versions.order_by("-number").first()


class DatasetVersion(models.Model):
    """An immutable snapshot: the original bytes, a Parquet copy, schema and profile. Never updated in place
    except for the status fields that background jobs fill in (profile, PII, quality)."""

    class ProfileStatus(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    class PiiStatus(models.TextChoices):
        NOT_SCANNED = "not_scanned"
        SCANNING = "scanning"
        CLEAN = "clean"
        UNRESOLVED = "pii_unresolved"
        RESOLVED = "resolved"

    class QualityStatus(models.TextChoices):
        """Written by the quality app from a version's latest quality report."""

        NOT_CHECKED = "not_checked"
        PASSED = "passed"
        WARNING = "warning"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, related_name="versions", on_delete=models.PROTECT)
    number = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    format = models.CharField(max_length=16)
    original_name = models.CharField(max_length=255, blank=True, default="")
    file = models.CharField(max_length=500, blank=True, default="", help_text="original bytes in storage")
    parquet = models.CharField(max_length=500, help_text="Parquet copy in storage")
    size_bytes = models.BigIntegerField(default=0)
    row_count = models.BigIntegerField(default=0)
    columns = models.JSONField(default=list, help_text="schema and profile per column")
    profile_status = models.CharField(max_length=16, choices=ProfileStatus.choices, default=ProfileStatus.PENDING)
    pii_status = models.CharField(max_length=16, choices=PiiStatus.choices, default=PiiStatus.NOT_SCANNED)
    quality_status = models.CharField(max_length=16, choices=QualityStatus.choices, default=QualityStatus.NOT_CHECKED)
    operation = models.CharField(max_length=64, default="upload")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="unique_version_number"),
            models.UniqueConstraint(fields=["dataset", "sha256"], name="unique_version_content"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def column(self, name: str) -> dict | None:
        return next((c for c in self.columns if c["name"] == name), None)


class LineageEdge(models.Model):
    """source dataset version --operation--> target (a dataset version or, named by type and id, a model version)."""

    source = models.ForeignKey(DatasetVersion, related_name="out_edges", on_delete=models.CASCADE)
    target_type = models.CharField(max_length=32, default="dataset_version")
    target_id = models.BigIntegerField()
    target_label = models.CharField(max_length=300, blank=True, default="")
    operation = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"dataset_version:{self.source_id} -{self.operation}-> {self.target_type}:{self.target_id}"
