from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ServiceError
from core.parsers import JSONParser
from core.permissions import capability, capability_by_method
from core.serializers import JobSerializer, validated
from governance.catalog.download import FORMATS
from governance.catalog.models import DatasetVersion
from governance.catalog.parsers import StrictMultiPartParser
from governance.catalog.selectors import (
    dataset_list,
    dataset_version_list,
    lineage_graph,
    version_download,
    version_rows,
)
from governance.catalog.serializers import (
    DatasetCreateSerializer,
    DatasetSerializer,
    DatasetVersionSerializer,
    LineageSerializer,
    RowsSerializer,
    TransformSerializer,
    UploadSerializer,
    operations_doc,
)
from governance.catalog.services import dataset_create, dataset_version_download_record, dataset_version_upload
from governance.catalog.transform_service import transform_start
from governance.catalog.transforms import EXAMPLES


class DatasetListCreateView(generics.ListAPIView):
    permission_classes = [capability_by_method("catalog.read", "catalog.write")]
    serializer_class = DatasetSerializer
    filterset_fields = ["kind", "name"]
    queryset = dataset_list()  # a lazy queryset: DRF copies it for each request

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request: Request) -> Response:
        dataset = dataset_create(actor=request.user, **validated(DatasetCreateSerializer, request.data))
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailView(generics.RetrieveAPIView):
    permission_classes = [capability("catalog.read")]
    serializer_class = DatasetSerializer
    queryset = dataset_list()


class DatasetVersionListCreateView(generics.ListAPIView):
    permission_classes = [capability_by_method("catalog.read", "catalog.write")]
    serializer_class = DatasetVersionSerializer
    parser_classes = [StrictMultiPartParser]

    def get_queryset(self) -> QuerySet[DatasetVersion]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return dataset_version_list().none()
        return dataset_version_list(dataset=get_object_or_404(dataset_list(), pk=self.kwargs["pk"]))

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: DatasetVersionSerializer, 200: DatasetVersionSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        data = validated(UploadSerializer, request.data)
        upload = data["file"]
        if upload.size == 0:
            raise ServiceError("The file is empty.", field="file")
        version, created = dataset_version_upload(
            actor=request.user,
            dataset=dataset,
            source=upload,
            filename=upload.name,
            fmt=data.get("format"),
            sep=data.get("sep"),
            encoding=data.get("encoding"),
        )
        return Response(
            DatasetVersionSerializer(version, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DatasetVersionDetailView(generics.RetrieveAPIView):
    permission_classes = [capability("catalog.read")]
    serializer_class = DatasetVersionSerializer
    queryset = dataset_version_list()


class DatasetVersionRowsView(APIView):
    permission_classes = [capability("catalog.read")]

    @extend_schema(
        parameters=[OpenApiParameter("offset", int, required=False), OpenApiParameter("limit", int, required=False)],
        responses=RowsSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        try:
            offset = int(request.query_params.get("offset", 0))
            limit = int(request.query_params.get("limit", 50))
        except ValueError:
            raise ServiceError("`offset` and `limit` must be integers.") from None
        if offset < 0 or limit < 0 or limit > 1000:
            raise ServiceError("`offset` must be >= 0 and `limit` between 0 and 1000.")
        return Response(version_rows(version=version, offset=offset, limit=limit, user=request.user))


class DatasetVersionLineageView(APIView):
    permission_classes = [capability("catalog.read")]

    @extend_schema(responses=LineageSerializer)
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        return Response(lineage_graph(version=version, user=request.user))


class DatasetVersionTransformView(APIView):
    permission_classes = [capability("catalog.write")]
    parser_classes = [JSONParser]

    @extend_schema(
        request=TransformSerializer,
        responses={202: JobSerializer},
        summary="Run a transform: a Job that writes a derived version (one per part for split) with lineage",
        description="Bad params are a 400 naming the problem, and nothing is stored. Operations:\n\n"
        + operations_doc(),
        examples=[
            OpenApiExample(name, value={"operation": name, "params": params}, request_only=True)
            for name, params in EXAMPLES.items()
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        data = validated(TransformSerializer, request.data)
        job = transform_start(actor=request.user, version=version, operation=data["operation"], params=data["params"])
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class _IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=` names the file format here, not one of DRF's renderers; errors still answer in JSON."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        renderer = renderers[0]
        return renderer, renderer.media_type


class DatasetVersionDownloadView(APIView):
    permission_classes = [capability("catalog.read")]
    content_negotiation_class = _IgnoreFormatParameter

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS), required=False, default="parquet")],
        responses={
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            400: OpenApiResponse(description="a format outside parquet, csv, jsonl"),
            403: OpenApiResponse(description="the caller's role may not read the catalog"),
        },
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        fmt = request.query_params.get("format", "parquet")
        result = version_download(version=version, user=request.user, fmt=fmt)
        dataset_version_download_record(
            actor=request.user, version=version, fmt=fmt, masked_columns=result["masked_columns"]
        )
        response = StreamingHttpResponse(result["chunks"], content_type=result["content_type"])
        response["Content-Disposition"] = f'attachment; filename="{result["filename"]}"'
        response["X-Steward-Masked-Columns"] = ",".join(result["masked_columns"])
        response["X-Steward-Row-Count"] = str(version.row_count)
        return response
