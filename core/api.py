from __future__ import annotations

from typing import Any

from celery import current_app
from django.contrib.auth import authenticate, user_logged_in
from django.db import connection
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import audit_log
from core.filters import AuditEventFilter
from core.jobs import job_cancel
from core.models import AuditEvent
from core.permissions import capability
from core.selectors import audit_csv_lines, audit_event_list, job_list
from core.serializers import (
    AuditEventSerializer,
    JobSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSerializer,
    validated,
)
from core.services import user_create


def broker_ok(timeout: float = 2.0) -> tuple[bool, str]:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True, "ok"
    except Exception as exc:  # noqa: BLE001  (any broker failure makes health report it, not crash)
        return False, type(exc).__name__


class HealthView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {"status": serializers.CharField(), "database": serializers.CharField(), "broker": serializers.CharField()},
        )
    )
    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            db = "ok"
        except Exception as exc:  # noqa: BLE001  (reported, not raised)
            db = type(exc).__name__
        broker, broker_detail = broker_ok()
        healthy = db == "ok" and broker
        return Response(
            {"status": "ok" if healthy else "error", "database": db, "broker": broker_detail},
            status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


class TokenView(APIView):
    """Username and password for an API token. Failures count towards the login lockout (django-axes, shared with
    /login/ and the admin): past the limit the username, and the client, get 429 until the cool-off ends."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer, 400: None, 429: None})
    def post(self, request: Request) -> Response:
        data = validated(TokenRequestSerializer, request.data)
        # The Django request: django-axes marks it when the attempt locks the caller out, and its middleware answers.
        http_request = request._request
        user = authenticate(http_request, username=data["username"], password=data["password"])
        if user is None:
            return Response(
                {"detail": "Wrong username or password.", "code": "authentication_failed"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        # Like a page login: clears this username's and client's failure count, records last_login.
        user_logged_in.send(sender=user.__class__, request=http_request, user=user)
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        instance, token = AuthToken.objects.create(user=user)
        return Response({"token": token, "expiry": instance.expiry})


class LogoutView(APIView):
    """Revokes the token this request was made with."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revokes every token of the calling user (all devices and scripts)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        AuthToken.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserCreateView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        user = user_create(actor=request.user, **validated(UserCreateSerializer, request.data))
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class JobListView(generics.ListAPIView):
    permission_classes = [capability("jobs.read")]
    serializer_class = JobSerializer
    filterset_fields = ["kind", "status", "subject_type", "subject_id"]
    queryset = job_list()  # a lazy queryset: DRF copies it for each request


class JobDetailView(generics.RetrieveAPIView):
    permission_classes = [capability("jobs.read")]
    serializer_class = JobSerializer
    queryset = job_list()


class JobCancelView(APIView):
    permission_classes = [capability("jobs.read")]

    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(job_list(), pk=pk)
        return Response(JobSerializer(job_cancel(job=job, actor=request.user), context={"request": request}).data)


class AuditEventListView(generics.ListAPIView):
    """The audit log, newest first, filtered by actor, action (prefix), object and date range."""

    permission_classes = [capability("audit.read")]
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    queryset = audit_event_list()


AUDIT_FILTER_HELP = {name: str(f.extra.get("help_text", "")) for name, f in AuditEventFilter.base_filters.items()}


class AuditEventExportView(APIView):
    permission_classes = [capability("audit.read")]

    @extend_schema(
        parameters=[
            OpenApiParameter(name, OpenApiTypes.DATE if name in ("since", "until") else str, description=help_text)
            for name, help_text in AUDIT_FILTER_HELP.items()
        ],
        responses={(200, "text/csv"): str},
        summary="The audit log as CSV (same filters as the list), streamed, for compliance reviews",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        events = AuditEventFilter(request.query_params, queryset=audit_event_list())
        if not events.is_valid():
            raise serializers.ValidationError(events.errors)
        # The export holds the log as it was when asked: not its own record, written next.
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        audit_log(
            actor=request.user,
            action="audit.export",
            object_type="core.auditevent",
            summary={k: v for k, v in request.query_params.items() if k in AuditEventFilter.base_filters},
        )
        response = StreamingHttpResponse(
            audit_csv_lines(events.qs.filter(pk__lte=last)), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="steward-audit-{stamp}.csv"'
        return response
