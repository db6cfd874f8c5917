"""The training API: start training jobs, read the model registry, move aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser
from core.permissions import capability, capability_by_method
from core.serializers import JobSerializer
from training import selectors
from training.models import ModelAliasEvent, ModelVersion
from training.serializers import (
    AliasSetResultSerializer,
    AliasSetSerializer,
    ModelAliasEventSerializer,
    ModelAliasSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
    TrainingJobRequestSerializer,
    as_request,
)
from training.services.jobs import training_job_start
from training.services.registry import model_alias_set


class TrainingJobCreateView(APIView):
    permission_classes = [capability("models.train")]
    parser_classes = [JSONParser]

    @extend_schema(request=TrainingJobRequestSerializer, responses={202: JobSerializer})
    def post(self, request: Request) -> Response:
        data = TrainingJobRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = training_job_start(actor=request.user, request=as_request(data.validated_data))
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ModelListView(generics.ListAPIView):
    permission_classes = [capability("models.read")]
    serializer_class = RegisteredModelSerializer

    def get_queryset(self) -> Any:
        return selectors.model_list()


class ModelDetailView(APIView):
    permission_classes = [capability("models.read")]

    @extend_schema(responses=RegisteredModelSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(RegisteredModelSerializer(selectors.model_get(name)).data)


class _ListOfModel(generics.ListAPIView):
    """A list that belongs to the model named in the URL: `read(model)` gives its rows."""

    permission_classes = [capability("models.read")]
    model_class: type = ModelVersion  # what the schema generator lists (it has no model to read)
    read: Callable[[Any], Any]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return self.model_class.objects.none()
        return self.read(selectors.model_get(self.kwargs["name"]))


class ModelVersionListView(_ListOfModel):
    serializer_class = ModelVersionSerializer
    model_class = ModelVersion
    read = staticmethod(selectors.version_list)


class ModelVersionDetailView(APIView):
    permission_classes = [capability("models.read")]

    @extend_schema(responses=ModelVersionDetailSerializer)
    def get(self, request: Request, name: str, number: int) -> Response:
        mv = selectors.version_get(selectors.model_get(name), number)
        return Response(ModelVersionDetailSerializer(mv).data)


class ModelAliasView(APIView):
    permission_classes = [capability_by_method("models.read", "models.manage")]
    parser_classes = [JSONParser]

    @extend_schema(responses=ModelAliasSerializer)
    def get(self, request: Request, name: str, alias: str) -> Response:
        row = selectors.alias_get(selectors.model_get(name), alias)
        return Response(ModelAliasSerializer(row).data)

    @extend_schema(request=AliasSetSerializer, responses=AliasSetResultSerializer)
    def put(self, request: Request, name: str, alias: str) -> Response:
        model = selectors.model_get(name)
        data = AliasSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = model_alias_set(
            actor=request.user,
            model=model,
            alias=alias,
            version=data.validated_data["version"],
            force=data.validated_data["force"],
        )
        return Response(AliasSetResultSerializer(row).data)


class ModelAliasHistoryView(_ListOfModel):
    serializer_class = ModelAliasEventSerializer
    model_class = ModelAliasEvent
    read = staticmethod(selectors.alias_history)
