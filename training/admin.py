from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from training.models import ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel


def _metric(name: str):
    def show(_admin: admin.ModelAdmin | admin.TabularInline, obj: ModelVersion) -> str:
        value = (obj.metrics or {}).get(name)
        return f"{value:.4f}" if isinstance(value, (int, float)) else "–"

    show.short_description = name  # type: ignore[attr-defined]
    return show


class VersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ["version", "auc", "logloss", "f1", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    auc = _metric("auc")
    logloss = _metric("logloss")
    f1 = _metric("f1")


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name", "description"]
    inlines = [VersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "auc", "logloss", "accuracy", "precision", "recall", "f1", "aliases_list",
                    "job", "created_by", "created_at"]
    list_filter = ["model"]
    search_fields = ["model__name"]
    # Versions are immutable: the admin shows them, the training job writes them.
    readonly_fields = [f.name for f in ModelVersion._meta.fields] + ["dataset_versions", "page"]
    auc = _metric("auc")
    logloss = _metric("logloss")
    accuracy = _metric("accuracy")
    precision = _metric("precision")
    recall = _metric("recall")
    f1 = _metric("f1")

    @admin.display(description="aliases")
    def aliases_list(self, obj: ModelVersion) -> str:
        return ", ".join(sorted(a.name for a in obj.aliases.all()))

    @admin.display(description="page")
    def page(self, obj: ModelVersion) -> str:
        return format_html('<a href="/models/{}/versions/{}/">curves, segments, config</a>', obj.model.name,
                           obj.version)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model", "created_by", "job").prefetch_related("aliases")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["model", "name", "version", "updated_by", "updated_at"]
    list_filter = ["model", "name"]
    readonly_fields = ["model", "name", "version", "updated_by", "updated_at"]

    def has_add_permission(self, request) -> bool:  # moves go through the service (history, audit)
        return False


@admin.register(ModelAliasEvent)
class ModelAliasEventAdmin(admin.ModelAdmin):
    list_display = ["model", "alias", "from_version", "to_version", "actor", "created_at"]
    list_filter = ["model", "alias"]
    readonly_fields = ["model", "alias", "from_version", "to_version", "actor", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
