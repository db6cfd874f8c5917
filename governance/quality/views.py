"""Pages: a dataset's rules (add with a form per kind, edit, delete, suggestions to accept or reject) and a version's
quality report with pass / fail badges and a picture per column."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from core import charts
from core.errors import ServiceError
from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from core.selectors import job_list_for_subject
from governance.catalog.models import Dataset, DatasetVersion
from governance.catalog.selectors import dataset_list, dataset_version_list
from governance.quality import services
from governance.quality.forms import FORMS, RuleForm
from governance.quality.models import QualityRule
from governance.quality.selectors import (
    column_charts_data,
    latest_report,
    quality_gate_reasons,
    report_rules_shown_to,
    rules_of,
    rules_shown_to,
)


def _columns(dataset: Dataset) -> list[tuple[str, str]]:
    latest = dataset.latest_version()
    return [(c["name"], str(c.get("dtype", ""))) for c in latest.columns] if latest else []


def _form(kind: str, dataset: Dataset, data: Any = None, initial: dict[str, Any] | None = None) -> RuleForm:
    return FORMS[kind](data, initial=initial, columns=_columns(dataset), auto_id=f"id_{kind}_%s")


def _rules_page(
    request: HttpRequest, dataset: Dataset, bound: RuleForm | None = None, *, status: int = 200
) -> HttpResponse:
    forms = [bound if bound is not None and bound.kind == kind else _form(kind, dataset) for kind in FORMS]
    rules = rules_shown_to(rules_of(dataset).order_by("id"), dataset=dataset, user=request.user)
    context = {
        "dataset": dataset,
        "latest": dataset.latest_version(),
        "active": [r for r in rules if r.status == QualityRule.Status.ACTIVE],
        "suggested": [r for r in rules if r.status == QualityRule.Status.SUGGESTED],
        "rejected": [r for r in rules if r.status == QualityRule.Status.REJECTED],
        "forms": forms,
        "open_kind": bound.kind if bound is not None else "",
    }
    return render(request, "quality/rules.html", context, status=status)


def _may(request: HttpRequest, capability: str) -> HttpResponse | None:
    if not has_capability(request.user, capability):
        return HttpResponse("Your role may not do this.", status=403)
    return None


def _save(request: HttpRequest, form: RuleForm, call: Any) -> bool:
    """Run the service with the form's rule; a ServiceError becomes the form's error."""
    if not form.is_valid():
        return False
    try:
        call(columns=form.rule_columns(), params=form.rule_params(), severity=form.cleaned_data["severity"])
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return False
    return True


class RulesPage(CapabilityRequiredMixin, View):
    required_capability = "quality.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _rules_page(request, get_object_or_404(dataset_list(), pk=pk))


class RuleAddPage(CapabilityRequiredMixin, View):
    required_capability = "quality.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        kind = request.POST.get("kind", "")
        if kind not in FORMS:
            messages.error(request, f"Unknown rule kind {kind!r}.")
            return redirect("quality-rules", pk=dataset.pk)
        form = _form(kind, dataset, request.POST)

        def create(**values: Any) -> None:
            services.quality_rule_create(actor=request.user, dataset=dataset, kind=kind, **values)

        if _save(request, form, create):
            messages.success(request, f"Added a {kind} rule; the latest version is being checked.")
            return redirect("quality-rules", pk=dataset.pk)
        return _rules_page(request, dataset, form, status=400)


class SuggestPage(CapabilityRequiredMixin, View):
    required_capability = "quality.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dataset = get_object_or_404(dataset_list(), pk=pk)
        latest = dataset.latest_version()
        if latest is None:
            messages.error(request, "Upload a version first: suggestions come from a version's profile.")
        else:
            try:
                made = services.quality_suggestions_create(actor=request.user, version=latest)
                messages.success(request, f"{len(made)} new suggestion(s) from version {latest.number}.")
            except ServiceError as exc:
                messages.error(request, exc.message)
        return redirect("quality-rules", pk=dataset.pk)


def _rule(pk: int) -> QualityRule:
    return get_object_or_404(QualityRule.objects.select_related("dataset"), pk=pk)


class RuleEditPage(CapabilityRequiredMixin, View):
    required_capability = "quality.manage"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = _rule(pk)
        form = _form(rule.kind, rule.dataset, initial=FORMS[rule.kind].initial_for(rule))
        return render(request, "quality/rule_edit.html", {"rule": rule, "form": form})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = _rule(pk)
        form = _form(rule.kind, rule.dataset, request.POST)

        def update(**values: Any) -> None:
            services.quality_rule_update(actor=request.user, rule=rule, **values)

        if _save(request, form, update):
            messages.success(request, f"Saved {rule.name}.")
            return redirect("quality-rules", pk=rule.dataset_id)
        rule.refresh_from_db()
        return render(request, "quality/rule_edit.html", {"rule": rule, "form": form}, status=400)


class RuleDecidePage(CapabilityRequiredMixin, View):
    """Accept or reject a suggestion, or delete a rule."""

    required_capability = "quality.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = _rule(pk)
        action = request.POST.get("action")
        try:
            if action in ("accept", "reject"):
                services.quality_suggestion_decide(actor=request.user, rule=rule, accept=action == "accept")
                messages.success(request, f"{'Accepted' if action == 'accept' else 'Rejected'} {rule.name}.")
            elif action == "delete":
                services.quality_rule_delete(actor=request.user, rule=rule)
                messages.success(request, f"Deleted {rule.name}.")
            else:
                messages.error(request, "Choose accept, reject or delete.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("quality-rules", pk=rule.dataset_id)


def _chart(column: dict[str, Any]) -> Any:
    if column["kind"] == "histogram":
        return charts.bar_chart(
            column["bins"], [("rows", column["counts"])], title=f"Histogram of {column['name']}", y_label="rows"
        )
    if column["kind"] == "top_values":
        top = max(column["counts"] or [1])
        bars = [
            charts.Bar(label=v, value=c, note=str(c)) for v, c in zip(column["values"], column["counts"], strict=True)
        ]
        return charts.hbar_chart(bars, title=f"Top values of {column['name']}", max_value=top)
    return None


class ReportPage(CapabilityRequiredMixin, View):
    required_capability = "quality.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version: DatasetVersion = get_object_or_404(dataset_version_list(), pk=pk)
        report = latest_report(version)
        if report is not None:
            report.rules = report_rules_shown_to(report, user=request.user)
        columns = column_charts_data(version=version, user=request.user)
        context = {
            "version": version,
            "report": report,
            "gate": quality_gate_reasons(version),
            "columns": [c | {"chart": _chart(c)} for c in columns],
            "jobs": job_list_for_subject(subject_type="dataset_version", subject_id=version.pk).filter(
                kind="quality_check"
            )[:5],
            "active_count": rules_of(version.dataset, status=QualityRule.Status.ACTIVE).count(),
        }
        return render(request, "quality/report.html", context)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if (refused := _may(request, "quality.check")) is not None:
            return refused
        version = get_object_or_404(dataset_version_list(), pk=pk)
        try:
            job = services.quality_check_start(version=version, actor=request.user)
            return redirect("job", pk=job.pk)
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("version-quality", pk=version.pk)
