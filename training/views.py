from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from core.errors import NotFound, ServiceError
from core.models import Job
from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from governance.catalog.models import DatasetVersion
from training import selectors
from training.charts import line_chart
from training.metrics_names import COMPARE_METRICS
from training.models import ModelVersion
from training.services import (
    TrainingRequest,
    model_alias_set,
    training_gate_reasons,
    training_job_start,
)


def _model_or_404(name: str):
    try:
        return selectors.model_get(name)
    except NotFound:
        raise Http404(f"No model named {name!r}") from None


def _version_or_404(model, number: int):
    try:
        return selectors.version_get(model, number)
    except NotFound:
        raise Http404(f"No version {number}") from None


def curves_svg(versions: list[ModelVersion]) -> dict[str, Any]:
    label = (lambda mv: f"v{mv.version}") if len(versions) > 1 else (lambda mv: "")
    val = [
        (f"{label(mv)} valid AUC".strip(), [[p["step"], p["auc"]] for p in mv.history.get("val", [])])
        for mv in versions
    ]
    loss = [
        (f"{label(mv)} train loss".strip(), [[p["step"], p["loss"]] for p in mv.history.get("loss", [])])
        for mv in versions
    ]
    return {
        "val_chart": line_chart(val, title="Validation AUC"),
        "loss_chart": line_chart(loss, title="Training loss (BCE)", y_format="{:.4f}"),
    }


class ModelListPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "training/models.html",
            {"models": selectors.model_list(), "jobs": selectors.training_jobs(limit=20)},
        )


class AliasForm(forms.Form):
    alias = forms.RegexField(regex=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", initial="production")
    version = forms.IntegerField(min_value=1)


class ModelPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def context(self, model, form: AliasForm | None = None) -> dict[str, Any]:
        versions = list(selectors.version_list(model))
        latest = versions[0].version if versions else None
        return {
            "model": model,
            "versions": versions,
            "version_rows": [(mv, [mv.metrics.get(n) for n in COMPARE_METRICS]) for mv in versions],
            "aliases": model.aliases.select_related("version", "updated_by"),
            "history": selectors.alias_history(model)[:50],
            "metric_names": COMPARE_METRICS,
            "alias_form": form or AliasForm(initial={"alias": "production", "version": latest}),
            "jobs": selectors.training_jobs(model_name=model.name, limit=20),
            **curves_svg(versions[:6]),
        }

    def get(self, request: HttpRequest, name: str) -> HttpResponse:
        return render(request, "training/model.html", self.context(_model_or_404(name)))

    def post(self, request: HttpRequest, name: str) -> HttpResponse:
        model = _model_or_404(name)
        if not has_capability(request.user, "models.manage"):
            return HttpResponse("Your role may not move aliases.", status=403)
        form = AliasForm(request.POST)
        if form.is_valid():
            try:
                model_alias_set(
                    actor=request.user,
                    model=model,
                    alias=form.cleaned_data["alias"],
                    version=form.cleaned_data["version"],
                )
                return redirect("model", name=model.name)
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render(request, "training/model.html", self.context(model, form), status=400)


class ModelVersionPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest, name: str, number: int) -> HttpResponse:
        mv = _version_or_404(_model_or_404(name), number)
        segments = sorted((s for s in mv.segment_metrics if s.get("auc") is not None), key=lambda s: s["auc"])
        return render(
            request,
            "training/version.html",
            {
                "mv": mv,
                "model": mv.model,
                "aliases": selectors.aliases_of(mv),
                "metric_rows": [(n, mv.metrics.get(n), mv.valid_metrics.get(n)) for n in COMPARE_METRICS],
                "segments": segments,
                "config_json": json.dumps(mv.config, indent=2, sort_keys=True),
                "spec_json": json.dumps(mv.feature_spec, indent=2, sort_keys=True),
                **curves_svg([mv]),
            },
        )


class ModelVersionRedirect(CapabilityRequiredMixin, View):
    """Lineage nodes name a model version by id; its page lives under the model's name."""

    required_capability = "models.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        mv = get_object_or_404(ModelVersion.objects.select_related("model"), pk=pk)
        return redirect("model-version", name=mv.model.name, number=mv.version)


