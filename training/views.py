"""Pages of the training app: models, versions, comparison, training jobs with live curves, the train form."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString
from django.views import View

from core import charts
from core.errors import NotFound, ServiceError
from core.models import Job
from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from core.selectors import job_error_for, job_params_for
from governance.catalog.models import DatasetVersion
from training import selectors
from training.metrics_names import COMPARE_METRICS
from training.models import ALIAS_PATTERN, ALIAS_RULE, ModelVersion
from training.services.jobs import TrainingRequest, training_job_start
from training.services.registry import BelowBaseline, model_alias_set

T = TypeVar("T")
Points = Sequence[Sequence[float]]  # [[step, value], ...]


def _or_404(read: Callable[..., T], *args: Any) -> T:
    """A selector's answer, or the page's 404 with its message."""
    try:
        return read(*args)
    except NotFound as exc:
        raise Http404(exc.message) from None


# The two curves every training page draws: context name, title, y axis label, tick format.
_CURVES = (
    ("val_chart", "Validation AUC", "AUC", "{:.3f}"),
    ("loss_chart", "Training loss (BCE)", "loss", "{:.4f}"),
)


def curve_charts(val: Sequence[tuple[str, Points]], loss: Sequence[tuple[str, Points]]) -> dict[str, SafeString]:
    """The validation-AUC and training-loss charts of one or more runs: (label, [[step, value], ...])."""
    return {
        name: charts.line_chart(
            [charts.Series(label, points) for label, points in runs],
            title=title,
            y_label=y_label,
            x_label="step",
            y_from_zero=False,
            y_format=y_format,
        )
        for (name, title, y_label, y_format), runs in zip(_CURVES, (val, loss), strict=True)
    }


def version_curves(versions: Sequence[ModelVersion]) -> dict[str, SafeString]:
    """Curves of model versions, from their stored training history."""
    prefix = (lambda mv: f"v{mv.version} ") if len(versions) > 1 else (lambda mv: "")
    return curve_charts(
        [(f"{prefix(mv)}valid AUC", [(p["step"], p["auc"]) for p in mv.history.get("val", [])]) for mv in versions],
        [(f"{prefix(mv)}train loss", [(p["step"], p["loss"]) for p in mv.history.get("loss", [])]) for mv in versions],
    )


def job_curves(job: Job) -> dict[str, SafeString]:
    """Curves of a training job, from the live details its worker writes while it runs."""
    curves = (job.details or {}).get("curves", {})
    return curve_charts([("valid AUC", curves.get("val_auc", []))], [("train loss", curves.get("loss", []))])


class ModelListPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "training/models.html",
            {"models": selectors.model_list(), "jobs": selectors.training_jobs(limit=20)},
        )


class AliasForm(forms.Form):
    alias = forms.RegexField(
        regex=ALIAS_PATTERN, initial="production", error_messages={"invalid": f"An alias is {ALIAS_RULE}."}
    )
    version = forms.IntegerField(min_value=1)
    # Set by the confirmation the page asks for when `production` would move below its baseline.
    force = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ModelPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def context(self, model, form: AliasForm | None = None, confirm: dict[str, Any] | None = None) -> dict[str, Any]:
        versions = list(selectors.version_list(model))
        latest = versions[0].version if versions else None
        return {
            "model": model,
            "versions": versions,
            "version_rows": [(mv, [mv.metrics.get(n) for n in COMPARE_METRICS]) for mv in versions],
            "confirm": confirm,
            "aliases": selectors.alias_list(model),
            "history": selectors.alias_history(model)[:50],
            "metric_names": COMPARE_METRICS,
            "alias_form": form or AliasForm(initial={"alias": "production", "version": latest}),
            "jobs": selectors.training_jobs(model_name=model.name, limit=20),
            **version_curves(versions[:6]),
        }

    def get(self, request: HttpRequest, name: str) -> HttpResponse:
        return render(request, "training/model.html", self.context(_or_404(selectors.model_get, name)))

    def post(self, request: HttpRequest, name: str) -> HttpResponse:
        model = _or_404(selectors.model_get, name)
        if not has_capability(request.user, "models.manage"):
            return HttpResponse("Your role may not move aliases.", status=403)
        form = AliasForm(request.POST)
        if form.is_valid():
            try:
                row = model_alias_set(
                    actor=request.user,
                    model=model,
                    alias=form.cleaned_data["alias"],
                    version=form.cleaned_data["version"],
                    force=form.cleaned_data["force"],
                )
                _say_warm(request, row)
                return redirect("model", name=model.name)
            except BelowBaseline as exc:
                # Ask before serving a model that a bag of words beats; confirming posts force.
                confirm = {"message": exc.message, "alias": form.cleaned_data["alias"]}
                confirm["version"] = form.cleaned_data["version"]
                return render(request, "training/model.html", self.context(model, form, confirm), status=409)
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render(request, "training/model.html", self.context(model, form), status=400)


def _say_warm(request: HttpRequest, row: Any) -> None:
    """What serving did before a first-set alias was written (serving.warm), which the move waited for."""
    warm = getattr(row, "warm", None)
    if warm is None:
        return
    target = f"{row.name} points to version {row.version.version}"
    seconds = warm["waited_ms"] / 1000
    if not warm["processes"]:
        messages.info(request, f"{target}. No serving process was running to load it ahead.")
    elif warm["timed_out"]:
        messages.warning(
            request,
            f"{target}: {warm['warmed']} of {warm['processes']} serving processes had it loaded when the wait ran "
            f"out after {seconds:.1f} s (STEWARD_SERVING_WARM_WAIT_MS); the others are still loading it, and their "
            "first requests for it wait for that load.",
        )
    else:
        messages.success(
            request,
            f"{target}, loaded and warm in {warm['warmed']} of {warm['processes']} serving processes before the "
            f"move (waited {seconds:.1f} s).",
        )


class ModelVersionPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest, name: str, number: int) -> HttpResponse:
        mv = _or_404(selectors.version_get, _or_404(selectors.model_get, name), number)
        segments = sorted((s for s in mv.segment_metrics if s.get("auc") is not None), key=lambda s: s["auc"])
        return render(
            request,
            "training/version.html",
            {
                "mv": mv,
                "model": mv.model,
                "aliases": selectors.aliases_of(mv),
                "metric_rows": [
                    (n, mv.metrics.get(n), mv.valid_metrics.get(n), (mv.baseline_metrics or {}).get(n))
                    for n in COMPARE_METRICS
                ],
                "segments": segments,
                "config_json": json.dumps(mv.config, indent=2, sort_keys=True),
                "spec_json": json.dumps(mv.feature_spec, indent=2, sort_keys=True),
                **version_curves([mv]),
            },
        )


class ModelVersionRedirect(CapabilityRequiredMixin, View):
    """Lineage nodes name a model version by id; its page lives under the model's name."""

    required_capability = "models.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        mv = _or_404(selectors.version_by_id, pk)
        return redirect("model-version", name=mv.model.name, number=mv.version)


