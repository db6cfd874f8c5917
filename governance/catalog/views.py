from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, TemplateView

from core.errors import ServiceError
from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from core.selectors import job_list_for_subject
from governance.catalog import hooks, transforms
from governance.catalog.lineage_svg import render_lineage_svg
from governance.catalog.models import Dataset
from governance.catalog.selectors import (
    dataset_list,
    dataset_version_list,
    lineage_graph,
    version_columns,
    version_rows,
)
from governance.catalog.services import dataset_create, dataset_version_upload
from governance.catalog.transform_forms import operation_form, operation_forms, params_from
from governance.catalog.transform_service import transform_start
from governance.catalog.uploads import UploadTooLarge


class DatasetForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(choices=Dataset.Kind.choices)


class UploadForm(forms.Form):
    file = forms.FileField()
    format = forms.ChoiceField(
        required=False,
        choices=[
            ("", "detect from name"),
            ("csv", "CSV"),
            ("tsv", "TSV"),
            ("parquet", "Parquet"),
            ("jsonl", "JSON Lines"),
        ],
    )
    sep = forms.CharField(required=False, max_length=1, strip=False)


def _datasets_page(request: HttpRequest, form: DatasetForm, *, status: int = 200) -> HttpResponse:
    return render(request, "catalog/datasets.html", {"datasets": dataset_list(), "form": form}, status=status)


def _dataset_page(request: HttpRequest, dataset: Dataset, form: UploadForm, *, status: int = 200) -> HttpResponse:
    """The dataset page, also shown again (400) with the upload form's errors."""
    versions = dataset_version_list(dataset=dataset)
    context = {"dataset": dataset, "versions": versions, "upload_form": form, "latest": versions.first()}
    return render(request, "catalog/dataset.html", context, status=status)


class DatasetListPage(CapabilityRequiredMixin, View):
    required_capability = "catalog.read"

    def get(self, request: HttpRequest) -> HttpResponse:
        return _datasets_page(request, DatasetForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = DatasetForm(request.POST)
        if not has_capability(request.user, "catalog.write"):
            return HttpResponse("Your role may not create datasets.", status=403)
        if form.is_valid():
            try:
                dataset = dataset_create(actor=request.user, **form.cleaned_data)
                return redirect("dataset", pk=dataset.pk)
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _datasets_page(request, form, status=400)


class DatasetPage(CapabilityRequiredMixin, View):
    required_capability = "catalog.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _dataset_page(request, get_object_or_404(dataset_list(), pk=pk), UploadForm())


class DatasetUploadPage(CapabilityRequiredMixin, View):
    required_capability = "catalog.write"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        try:
            form = UploadForm(request.POST, request.FILES)
        except UploadTooLarge as exc:  # refused while the body streamed in: there is no bound form to show
            messages.error(request, str(exc.detail))
            return _dataset_page(request, dataset, UploadForm(), status=400)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                version, created = dataset_version_upload(
                    actor=request.user,
                    dataset=dataset,
                    source=upload,
                    filename=upload.name,
                    fmt=form.cleaned_data.get("format") or None,
                    sep=form.cleaned_data.get("sep") or None,
                )
                messages.success(
                    request,
                    f"Registered version {version.number}."
                    if created
                    else f"Identical content: version {version.number} already holds it.",
                )
                return redirect("dataset-version", pk=version.pk)
            except ServiceError as exc:
                form.add_error("file", exc.message)
        return _dataset_page(request, dataset, form, status=400)


class VersionPage(CapabilityRequiredMixin, DetailView):
    required_capability = "catalog.read"
    template_name = "catalog/version.html"
    context_object_name = "version"
    queryset = dataset_version_list()  # a lazy queryset: Django copies it for each request

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        version = self.object
        return super().get_context_data(**kwargs) | {
            "columns": version_columns(version=version, user=self.request.user),
            "preview": version_rows(version=version, offset=0, limit=20, user=self.request.user),
            "preview_columns": version.column_names,
            "jobs": job_list_for_subject(subject_type="dataset_version", subject_id=version.pk)[:10],
            "transform_forms": operation_forms(version.column_names),
        }


class LineagePage(CapabilityRequiredMixin, TemplateView):
    required_capability = "catalog.read"
    template_name = "catalog/lineage.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        version = get_object_or_404(dataset_version_list(), pk=kwargs["pk"])
        graph = lineage_graph(version=version, user=self.request.user)
        return super().get_context_data(**kwargs) | {
            "version": version,
            "graph": graph,
            "svg": render_lineage_svg(graph, focus=f"dataset_version:{version.pk}"),
            # The interactive graph's click-through targets, from the same hooks as the SVG's links.
            "node_urls": {n["key"]: hooks.node_url(n["type"], n["id"]) for n in graph["nodes"]},
        }


class TransformPage(CapabilityRequiredMixin, View):
    required_capability = "catalog.write"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(dataset_version_list(), pk=pk)
        operation = request.POST.get("operation", "")
        if operation not in transforms.PARAMS:
            messages.error(request, f"Unknown operation {operation[:50]!r}.")
            return redirect("dataset-version", pk=version.pk)
        form = operation_form(operation, version.column_names, request.POST)
        if form.is_valid():
            try:
                job = transform_start(
                    actor=request.user, version=version, operation=operation, params=params_from(form)
                )
                return redirect("job", pk=job.pk)
            except ServiceError as exc:
                messages.error(request, f"{operation}: {exc.message}")
        else:
            messages.error(request, f"{operation}: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("dataset-version", pk=version.pk)
