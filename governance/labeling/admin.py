from __future__ import annotations

from django.contrib import admin

from governance.labeling.models import Annotation, Assignment, Project, Task, Webhook, WebhookAttempt, WebhookDelivery


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "template", "dataset_version", "overlap", "status", "created_by", "created_at"]
    list_filter = ["template", "status"]
    search_fields = ["name", "description", "dataset_version__dataset__name"]
    # The annotator list changes through services (checked usernames, audit log): the API or the project page.
    readonly_fields = [
        "dataset_version",
        "template",
        "labels",
        "created_by",
        "created_at",
        "completed_at",
        "annotators",
    ]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "row", "kind", "status", "annotation_count", "final_label", "final_source"]
    list_filter = ["kind", "status", "final_source", "strategy", "project"]
    search_fields = ["id", "row", "project__name"]
    # Labels change through services (review, undo), so that the record of who decided stays true.
    readonly_fields = [f.name for f in Task._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "task", "annotator", "label", "accepted_suggestion", "is_gold", "created_at"]
    list_filter = ["is_gold", "accepted_suggestion", "gold_correct", "project"]
    search_fields = ["annotator__username", "task__id", "project__name"]
    readonly_fields = [f.name for f in Annotation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "task", "annotator", "status", "leased_at", "expires_at"]
    list_filter = ["status", "project"]
    search_fields = ["annotator__username", "task__id"]
    readonly_fields = [f.name for f in Assignment._meta.fields]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["project", "url", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["project__name", "url"]
    exclude = ["secret"]  # shown once through the API or page when set, never again


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "status_code", "duration_ms", "error", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "webhook", "event", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "event"]
    search_fields = ["webhook__project__name", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]
