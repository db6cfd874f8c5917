"""The model registry: registered models, their immutable versions, and aliases with history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

# What a model name and an alias may be: the pattern, and the rule as error messages state it.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
MODEL_NAME_RULE = "1-100 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ALIAS_RULE = "1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_model_name(value: object) -> bool:
    return isinstance(value, str) and re.match(MODEL_NAME_PATTERN, value) is not None


def is_alias_name(value: object) -> bool:
    return isinstance(value, str) and re.match(ALIAS_PATTERN, value) is not None


class RegisteredModel(models.Model):
    """A name that versions are added to (created by the first training job that names it)."""

    name = models.CharField(max_length=100, unique=True, validators=[RegexValidator(MODEL_NAME_PATTERN)])
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "registered model"
        verbose_name_plural = "registered models"

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> ModelVersion | None:
        return self.versions.order_by("-version").first()


class ImmutableError(Exception):
    pass


class ModelVersion(models.Model):
    """One trained model. Never updated: a new training run is a new version."""

    model = models.ForeignKey(RegisteredModel, related_name="versions", on_delete=models.PROTECT)
    version = models.PositiveIntegerField()
    artifact = models.CharField(max_length=500, help_text="artifact directory in storage")
    metrics = models.JSONField(default=dict, help_text="test split: auc, logloss, accuracy, ...")
    valid_metrics = models.JSONField(default=dict, blank=True)
    segment_metrics = models.JSONField(default=list, blank=True, help_text="AUC per segment")
    history = models.JSONField(default=dict, blank=True, help_text="loss and validation curves")
    config = models.JSONField(default=dict, help_text="the full training config")
    feature_spec = models.JSONField(default=dict, help_text="columns by role (no vocabularies)")
    baseline_metrics = models.JSONField(
        default=dict, blank=True, help_text="the job's baseline (bag of words + logistic regression), same test rows"
    )
    baseline = models.JSONField(default=dict, blank=True, help_text="the baseline's description, C, valid metrics")
    recipe = models.JSONField(default=dict, blank=True, help_text="which training recipe ran, and why")
    dataset_versions = models.ManyToManyField("catalog.DatasetVersion", related_name="model_versions", blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model_id", "-version"]
        verbose_name = "model version"
        verbose_name_plural = "model versions"
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="unique_model_version"),
            models.UniqueConstraint(fields=["job"], name="one_version_per_job"),
        ]

    def __str__(self) -> str:
        return self.label

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableError("model versions are immutable; train a new version instead")
        super().save(*args, **kwargs)

    def artifact_path(self) -> Path:
        """A local directory holding the artifact (downloaded first when storage is remote)."""
        from training.artifacts import artifact_local_path

        return artifact_local_path(self.artifact)

    @property
    def label(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def lift(self) -> float | None:
        """Test AUC minus the baseline's on the same rows; None without a baseline."""
        model_auc = (self.metrics or {}).get("auc")
        base_auc = (self.baseline_metrics or {}).get("auc")
        if not isinstance(model_auc, int | float) or not isinstance(base_auc, int | float):
            return None
        return float(model_auc) - float(base_auc)

    @property
    def lift_display(self) -> str:
        value = self.lift
        return "" if value is None else f"{value:+.4f}"

    @property
    def beats_baseline(self) -> bool | None:
        value = self.lift
        return None if value is None else value > 0


class ModelAlias(models.Model):
    """A movable name (production, staging, ...) pointing at one version of a model."""

    model = models.ForeignKey(RegisteredModel, related_name="aliases", on_delete=models.CASCADE)
    name = models.CharField(max_length=64, validators=[RegexValidator(ALIAS_PATTERN)])
    version = models.ForeignKey(ModelVersion, related_name="aliases", on_delete=models.PROTECT)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_id", "name"]
        verbose_name = "model alias"
        verbose_name_plural = "model aliases"
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="unique_alias_per_model")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.name} -> v{self.version.version}"


class ModelAliasEvent(models.Model):
    """History of an alias: who pointed it from which version to which, when."""

    model = models.ForeignKey(RegisteredModel, related_name="alias_events", on_delete=models.CASCADE)
    alias = models.CharField(max_length=64)
    from_version = models.ForeignKey(ModelVersion, null=True, blank=True, related_name="+", on_delete=models.PROTECT)
    to_version = models.ForeignKey(ModelVersion, related_name="+", on_delete=models.PROTECT)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "alias move"
        verbose_name_plural = "alias history"

    def __str__(self) -> str:
        before = f"v{self.from_version.version}" if self.from_version_id else "-"
        return f"{self.model.name}@{self.alias}: {before} -> v{self.to_version.version}"
