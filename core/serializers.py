from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from core.models import AuditEvent, Job
from core.roles import ROLES
from core.selectors import audit_object_url, audit_summary_text, job_error_for, job_params_for


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The request body checked by `serializer_class`; bad input raises DRF's ValidationError, a 400 naming
    each field (core.errors renders it)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class JobSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)
    error = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()

    eta_seconds = serializers.SerializerMethodField(
        help_text="estimated seconds left, from the rate of progress since the job started; null when not running"
    )

    def get_eta_seconds(self, obj: Job) -> float | None:
        return obj.eta_seconds()

    def get_error(self, obj: Job) -> str:
        # Every view passes its request (the POST that starts a job too): without one nobody is known and the
        # outsider's view applies.
        request = self.context.get("request")
        return job_error_for(job=obj, user=getattr(request, "user", None))

    def get_params(self, obj: Job) -> dict[str, Any]:
        request = self.context.get("request")
        return job_params_for(job=obj, user=getattr(request, "user", None))

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "eta_seconds",
            "message",
            "error",
            "result",
            "details",
            "params",
            "subject_type",
            "subject_id",
            "cancel_requested",
            "attempts",
            "worker",
            "heartbeat_at",
            "actor",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)
    summary_text = serializers.SerializerMethodField(help_text="the summary as people read it")
    object_url = serializers.SerializerMethodField(help_text="the object's page, or empty")

    def get_summary_text(self, obj: AuditEvent) -> str:
        return audit_summary_text(obj.summary)

    def get_object_url(self, obj: AuditEvent) -> str:
        return audit_object_url(obj)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "actor",
            "action",
            "object_type",
            "object_id",
            "summary",
            "summary_text",
            "object_url",
            "created_at",
        ]
        read_only_fields = fields


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="When the token stops working (null: never).")


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    password = serializers.CharField(min_length=8, write_only=True, trim_whitespace=False)
    role = serializers.ChoiceField(choices=ROLES)
    email = serializers.EmailField(required=False, allow_blank=True)


class UserSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "is_superuser"]

    def get_role(self, obj: User) -> str | None:
        names = [g.name for g in obj.groups.all()]
        return names[0] if names else None
