from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.quality.models import QualityReport, QualityRule


class QualityRuleSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    column = serializers.CharField(read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = QualityRule
        fields = [
            "id",
            "dataset",
            "name",
            "kind",
            "column",
            "columns",
            "params",
            "severity",
            "status",
            "suggested_from",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _columns(data: dict[str, Any]) -> dict[str, Any]:
    if "column" in data:
        if "columns" in data:
            raise serializers.ValidationError({"column": "Give `column` or `columns`, not both."})
        data["columns"] = [data.pop("column")]
    return data


class QualityRuleCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=QualityRule.Kind.choices)
    column = serializers.CharField(required=False, help_text="the column of a one-column rule")
    columns = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="the columns (unique may take several)"
    )
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text="range: min, max, min_inclusive, max_inclusive; regex: pattern, full_match; allowed_values: "
        "values; row_count_between: min, max; max_null_fraction: max_fraction; freshness: max_age_days, unit (s or "
        "ms for epoch integers); distribution_shift: threshold (largest PSI that passes, default 0.2), bins; "
        "references: dataset_version, column",
    )
    severity = serializers.ChoiceField(choices=QualityRule.Severity.choices, default=QualityRule.Severity.BLOCKING)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return _columns(dict(attrs))


class QualityRuleUpdateSerializer(serializers.Serializer):
    column = serializers.CharField(required=False)
    columns = serializers.ListField(child=serializers.CharField(), required=False)
    params = serializers.DictField(required=False)
    severity = serializers.ChoiceField(choices=QualityRule.Severity.choices, required=False)
    status = serializers.ChoiceField(
        choices=QualityRule.Status.choices,
        required=False,
        help_text="accept a suggested rule with `active`, reject it with `rejected`",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Nothing to change: give columns, params, severity or status.")
        return _columns(dict(attrs))


class RuleResultSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    severity = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    passed = serializers.BooleanField()
    failing_count = serializers.IntegerField()
    failing_rows = serializers.ListField(child=serializers.IntegerField(), help_text="row positions, never values")
    message = serializers.CharField()


class QualityReportSerializer(serializers.ModelSerializer):
    rules = RuleResultSerializer(many=True)

    class Meta:
        model = QualityReport
        fields = ["id", "version", "job", "status", "row_count", "trigger", "created_at", "rules"]
        read_only_fields = fields


class NotCheckedSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField(help_text="not_checked")
    rules = serializers.ListField(child=serializers.DictField())
