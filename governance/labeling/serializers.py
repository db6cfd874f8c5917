from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.labeling.models import Project, Task, Webhook, WebhookAttempt, WebhookDelivery
from governance.labeling.services import MAX_OVERLAP, MAX_TASKS_PER_JOB, MEASURES, STRATEGIES


class LabelField(serializers.JSONField):
    """A label name, or a list of label names for `tags` projects (checked against the project's set)."""


class ProjectSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", read_only=True)
    tasks = serializers.SerializerMethodField()
    annotators = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="username", help_text="who may annotate; empty: every annotator"
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "dataset",
            "dataset_version",
            "template",
            "labels",
            "display_columns",
            "text_columns",
            "overlap",
            "gold_rate",
            "review_threshold",
            "model_version",
            "status",
            "tasks",
            "created_by",
            "created_at",
            "completed_at",
            "annotators",
        ]
        read_only_fields = fields

    def get_tasks(self, obj: Project) -> dict[str, int]:
        from governance.labeling.selectors import task_counts

        return task_counts(obj)


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    dataset_version = serializers.IntegerField()
    template = serializers.ChoiceField(choices=Project.Template.choices)
    labels = serializers.JSONField(
        required=False,
        default=None,
        help_text="label names, or [{name, description}]; relevance and graded_relevance have defaults",
    )
    display_columns = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    text_columns = serializers.ListField(
        child=serializers.CharField(), required=False, default=None, help_text="text the base model embeds"
    )
    overlap = serializers.IntegerField(min_value=1, max_value=MAX_OVERLAP, default=1)
    gold_rate = serializers.FloatField(min_value=0, max_value=0.5, default=0.0)
    review_threshold = serializers.FloatField(min_value=0, max_value=1, default=1.0)
    model_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    annotators = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=None,
        help_text="usernames who may annotate; empty or absent: every annotator",
    )


class ProjectUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    gold_rate = serializers.FloatField(required=False, min_value=0, max_value=0.5)
    review_threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
    model_version = serializers.IntegerField(required=False, allow_null=True)
    annotators = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="usernames who may annotate; []: every annotator"
    )


class TasksCreateSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=STRATEGIES)
    count = serializers.IntegerField(min_value=1, max_value=MAX_TASKS_PER_JOB)
    seed = serializers.IntegerField(min_value=0, default=0)
    column = serializers.CharField(required=False, help_text="stratified: the column whose values form strata")
    model_version = serializers.IntegerField(required=False, help_text="uncertainty: the model that scores rows")
    measure = serializers.ChoiceField(choices=MEASURES, required=False, help_text="uncertainty: entropy or margin")
    pool = serializers.IntegerField(required=False, min_value=1, help_text="uncertainty: how many rows to score")


class TaskSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", default=None, read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "row",
            "kind",
            "status",
            "strategy",
            "priority",
            "annotation_count",
            "suggestion",
            "final_label",
            "final_source",
            "agreement",
            "decided_by",
            "decided_at",
            "review_note",
        ]
        read_only_fields = fields


class NextTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    row = serializers.IntegerField(help_text="row position in the dataset version")
    data = serializers.DictField(help_text="the display columns, masked as the caller may see them")
    masked_columns = serializers.ListField(child=serializers.CharField())
    template = serializers.CharField()
    labels = serializers.ListField(child=serializers.DictField())
    suggestion = LabelField(allow_null=True, help_text="the pre-label, shown pre-selected")
    suggestion_source = serializers.CharField(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    label = LabelField(allow_null=True, help_text="after undo: the label that was given")


class AnnotationCreateSerializer(serializers.Serializer):
    label = LabelField(help_text="a label name (a list of names for tags)")


class AnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task = serializers.IntegerField(source="task_id")
    label = LabelField()
    accepted_suggestion = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ReviewSerializer(serializers.Serializer):
    label = LabelField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class GoldSerializer(serializers.Serializer):
    tasks = serializers.ListField(child=serializers.DictField(), help_text="[{row, label}]")


class ExportSerializer(serializers.Serializer):
    label_column = serializers.CharField(default="label", max_length=200)
    output_dataset = serializers.CharField(required=False, max_length=200)
    pseudo_labels = serializers.DictField(
        required=False, help_text="{model_version?, min_confidence}: add confident predictions flagged `pseudo`"
    )


class ProgressSerializer(serializers.Serializer):
    annotated = serializers.IntegerField()
    tasks = serializers.IntegerField()
    remaining_for_you = serializers.IntegerField()
    gold = serializers.DictField()


class AgreementSerializer(serializers.Serializer):
    cohen_kappa = serializers.DictField(help_text='{"a|b": {"kappa", "n"}} per annotator pair')
    fleiss_kappa = serializers.FloatField(allow_null=True)
    krippendorff_alpha = serializers.FloatField(allow_null=True, help_text="nominal")
    krippendorff_alpha_ordinal = serializers.FloatField(required=False, allow_null=True)
    suggestions = serializers.DictField()
    with_accepted_suggestions = serializers.DictField()
    annotators = serializers.ListField(child=serializers.DictField())
    confusion = serializers.DictField()
    tasks = serializers.DictField()


class WebhookSetSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=Webhook.EVENTS), required=False)


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["url", "events", "active", "created_at"]  # never the secret
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.SerializerMethodField(help_text="shown this once: sign-check X-Steward-Signature with it")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, obj: Any) -> str:
        return self.context["secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "status_code", "duration_ms", "error", "created_at"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "status", "attempts", "created_at", "finished_at", "attempt_log"]
        read_only_fields = fields
