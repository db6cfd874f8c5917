from __future__ import annotations

from typing import Any

from django.contrib import admin

from serving.models import PredictionLog


@admin.register(PredictionLog)
class PredictionLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "model_name", "version", "endpoint", "n_candidates", "k", "latency_ms"]
    list_filter = ["model_name", "endpoint"]
    readonly_fields = [f.name for f in PredictionLog._meta.fields]

    def has_add_permission(self, request: Any) -> bool:  # written by the serving path only
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