class ComparePage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest, name: str) -> HttpResponse:
        model = _model_or_404(name)
        try:
            numbers = sorted({int(v) for v in request.GET.getlist("v")})
        except ValueError:
            return HttpResponse("Versions must be numbers.", status=400)
        versions = [mv for mv in selectors.version_list(model) if mv.version in numbers]
        if len(versions) < 2:
            return render(
                request,
                "training/compare.html",
                {"model": model, "versions": [], "error": "Pick two or more versions to compare."},
                status=400,
            )
        versions.sort(key=lambda mv: mv.version)
        params = sorted({k for mv in versions for k in mv.config.get("params", {})})
        return render(
            request,
            "training/compare.html",
            {
                "model": model,
                "versions": versions,
                "rows": selectors.metric_table(versions, COMPARE_METRICS),
                "param_rows": [
                    (p, [mv.config.get("params", {}).get(p) for mv in versions])
                    for p in params
                    if len({json.dumps(mv.config.get("params", {}).get(p), sort_keys=True) for mv in versions}) > 1
                ],
                **curves_svg(versions),
            },
        )


class TrainingJobPage(CapabilityRequiredMixin, View):
    required_capability = "jobs.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(Job, pk=pk, kind="training")
        curves = (job.details or {}).get("curves", {})
        mv = ModelVersion.objects.filter(job=job).select_related("model").first()
        return render(
            request,
            "training/job.html",
            {
                "job": job,
                "mv": mv,
                "val_chart": line_chart([("valid AUC", curves.get("val_auc", []))], title="Validation AUC"),
                "loss_chart": line_chart(
                    [("train loss", curves.get("loss", []))], title="Training loss (BCE)", y_format="{:.4f}"
                ),
                "curves_json": json.dumps(curves),
            },
        )


def _split_names(text: str) -> list[str]:
    return [c.strip() for c in (text or "").replace("\n", ",").split(",") if c.strip()]


class TrainForm(forms.Form):
    model_name = forms.CharField(max_length=100)
    label_column = forms.CharField()
    text_columns = forms.CharField(required=False, help_text="comma separated")
    categorical_columns = forms.CharField(required=False, help_text="comma separated")
    numeric_columns = forms.CharField(required=False, help_text="comma separated")
    user_column = forms.CharField(required=False)
    item_column = forms.CharField(required=False)
    base_model = forms.CharField(required=False, help_text="empty: the offline default")
    split = forms.ChoiceField(choices=[("random", "random"), ("time", "time-ordered"), ("user", "by user")])
    time_column = forms.CharField(required=False)
    params = forms.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='e.g. {"epochs": 5, "lr": 0.002, "segment_column": "genres"}',
    )


class TrainPage(CapabilityRequiredMixin, View):
    """Start a training job on a dataset version (the API's POST /training-jobs/ as a form)."""

    required_capability = "models.train"

    def context(self, version: DatasetVersion, form: TrainForm) -> dict[str, Any]:
        return {"version": version, "form": form, "gate": training_gate_reasons(version)}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(DatasetVersion.objects.select_related("dataset"), pk=pk)
        return render(request, "training/train.html", self.context(version, TrainForm()))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(DatasetVersion.objects.select_related("dataset"), pk=pk)
        form = TrainForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            split: dict[str, Any] = {"strategy": d["split"]}
            if d["time_column"]:
                split["time_column"] = d["time_column"]
            try:
                job = training_job_start(
                    actor=request.user,
                    request=TrainingRequest(
                        model_name=d["model_name"],
                        dataset_version=version.pk,
                        label_column=d["label_column"],
                        text_columns=_split_names(d["text_columns"]),
                        categorical_columns=_split_names(d["categorical_columns"]),
                        numeric_columns=_split_names(d["numeric_columns"]),
                        user_column=d["user_column"] or None,
                        item_column=d["item_column"] or None,
                        base_model=d["base_model"] or None,
                        params=d["params"] or {},
                        split=split,
                    ),
                )
                return redirect("training-job", pk=job.pk)
            except ServiceError as exc:
                form.add_error(None, exc.message)
        return render(request, "training/train.html", self.context(version, form), status=400)
