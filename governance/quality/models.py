"""Quality rules belong to a dataset (they hold for every version of it); a report is one check of one version."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.catalog.models import Dataset, DatasetVersion


class QualityRule(models.Model):
    class Kind(models.TextChoices):
        NOT_NULL = "not_null"
        UNIQUE = "unique"
        RANGE = "range"
        REGEX = "regex"
        ALLOWED_VALUES = "allowed_values"
        ROW_COUNT_BETWEEN = "row_count_between"
        MAX_NULL_FRACTION = "max_null_fraction"
        FRESHNESS = "freshness"
        DISTRIBUTION_SHIFT = "distribution_shift"
        REFERENCES = "references"

    class Severity(models.TextChoices):
        BLOCKING = "blocking"
        WARNING = "warning"

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUGGESTED = "suggested"
        REJECTED = "rejected"

    dataset = models.ForeignKey(Dataset, related_name="quality_rules", on_delete=models.CASCADE)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    columns = models.JSONField(default=list, blank=True, help_text="the column(s) the rule reads; empty for counts")
    params = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.BLOCKING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    suggested_from = models.ForeignKey(
        DatasetVersion, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset_id", "id"]
        indexes = [models.Index(fields=["dataset", "status"])]

    def __str__(self) -> str:
        return self.name

    VALUE_BEARING = ("allowed_values", "range")

    def hide_values(self, hidden_columns: set[str]) -> QualityRule:
        """This rule as shown to a role that may not see the raw values of `hidden_columns` (personal data): a
        value-bearing rule on such a column keeps its kind and column but not its values. Never saved."""
        if self.kind in self.VALUE_BEARING and set(self.columns) & hidden_columns:
            self.params = {"values_hidden": True}
        return self

    @property
    def column(self) -> str | None:
        return self.columns[0] if self.columns else None

    @property
    def name(self) -> str:
        """A readable name that says what the rule checks, without any value of the data."""
        cols = ", ".join(self.columns)
        p = self.params
        if p.get("values_hidden"):
            return f"{self.kind}({cols}) [values hidden]"
        if self.kind == self.Kind.REFERENCES:
            return f"references({cols} -> dataset version {p.get('dataset_version')}.{p.get('column')})"
        if self.kind == self.Kind.RANGE:
            low = "[" if p.get("min_inclusive", True) and "min" in p else "("
            high = "]" if p.get("max_inclusive", True) and "max" in p else ")"
            return f"range({cols} in {low}{p.get('min', '-inf')}, {p.get('max', 'inf')}{high})"
        if self.kind == self.Kind.ROW_COUNT_BETWEEN:
            return f"row_count_between({p.get('min', 0)}, {p.get('max', 'inf')})"
        if self.kind == self.Kind.MAX_NULL_FRACTION:
            return f"max_null_fraction({cols} <= {p.get('max_fraction')})"
        if self.kind == self.Kind.FRESHNESS:
            return f"freshness({cols} within {p.get('max_age_days')} days)"
        if self.kind == self.Kind.DISTRIBUTION_SHIFT:
            return f"distribution_shift({cols} PSI <= {p.get('threshold')})"
        return f"{self.kind}({cols})"


class QualityReport(models.Model):
    """The outcome of checking one version against its dataset's active rules. `rules` holds per rule: rule id,
    name, kind, severity, passed, failing_count, failing_rows (up to 20 row positions, never values), message."""

    class Status(models.TextChoices):
        PASSED = "passed"
        WARNING = "warning"
        FAILED = "failed"

    version = models.ForeignKey(DatasetVersion, related_name="quality_reports", on_delete=models.CASCADE)
    job = models.ForeignKey("core.Job", null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    status = models.CharField(max_length=16, choices=Status.choices)
    rules = models.JSONField(default=list)
    row_count = models.BigIntegerField(default=0)
    trigger = models.CharField(max_length=16, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"quality report {self.pk} of dataset version {self.version_id}: {self.status}"

    @property
    def failing_blocking(self) -> list[str]:
        return [r["name"] for r in self.rules if not r["passed"] and r["severity"] == QualityRule.Severity.BLOCKING]
