"""The quality API (DESIGN.md section 5): rules of a dataset, checks of a version, its latest report."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser
from core.permissions import capability, capability_by_method
from core.serializers import JobSerializer, validated
from governance.catalog.selectors import dataset_list, dataset_version_list
from governance.quality import services
from governance.quality.models import QualityRule
from governance.quality.selectors import latest_report, report_rules_shown_to, rules_of, rules_shown_to
from governance.quality.serializers import (
    NotCheckedSerializer,
    QualityReportSerializer,
    QualityRuleCreateSerializer,
    QualityRuleSerializer,
    QualityRuleUpdateSerializer,
)

READ, MANAGE, CHECK = "quality.read", "quality.manage", "quality.check"


def _shown(rule: QualityRule, request: Request) -> dict[str, Any]:
    return QualityRuleSerializer(rules_shown_to([rule], dataset=rule.dataset, user=request.user)[0]).data


class DatasetRulesView(generics.ListAPIView):
    permission_classes = [capability_by_method(READ, MANAGE)]
    serializer_class = QualityRuleSerializer
    parser_classes = [JSONParser]
    filterset_fields = ["status", "kind", "severity"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return QualityRule.objects.none()
        return rules_of(get_object_or_404(dataset_list(), pk=self.kwargs["pk"])).order_by("id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        dataset = get_object_or_404(dataset_list(), pk=kwargs["pk"])
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rules = rules_shown_to(page if page is not None else self.get_queryset(), dataset=dataset, user=request.user)
        data = QualityRuleSerializer(rules, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(request=QualityRuleCreateSerializer, responses={201: QualityRuleSerializer})
    def post(self, request: Request, pk: int) -> Response:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        data = validated(QualityRuleCreateSerializer, request.data)
        rule = services.quality_rule_create(actor=request.user, dataset=dataset, **data)
        return Response(_shown(rule, request), status=status.HTTP_201_CREATED)


class RuleDetailView(APIView):
    permission_classes = [capability_by_method(READ, MANAGE)]
    parser_classes = [JSONParser]

    def _rule(self, pk: int) -> QualityRule:
        return get_object_or_404(QualityRule.objects.select_related("dataset", "created_by"), pk=pk)

    @extend_schema(responses=QualityRuleSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_shown(self._rule(pk), request))

    @extend_schema(request=QualityRuleUpdateSerializer, responses=QualityRuleSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        data = validated(QualityRuleUpdateSerializer, request.data)
        rule = services.quality_rule_update(actor=request.user, rule=self._rule(pk), **data)
        return Response(_shown(rule, request))

    @extend_schema(responses={204: OpenApiResponse(description="deleted")})
    def delete(self, request: Request, pk: int) -> Response:
        services.quality_rule_delete(actor=request.user, rule=self._rule(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionChecksView(APIView):
    permission_classes = [capability(CHECK)]

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        job = services.quality_check_start(version=version, actor=request.user)
        return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class VersionQualityView(APIView):
    permission_classes = [capability(READ)]

    @extend_schema(
        responses={200: QualityReportSerializer},
        description='The latest report; `{"status": "not_checked", "rules": []}` when there is none yet.',
    )
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        report = latest_report(version)
        if report is None:
            return Response(NotCheckedSerializer({"version": version.pk, "status": "not_checked", "rules": []}).data)
        report.rules = report_rules_shown_to(report, user=request.user)
        return Response(QualityReportSerializer(report).data)


class VersionSuggestionsView(APIView):
    permission_classes = [capability(MANAGE)]

    @extend_schema(request=None, responses={201: QualityRuleSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        rules = services.quality_suggestions_create(actor=request.user, version=version)
        shown = rules_shown_to(rules, dataset=version.dataset, user=request.user)
        return Response(QualityRuleSerializer(shown, many=True).data, status=status.HTTP_201_CREATED)
