from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.roles import has_capability
from governance.privacy.models import CustomRecognizer, PiiFinding, PiiScan
from governance.privacy.selectors import scan_columns


class PiiScanSerializer(serializers.ModelSerializer):
    """A scan; its status and finished_at are its job's (load scans with select_related("job"))."""

    status = serializers.ChoiceField(choices=[s.value for s in PiiScan.STATUSES], read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    dataset_version = serializers.IntegerField(source="version_id", read_only=True)
    columns = serializers.SerializerMethodField()
    job = serializers.IntegerField(source="job_id", read_only=True)

    class Meta:
        model = PiiScan
        fields = [
            "id",
            "status",
            "dataset_version",
            "job",
            "trigger",
            "sample_rows",
            "created_at",
            "finished_at",
            "columns",
        ]
        read_only_fields = fields

    def get_columns(self, obj: PiiScan) -> list[dict]:
        return scan_columns(obj)


class PiiFindingSerializer(serializers.ModelSerializer):
    dataset_version = serializers.IntegerField(source="version_id", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, read_only=True)

    class Meta:
        model = PiiFinding
        fields = [
            "id",
            "scan",
            "dataset_version",
            "column",
            "entity_type",
            "kind",
            "share",
            "score",
            "recognizers",
            "evidence",
            "decision",
            "decision_note",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[PiiFinding.Decision.ACCEPTED, PiiFinding.Decision.REJECTED])


class AnalyzeSerializer(serializers.Serializer):
    texts = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), allow_empty=True
    )
    language = serializers.CharField(
        required=False,
        default="en",
        help_text="en, zh (Chinese recognizers) or auto (each text by its share of Chinese characters)",
    )
    entities = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=True)
    score_threshold = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)


class MaskRequestSerializer(serializers.Serializer):
    columns = serializers.DictField(child=serializers.JSONField())
    save_as = serializers.CharField(required=False, max_length=100)


class DecryptSerializer(serializers.Serializer):
    values = serializers.ListField(child=serializers.CharField(), max_length=1000)
    dataset_version = serializers.IntegerField(required=False)
    column = serializers.CharField(required=False, allow_blank=True, max_length=300)


class CustomRecognizerSerializer(serializers.ModelSerializer):
    deny_list_count = serializers.SerializerMethodField()

    class Meta:
        model = CustomRecognizer
        fields = ["id", "dataset", "name", "spec", "enabled", "created_at", "deny_list_count"]
        read_only_fields = ["id", "dataset", "name", "enabled", "created_at"]

    def get_deny_list_count(self, obj: CustomRecognizer) -> int:
        deny_list = obj.spec.get("deny_list") if isinstance(obj.spec, dict) else None
        return len(deny_list) if isinstance(deny_list, list) else 0

    def to_representation(self, instance: CustomRecognizer) -> dict[str, Any]:
        data = super().to_representation(instance)
        # A deny list is a list of the very values it hides (names, account numbers): for pii.manage only. Without a
        # request in the context nobody is known, and it stays hidden.
        request = self.context.get("request")
        if not has_capability(getattr(request, "user", None), "pii.manage") and isinstance(data.get("spec"), dict):
            data["spec"] = {k: v for k, v in data["spec"].items() if k != "deny_list"}
        return data
