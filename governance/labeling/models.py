"""Labeling: projects on a dataset version, tasks that name rows by position, leases, annotations, webhooks.

Tasks store row positions, never row values: the row is read from the version's Parquet when it is served, and
masked then for the caller (governance.catalog.hooks.columns_hidden_from), so a later change of who may see what
applies to every task at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Project(models.Model):
    class Template(models.TextChoices):
        RELEVANCE = "relevance"  # a query and an item: relevant or not
        GRADED_RELEVANCE = "graded_relevance"  # 0-3 search relevance judgments (ordinal)
        CATEGORY = "category"  # one label from a set
        TAGS = "tags"  # several labels from a set

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    dataset_version = models.ForeignKey(
        "catalog.DatasetVersion", related_name="labeling_projects", on_delete=models.PROTECT
    )
    template = models.CharField(max_length=32, choices=Template.choices)
    # [{"name": ..., "description": ...}] in order; for graded relevance the position is the grade.
    labels = models.JSONField(default=list)
    display_columns = models.JSONField(default=list)
    # Columns whose text the base model embeds for pre-labels (category and tags).
    text_columns = models.JSONField(default=list, blank=True)
    overlap = models.PositiveSmallIntegerField(default=1)
    gold_rate = models.FloatField(default=0.0, help_text="share of served tasks that are gold tasks")
    review_threshold = models.FloatField(
        default=1.0, help_text="a completed task whose agreement is under this goes to review (1.0: any disagreement)"
    )
    # A registered model version, named by id (governance imports no training code).
    model_version = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Who may work on the project (`next`, submit); empty: every user with labeling.annotate.
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="labeling_projects",
        help_text="who may annotate this project; empty: every annotator",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def label_names(self) -> list[str]:
        return [label["name"] for label in self.labels]

    @property
    def multi(self) -> bool:
        return self.template == self.Template.TAGS

    @property
    def ordinal(self) -> bool:
        return self.template == self.Template.GRADED_RELEVANCE


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"  # waiting for annotations
        REVIEW = "review"  # all annotations in, annotators disagree: a reviewer decides
        DONE = "done"  # final label decided

    class Kind(models.TextChoices):
        NORMAL = "normal"
        GOLD = "gold"  # a known answer, mixed in to measure annotators

    class Source(models.TextChoices):
        MAJORITY = "majority"
        REVIEWER = "reviewer"

    project = models.ForeignKey(Project, related_name="tasks", on_delete=models.CASCADE)
    row = models.BigIntegerField(help_text="row position in the version's Parquet")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.NORMAL)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    strategy = models.CharField(max_length=16, default="random")
    priority = models.FloatField(default=0.0, help_text="served highest first (uncertainty)")
    # Annotations plus live leases: `next` takes a slot with a conditional UPDATE while this is under the overlap.
    slots_taken = models.PositiveIntegerField(default=0)
    annotation_count = models.PositiveIntegerField(default=0)
    gold_label = models.JSONField(null=True, blank=True)
    # {"label": ..., "scores": {label: p}, "source": "base_model" or "model_version:<id>"}
    suggestion = models.JSONField(null=True, blank=True)
    final_label = models.JSONField(null=True, blank=True)
    final_source = models.CharField(max_length=16, choices=Source.choices, blank=True, default="")
    agreement = models.FloatField(null=True, blank=True, help_text="share of annotations equal to the final label")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "-priority", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "row"], name="labeling_one_task_per_row")]
        indexes = [models.Index(fields=["project", "kind", "status", "-priority", "id"], name="labeling_task_queue")]

    def __str__(self) -> str:
        return f"task {self.pk} (row {self.row} of {self.project_id})"


class Assignment(models.Model):
    """One annotator's hold on a task: a lease from `next` until it is submitted, skipped or expires."""

    class Status(models.TextChoices):
        LEASED = "leased"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        EXPIRED = "expired"

    task = models.ForeignKey(Task, related_name="assignments", on_delete=models.CASCADE)
    project = models.ForeignKey(Project, related_name="assignments", on_delete=models.CASCADE)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["task", "annotator"], name="labeling_one_assignment")]
        indexes = [
            models.Index(fields=["project", "status", "expires_at"], name="labeling_lease_expiry"),
            models.Index(fields=["project", "annotator", "status"], name="labeling_lease_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} on task {self.task_id} ({self.status})"


class Annotation(models.Model):
    task = models.ForeignKey(Task, related_name="annotations", on_delete=models.CASCADE)
    project = models.ForeignKey(Project, related_name="annotations", on_delete=models.CASCADE)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.CASCADE)
    label = models.JSONField(help_text="a label name, or a list of names for tags")
    # The pre-label shown with the task (if any), and whether the submission equals it: accepted suggestions
    # are counted apart so they never inflate agreement.
    suggested = models.JSONField(null=True, blank=True)
    accepted_suggestion = models.BooleanField(default=False)
    is_gold = models.BooleanField(default=False)
    gold_correct = models.BooleanField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text="from lease to submission")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        # One submission per annotator and task, whatever the API does: the database refuses a second one.
        constraints = [models.UniqueConstraint(fields=["task", "annotator"], name="labeling_one_annotation")]
        indexes = [models.Index(fields=["project", "annotator", "id"], name="labeling_annotation_owner")]

    def __str__(self) -> str:
        return f"{self.annotator_id} on task {self.task_id}: {self.label}"


class Webhook(models.Model):
    """An outgoing webhook of a project. The secret signs bodies (HMAC-SHA256); it is shown once, never again."""

    EVENTS = ("task.completed", "project.completed", "export.finished")

    project = models.OneToOneField(Project, related_name="webhook", on_delete=models.CASCADE)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook of {self.project_id} -> {self.url}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, related_name="deliveries", on_delete=models.CASCADE)
    event = models.CharField(max_length=32)
    body = models.TextField(help_text="the exact bytes sent (and signed)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} delivery {self.pk} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, related_name="attempt_log", on_delete=models.CASCADE)
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(default=0.0)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.status_code or self.error}"
