from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from training.models import ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel
from training.selectors import aliases_of


def _metric(name: str):
    def show(_admin: admin.ModelAdmin | admin.TabularInline, obj: ModelVersion) -> str:
        value = (obj.metrics or {}).get(name)
        return f"{value:.4f}" if isinstance(value, (int, float)) else "–"

    show.short_description = name  # type: ignore[attr-defined]
    return show


class VersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ["version", "auc", "baseline_auc", "lift_shown", "logloss", "f1", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    auc = _metric("auc")
    logloss = _metric("logloss")
    f1 = _metric("f1")

    @admin.display(description="baseline auc")
    def baseline_auc(self, obj: ModelVersion) -> str:
        value = (obj.baseline_metrics or {}).get("auc")
        return f"{value:.4f}" if isinstance(value, (int, float)) else "–"

    @admin.display(description="lift")
    def lift_shown(self, obj: ModelVersion) -> str:
        return obj.lift_display or "–"


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name", "description"]
    inlines = [VersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "auc",
        "logloss",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "baseline_auc",
        "lift_shown",
        "recipe_name",
        "aliases_list",
        "job",
        "created_by",
        "created_at",
    ]
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

    @admin.display(description="baseline auc")
    def baseline_auc(self, obj: ModelVersion) -> str:
        value = (obj.baseline_metrics or {}).get("auc")
        return f"{value:.4f}" if isinstance(value, (int, float)) else "–"

    @admin.display(description="lift (auc - baseline)")
    def lift_shown(self, obj: ModelVersion) -> str:
        return obj.lift_display or "–"

    @admin.display(description="recipe")
    def recipe_name(self, obj: ModelVersion) -> str:
        return (obj.recipe or {}).get("name") or "–"

    @admin.display(description="aliases")
    def aliases_list(self, obj: ModelVersion) -> str:
        return ", ".join(aliases_of(obj))

    @admin.display(description="page")
    def page(self, obj: ModelVersion) -> str:
        return format_html(
            '<a href="/models/{}/versions/{}/">curves, segments, config</a>', obj.model.name, obj.version
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model", "created_by", "job").prefetch_related("aliases")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AliasForm(forms.ModelForm):
    force = forms.BooleanField(
        required=False,
        label="Move even though the version does not beat its baseline",
        help_text="production only moves to a version below its baseline when this is ticked (audited)",
    )

    class Meta:
        model = ModelAlias
        fields = ["model", "name", "version"]

    def clean(self) -> dict:
        from training.services.registry import GUARDED_ALIASES

        data = super().clean()
        model = data.get("model") or getattr(self.instance, "model", None)
        version = data.get("version")
        if model is not None and version is not None and version.model_id != model.pk:
            raise forms.ValidationError(f"Version {version.version} belongs to {version.model.name}, not {model.name}.")
        name = data.get("name") or getattr(self.instance, "name", None)
        lift = version.lift if version is not None else None
        if name in GUARDED_ALIASES and lift is not None and lift <= 0 and not data.get("force"):
            raise forms.ValidationError(
                f"{version.label} does not beat its baseline (lift {version.lift_display} AUC). "
                f"Tick the box to point {name!r} at it anyway."
            )
        return data


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    """Stewards and ML engineers move `production` here; the move goes through model_alias_set, so it is
    validated, kept in the alias history and audited, and serving picks it up within seconds."""

    list_display = ["model", "name", "version", "updated_by", "updated_at"]
    list_filter = ["model", "name"]
    search_fields = ["model__name", "name"]
    fields = ["model", "name", "version", "force"]
    form = AliasForm

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # An existing alias keeps its model and name; only the version it points to moves.
        return ["model", "name", "updated_by", "updated_at"] if obj else ["updated_by", "updated_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        if db_field.name == "version":
            alias_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            alias = ModelAlias.objects.filter(pk=alias_id).first() if alias_id else None
            if alias is not None:
                kwargs["queryset"] = ModelVersion.objects.filter(model=alias.model).order_by("-version")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        # Not in the admin's usual transaction: model_alias_set writes in its own, and before it a first-set
        # `production` has every serving process warm the version, which they can only see once committed.
        return self._changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:  # type: ignore[no-untyped-def]
        from training.services.registry import model_alias_set

        saved = model_alias_set(
            actor=request.user,
            model=obj.model,
            alias=obj.name,
            version=obj.version.version,
            force=bool(form.cleaned_data.get("force")),
        )
        obj.pk = saved.pk

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        from core.roles import has_capability

        return has_capability(request.user, "models.manage") and request.user.is_staff

    has_add_permission = has_change_permission


@admin.register(ModelAliasEvent)
class ModelAliasEventAdmin(admin.ModelAdmin):
    list_display = ["model", "alias", "from_version", "to_version", "actor", "created_at"]
    list_filter = ["model", "alias"]
    readonly_fields = ["model", "alias", "from_version", "to_version", "actor", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
