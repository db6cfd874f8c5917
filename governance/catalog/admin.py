from __future__ import annotations

from django.contrib import admin

from governance.catalog.models import Dataset, DatasetVersion, LineageEdge


class VersionInline(admin.TabularInline):
    model = DatasetVersion
    fields = ["number", "operation", "row_count", "pii_status", "sha256", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "owner", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    inlines = [VersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "operation",
        "row_count",
        "format",
        "profile_status",
        "pii_status",
        "created_by",
        "created_at",
    ]
    list_filter = ["format", "operation", "profile_status", "pii_status", "dataset"]
    search_fields = ["dataset__name", "sha256", "original_name"]
    # Versions are immutable: the admin shows them, services write them.
    readonly_fields = [f.name for f in DatasetVersion._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(LineageEdge)
class LineageEdgeAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "operation", "target_type", "target_id", "actor", "created_at"]
    list_filter = ["operation", "target_type"]
    search_fields = ["operation", "target_label", "source__dataset__name"]
    readonly_fields = [f.name for f in LineageEdge._meta.fields]
