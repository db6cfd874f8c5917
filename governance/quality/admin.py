from __future__ import annotations

from django.contrib import admin

from governance.quality.models import QualityReport, QualityRule


@admin.register(QualityRule)
class QualityRuleAdmin(admin.ModelAdmin):
    """Read-only: rules are written through the service (validated against the data), not edited here."""

    list_display = ["__str__", "dataset", "severity", "status", "created_by", "updated_at"]
    list_filter = ["kind", "severity", "status"]
    search_fields = ["dataset__name"]
    readonly_fields = [f.name for f in QualityRule._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(QualityReport)
class QualityReportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "version", "status", "trigger", "created_at"]
    list_filter = ["status", "trigger"]
    readonly_fields = [f.name for f in QualityReport._meta.fields]

    def has_add_permission(self, request):
        return False
