from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.catalog import transforms
from governance.catalog.models import Dataset, DatasetVersion
from governance.catalog.selectors import version_columns, version_list_facts


class DatasetSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", default=None, read_only=True)
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "kind", "tags", "owner", "created_at", "latest_version"]
        read_only_fields = ["id", "owner", "created_at", "latest_version"]

    def get_latest_version(self, obj: Dataset) -> int | None:
        latest = obj.latest_version()
        return latest.pk if latest else None


class DatasetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=Dataset.Kind.choices, default=Dataset.Kind.OTHER)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)


class ColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField()
    null_count = serializers.IntegerField(required=False, allow_null=True)
    distinct_count = serializers.IntegerField(required=False, allow_null=True)


class DatasetVersionListSerializer(serializers.ListSerializer):
    """A page of versions: hidden columns and parents are read for the whole page at once (not per version)."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        versions = list(data.all() if hasattr(data, "all") else data)
        request = self.context.get("request")
        self.child.context["version_facts"] = version_list_facts(versions=versions, user=getattr(request, "user", None))
        return super().to_representation(versions)


class DatasetVersionSerializer(serializers.ModelSerializer):
    columns = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    parents = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "dataset",
            "number",
            "sha256",
            "format",
            "original_name",
            "size_bytes",
            "row_count",
            "columns",
            "profile_status",
            "pii_status",
            "quality_status",
            "operation",
            "parents",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields
        list_serializer_class = DatasetVersionListSerializer

    def get_columns(self, obj: DatasetVersion) -> list[dict[str, Any]]:
        request = self.context.get("request")
        facts = self.context.get("version_facts")
        hidden = facts["hidden"].get(obj.pk) if facts else None
        return version_columns(version=obj, user=getattr(request, "user", None), hidden=hidden)

    def get_parents(self, obj: DatasetVersion) -> list[int]:
        from governance.catalog.models import LineageEdge

        facts = self.context.get("version_facts")
        if facts and obj.pk in facts["parents"]:
            return facts["parents"][obj.pk]

        return list(
            LineageEdge.objects.filter(target_type="dataset_version", target_id=obj.pk)
            .values_list("source_id", flat=True)
            .distinct()
        )


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    format = serializers.ChoiceField(choices=["csv", "tsv", "parquet", "jsonl"], required=False)
    sep = serializers.CharField(required=False, max_length=1, trim_whitespace=False)
    encoding = serializers.CharField(required=False, max_length=32)


class RowsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = serializers.ListField(child=serializers.DictField())
    masked_columns = serializers.ListField(child=serializers.CharField())


def _param_doc(param: transforms.Param) -> str:
    extra = f" One of {', '.join(param.choices)}." if param.choices else ""
    default = f" Default {param.default!r}." if param.default is not None else ""
    return f"`{param.name}` ({param.kind}{', required' if param.required else ''}): {param.help}{extra}{default}"


def operations_doc() -> str:
    """Every operation with its parameters and an example, as Markdown for the OpenAPI description."""
    lines = []
    for name, (description, params) in transforms.PARAMS.items():
        lines.append(f"- **{name}**: {description}")
        lines.extend(f"  - {_param_doc(p)}" for p in params)
        lines.append(f"  - example: `{transforms.OPERATIONS[name][1]}`")
    lines.append(
        "- every operation also takes `output_dataset` (text): register the result in this dataset instead "
        "(created if new)."
    )
    return "\n".join(lines)


class TransformSerializer(serializers.Serializer):
    operation = serializers.ChoiceField(
        choices=sorted(transforms.OPERATIONS),
        help_text="The operation; see the endpoint's description for each one's parameters.",
    )
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text="; ".join(f"{k}: {v[1]}" for k, v in transforms.OPERATIONS.items()),
    )


class LineageNodeSerializer(serializers.Serializer):
    key = serializers.CharField()
    type = serializers.CharField()
    id = serializers.IntegerField()
    label = serializers.CharField()


class LineageEdgeSerializer(serializers.Serializer):
    source = serializers.CharField()
    target = serializers.CharField()
    operation = serializers.CharField()


class LineageSerializer(serializers.Serializer):
    nodes = LineageNodeSerializer(many=True)
    edges = LineageEdgeSerializer(many=True)