class ComparePage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest, name: str) -> HttpResponse:
        model = _or_404(selectors.model_get, name)
        try:
            numbers = {int(v) for v in request.GET.getlist("v")}
        except ValueError:
            return HttpResponse("Versions must be numbers.", status=400)
        versions = selectors.versions_numbered(model, numbers)
        if len(versions) < 2:
            return render(
                request,
                "training/compare.html",
                {"model": model, "versions": [], "error": "Pick two or more versions to compare."},
                status=400,
            )
        params = sorted({k for mv in versions for k in mv.config.get("params", {})})
        return render(
            request,
            "training/compare.html",
            {
                "model": model,
                "versions": versions,
                "rows": selectors.metric_table(versions, COMPARE_METRICS),
                "baseline_rows": selectors.baseline_table(versions),
                "param_rows": [
                    (p, [mv.config.get("params", {}).get(p) for mv in versions])
                    for p in params
                    if len({json.dumps(mv.config.get("params", {}).get(p), sort_keys=True) for mv in versions}) > 1
                ],
                **version_curves(versions),
            },
        )


class TrainingJobPage(CapabilityRequiredMixin, View):
    required_capability = "jobs.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = _or_404(selectors.training_job_get, pk)
        mv = selectors.version_of_job(job)
        context = {
            "job": job,
            "job_error": job_error_for(job=job, user=request.user),
            "job_params": job_params_for(job=job, user=request.user),
            "mv": mv,
            # The recipe the job reports while it runs, else the one its model version recorded.
            "recipe": (job.details or {}).get("recipe") or (mv.recipe if mv is not None else None),
            **job_curves(job),
        }
        return render(request, "training/job.html", context)


class TrainingJobCurves(CapabilityRequiredMixin, View):
    """The job's curves as an HTML fragment: the job page fetches it each time the job reports."""

    required_capability = "jobs.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = _or_404(selectors.training_job_get, pk)
        return render(request, "training/_job_curves.html", {"job": job, **job_curves(job)})


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
        return {"version": version, "form": form, "gate": selectors.training_gate_reasons(version)}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = _or_404(selectors.dataset_version_get, pk)
        return render(request, "training/train.html", self.context(version, TrainForm()))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from training.ml.features import FeatureSpec

        version = _or_404(selectors.dataset_version_get, pk)
        form = TrainForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            split: dict[str, Any] = {"strategy": d["split"]}
            if d["time_column"]:
                split["time_column"] = d["time_column"]
            spec = FeatureSpec(
                label_column=d["label_column"],
                text_columns=_split_names(d["text_columns"]),
                categorical_columns=_split_names(d["categorical_columns"]),
                numeric_columns=_split_names(d["numeric_columns"]),
                user_column=d["user_column"],
                item_column=d["item_column"],
            )
            try:
                job = training_job_start(
                    actor=request.user,
                    request=TrainingRequest(
                        model_name=d["model_name"],
                        dataset_version=version.pk,
                        spec=spec,
                        base_model=d["base_model"] or None,
                        params=d["params"] or {},
                        split=split,
                    ),
                )
                return redirect("training-job", pk=job.pk)
            except ServiceError as exc:
                form.add_error(None, exc.message)
        return render(request, "training/train.html", self.context(version, form), status=400)
