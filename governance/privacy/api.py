from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ServiceError
from core.permissions import capability, capability_by_method
from core.roles import has_capability
from core.serializers import JobSerializer
from governance.catalog.selectors import dataset_list
from governance.privacy import engines, services
from governance.privacy.selectors import custom_recognizer_list, finding_list, scan_list, version_list
from governance.privacy.serializers import (
    AnalyzeSerializer,
    CustomRecognizerSerializer,
    DecisionSerializer,
    DecryptSerializer,
    MaskRequestSerializer,
    PiiFindingSerializer,
    PiiScanSerializer,
)


class VersionScanView(APIView):
    permission_classes = [capability_by_method("catalog.read", "catalog.write")]

    @extend_schema(responses=PiiScanSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(version_list(), pk=pk)
        return Response(PiiScanSerializer(scan_list(version=version)[:20], many=True).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(version_list(), pk=pk)
        scan = services.pii_scan_start(version=version, actor=request.user)
        data = JobSerializer(scan.job, context={"request": request}).data | {"scan": scan.pk}
        return Response(data, status=status.HTTP_202_ACCEPTED)


class ScanDetailView(APIView):
    permission_classes = [capability("catalog.read")]

    @extend_schema(responses=PiiScanSerializer)
    def get(self, request: Request, pk: int) -> Response:
        scan = get_object_or_404(scan_list(), pk=pk)
        return Response(PiiScanSerializer(scan).data)


class FindingDetailView(APIView):
    permission_classes = [capability_by_method("catalog.read", "pii.manage")]

    @extend_schema(responses=PiiFindingSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(PiiFindingSerializer(get_object_or_404(finding_list(), pk=pk)).data)

    @extend_schema(request=DecisionSerializer, responses=PiiFindingSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        finding = get_object_or_404(finding_list(), pk=pk)
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        finding = services.pii_finding_decide(
            finding=finding, actor=request.user, decision=data.validated_data["decision"]
        )
        return Response(PiiFindingSerializer(finding).data)


class FindingRawExamplesView(APIView):
    permission_classes = [capability("pii.manage")]

    @extend_schema(
        responses=inline_serializer(
            "FindingRawExamples",
            {
                "finding": serializers.IntegerField(),
                "column": serializers.CharField(),
                "examples": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request: Request, pk: int) -> Response:
        finding = get_object_or_404(finding_list(), pk=pk)
        return Response(
            {
                "finding": finding.pk,
                "column": finding.column,
                "examples": services.pii_finding_raw_examples(finding=finding, actor=request.user),
            }
        )


class AnalyzeView(APIView):
    permission_classes = [capability("pii.analyze")]

    @extend_schema(
        request=AnalyzeSerializer,
        responses=inline_serializer(
            "AnalyzeResults",
            {
                "results": serializers.ListField(
                    child=serializers.ListField(
                        child=inline_serializer(
                            "AnalyzeSpan",
                            {
                                "entity_type": serializers.CharField(),
                                "start": serializers.IntegerField(),
                                "end": serializers.IntegerField(),
                                "score": serializers.FloatField(),
                            },
                        )
                    ),
                    help_text="One list of spans per text, in the order sent.",
                )
            },
        ),
    )
    def post(self, request: Request) -> Response:
        texts = request.data.get("texts") if isinstance(request.data, dict) else None
        if isinstance(texts, list) and len(texts) > engines.MAX_ANALYZE_TEXTS:
            # Refuse before validating a huge list element by element.
            return Response(
                {
                    "detail": f"at most {engines.MAX_ANALYZE_TEXTS} texts per call (got {len(texts)})",
                    "code": "invalid",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = AnalyzeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = engines.analyze_texts(**data.validated_data)
        return Response({"results": results})


class MaskView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=MaskRequestSerializer, responses={202: JobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        if not has_capability(request.user, "catalog.read"):
            raise ServiceError(f"you may not read dataset version {pk}, so you may not mask it")
        if not has_capability(request.user, "pii.manage"):
            raise PermissionDenied("Only stewards may mask personal data (pii.manage).")
        version = get_object_or_404(version_list(), pk=pk)
        data = MaskRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.mask_start(
            version=version,
            actor=request.user,
            policy={"columns": data.validated_data["columns"]},
            save_as=data.validated_data.get("save_as"),
        )
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class DecryptView(APIView):
    permission_classes = [capability("pii.manage")]

    @extend_schema(
        request=DecryptSerializer,
        responses=inline_serializer(
            "DecryptedValues", {"values": serializers.ListField(child=serializers.CharField())}
        ),
    )
    def post(self, request: Request) -> Response:
        data = DecryptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = None
        if data.validated_data.get("dataset_version"):
            version = get_object_or_404(version_list(), pk=data.validated_data["dataset_version"])
        values = services.pii_decrypt(
            actor=request.user,
            values=data.validated_data["values"],
            dataset_version=version,
            column=data.validated_data.get("column", ""),
        )
        return Response({"values": values})


class DatasetRecognizersView(APIView):
    permission_classes = [capability_by_method("catalog.read", "pii.manage")]

    @extend_schema(responses=CustomRecognizerSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        recognizers = custom_recognizer_list(dataset=dataset)
        return Response(CustomRecognizerSerializer(recognizers, many=True, context={"request": request}).data)

    @extend_schema(request=CustomRecognizerSerializer, responses={201: CustomRecognizerSerializer})
    def post(self, request: Request, pk: int) -> Response:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        spec: Any = request.data.get("spec") if isinstance(request.data, dict) else None
        if spec is None:
            return Response({"detail": "spec: this field is required", "code": "invalid"}, status=400)
        recognizer = services.custom_recognizer_create(dataset=dataset, actor=request.user, spec=spec)
        body = CustomRecognizerSerializer(recognizer, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class RecognizerDetailView(APIView):
    permission_classes = [capability("pii.manage")]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        recognizer = get_object_or_404(custom_recognizer_list(), pk=pk)
        services.custom_recognizer_delete(recognizer=recognizer, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
