"""What serving writes: a sampled log of predictions and per-minute traffic counters per process.

Both name the model version by (model name, version number, id) rather than by foreign key, like
lineage does, so a log row outlives nothing it depends on and needs no join on the hot path.
"""

from __future__ import annotations

from django.db import models


class PredictionLog(models.Model):
    """One sampled request: feature ids (vocabulary positions, never raw values) and scores."""

    model_name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    model_version_id = models.BigIntegerField(null=True, blank=True)
    endpoint = models.CharField(max_length=16)  # rank | score
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    latency_ms = models.FloatField()
    n_candidates = models.PositiveIntegerField()
    k = models.PositiveIntegerField(null=True, blank=True)
    # {feature: vocabulary id} of the request's categorical features; 0 is the unknown bucket.
    user_feature_ids = models.JSONField(default=dict)
    # Vocabulary ids of the scored items and their scores, in request order (at most LOG_MAX_ITEMS).
    item_ids = models.JSONField(default=list)
    scores = models.JSONField(default=list)
    actor_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model_name", "version", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version} {self.endpoint} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class ServingStat(models.Model):
    """Traffic one process saw for one model version and endpoint within one minute.

    Insert-only (each process flushes its own rows), so writers never contend; readers sum.
    """

    model_name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    endpoint = models.CharField(max_length=16)
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    latency_ms_sum = models.FloatField(default=0.0)
    # Counts per latency bucket (serving.stats.LATENCY_EDGES_MS) and per score bin (SCORE_BINS on [0, 1]).
    latency_counts = models.JSONField(default=list)
    score_counts = models.JSONField(default=list)
    pid = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["model_name", "minute"])]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.version} {self.endpoint} {self.minute:%H:%M} ({self.requests} req)"


class WarmRequest(models.Model):
    """A version that is about to become an alias's first target: every serving process loads and warms it, then
    says so in its ServingProcess row, and the move waits for that (serving.warm)."""

    model_version = models.ForeignKey("training.ModelVersion", on_delete=models.CASCADE, related_name="+")
    alias = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"warm {self.model_version_id} for {self.alias} @ {self.created_at:%H:%M:%S}"


class ServingProcess(models.Model):
    """A serving process with an alias watcher: when it was last seen, and the WarmRequests it has handled (loaded,
    or failed to load): the ids of its most recent ones in `warm_handled` (ids commit out of order, so the newest
    one handled says nothing about an older one), the newest in `warm_done`. Each process writes only its own row."""

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    seen_at = models.DateTimeField(db_index=True)
    warm_done = models.BigIntegerField(default=0)
    warm_handled = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "pid"], name="serving_process_host_pid")]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"
