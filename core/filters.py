"""Filters shared by the audit page, `GET /api/v1/audit-events/` and its CSV export."""

from __future__ import annotations

import django_filters

from core.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor__username", help_text="username of who did it")
    action = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="an action or its prefix: `training.` for all"
    )
    object_type = django_filters.CharFilter(help_text="app_label.model, e.g. `catalog.datasetversion`")
    object_id = django_filters.CharFilter()
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", help_text="YYYY-MM-DD, included"
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", help_text="YYYY-MM-DD, included"
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "object_type", "object_id", "since", "until"]
