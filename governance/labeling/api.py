"""The labeling API (DESIGN.md section 5): projects, tasks, next, annotations, agreement, export, and what the
annotator page and reviewers need (skip, undo, progress, review queue, gold tasks, webhooks)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import CachedTokenAuthentication
from core.errors import ServiceError
from core.permissions import capability, capability_by_method
from core.serializers import JobSerializer
from governance.catalog.models import DatasetVersion
from governance.labeling import selectors, services
from governance.labeling.models import Project, Task, Webhook, WebhookDelivery
from governance.labeling.serializers import (
    AgreementSerializer,
    AnnotationCreateSerializer,
    AnnotationSerializer,
    ExportSerializer,
    GoldSerializer,
    NextTaskSerializer,
    ProgressSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    ReviewSerializer,
    TasksCreateSerializer,
    TaskSerializer,
    WebhookCreatedSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
    WebhookSetSerializer,
)

ANNOTATE = "labeling.annotate"
MANAGE = "labeling.manage"


def _project(pk: int) -> Project:
    return get_object_or_404(Project.objects.select_related("dataset_version__dataset"), pk=pk)


def _task(pk: int) -> Task:
    return get_object_or_404(Task.objects.select_related("project__dataset_version"), pk=pk)


class ProjectListCreateView(generics.ListAPIView):
    permission_classes = [capability_by_method(ANNOTATE, MANAGE)]
    serializer_class = ProjectSerializer
    filterset_fields = ["template", "status", "dataset_version"]

    def get_queryset(self) -> Any:
        projects = Project.objects.select_related("dataset_version", "created_by").prefetch_related("annotators")
        if getattr(self, "swagger_fake_view", False):
            return projects
        return selectors.visible_to(projects, self.request.user)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = DatasetVersion.objects.filter(pk=values.pop("dataset_version")).first()
        if version is None:
            raise ServiceError(
                "`dataset_version` must be the id of an existing dataset version.", field="dataset_version"
            )
        project = services.project_create(actor=request.user, dataset_version=version, **values)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    permission_classes = [capability_by_method(ANNOTATE, MANAGE)]

    @extend_schema(responses=ProjectSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ProjectSerializer(_project(pk)).data)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        data = ProjectUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = services.project_update(actor=request.user, project=_project(pk), **data.validated_data)
        return Response(ProjectSerializer(project).data)


class ProjectTasksView(generics.ListAPIView):
    permission_classes = [capability(MANAGE)]
    serializer_class = TaskSerializer
    filterset_fields = ["status", "kind", "strategy"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return Task.objects.filter(project=_project(self.kwargs["pk"])).select_related("decided_by")

    @extend_schema(request=TasksCreateSerializer, responses={202: JobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        project = _project(pk)
        data = TasksCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.tasks_create_start(actor=request.user, project=project, **data.validated_data)
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


def _project_for_annotator(pk: int, annotator: Any) -> Project:
    """The project, with what the annotator-list check needs read in the same query."""
    projects = services.with_annotator_check(Project.objects.select_related("dataset_version__dataset"), annotator)
    return get_object_or_404(projects, pk=pk)


def _task_for_annotator(pk: int, annotator: Any) -> Task:
    """The task with its project and version, and what the annotator-list check needs, in one query."""
    tasks = Task.objects.select_related("project__dataset_version")
    return get_object_or_404(services.with_annotator_check(tasks, annotator, "project_id"), pk=pk)


# next and submit are what annotators call back to back: their token lookup is cached per process, as scoring's
# is (a revoked token or a changed role takes effect within STEWARD_SERVING_AUTH_CACHE_S).
HOT_AUTHENTICATION = [CachedTokenAuthentication, SessionAuthentication]


class NextTaskView(APIView):
    authentication_classes = HOT_AUTHENTICATION
    permission_classes = [capability(ANNOTATE)]

    @extend_schema(
        responses={
            200: NextTaskSerializer,
            204: OpenApiResponse(description="no task is left for you"),
            403: OpenApiResponse(description="the project's annotator list does not name you"),
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        payload = services.task_next(project=_project_for_annotator(pk, request.user), annotator=request.user)
        if payload is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(payload)


class AnnotationCreateView(APIView):
    authentication_classes = HOT_AUTHENTICATION
    permission_classes = [capability(ANNOTATE)]

    @extend_schema(
        request=AnnotationCreateSerializer,
        responses={
            201: AnnotationSerializer,
            403: OpenApiResponse(description="not your task, or the project's annotator list does not name you"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        task = _task_for_annotator(pk, request.user)
        data = AnnotationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation = services.annotation_submit(task=task, annotator=request.user, label=data.validated_data["label"])
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


class TaskSkipView(APIView):
    permission_classes = [capability(ANNOTATE)]

    @extend_schema(request=None, responses={204: OpenApiResponse(description="skipped: it will not come back to you")})
    def post(self, request: Request, pk: int) -> Response:
        services.task_skip(task=_task(pk), annotator=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UndoView(APIView):
    permission_classes = [capability(ANNOTATE)]

    @extend_schema(request=None, responses=NextTaskSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return Response(services.annotation_undo(project=_project(pk), annotator=request.user))


class ProgressView(APIView):
    permission_classes = [capability(ANNOTATE)]

    @extend_schema(responses=ProgressSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(selectors.annotator_progress(project=_project(pk), annotator=request.user))


class AgreementView(APIView):
    permission_classes = [capability(MANAGE)]

    @extend_schema(responses=AgreementSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(selectors.project_agreement(_project(pk)))


class ReviewQueueView(generics.ListAPIView):
    permission_classes = [capability(MANAGE)]
    serializer_class = TaskSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return selectors.review_queue(_project(self.kwargs["pk"]))


class TaskReviewView(APIView):
    permission_classes = [capability(MANAGE)]

    @extend_schema(request=ReviewSerializer, responses=TaskSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_review(task=_task(pk), reviewer=request.user, **data.validated_data)
        return Response(TaskSerializer(task).data)


class GoldView(APIView):
    permission_classes = [capability(MANAGE)]

    @extend_schema(request=GoldSerializer, responses={201: TaskSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        data = GoldSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tasks = services.gold_tasks_create(actor=request.user, project=_project(pk), items=data.validated_data["tasks"])
        return Response(TaskSerializer(tasks, many=True).data, status=status.HTTP_201_CREATED)


class ExportView(APIView):
    permission_classes = [capability(MANAGE)]

    @extend_schema(request=ExportSerializer, responses={202: JobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = ExportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.export_start(actor=request.user, project=_project(pk), **data.validated_data)
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class WebhookView(APIView):
    permission_classes = [capability(MANAGE)]

    @extend_schema(responses=WebhookSerializer)
    def get(self, request: Request, pk: int) -> Response:
        webhook = get_object_or_404(Webhook, project=_project(pk))
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(request=WebhookSetSerializer, responses=WebhookCreatedSerializer)
    def put(self, request: Request, pk: int) -> Response:
        data = WebhookSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook, secret = services.webhook_set(actor=request.user, project=_project(pk), **data.validated_data)
        return Response(WebhookCreatedSerializer(webhook, context={"secret": secret}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.webhook_delete(actor=request.user, project=_project(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(generics.ListAPIView):
    permission_classes = [capability(MANAGE)]
    serializer_class = WebhookDeliverySerializer
    filterset_fields = ["status", "event"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return WebhookDelivery.objects.filter(webhook__project=_project(self.kwargs["pk"])).prefetch_related(
            "attempt_log"
        )
