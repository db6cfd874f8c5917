"""Pages: the review queue, the scan report with its chart, raw examples, the policy editor."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import SafeString
from django.views import View

from core import charts
from core.errors import ServiceError
from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from governance.catalog.models import DatasetVersion
from governance.privacy import services
from governance.privacy.masking import OPERATORS
from governance.privacy.models import PiiFinding
from governance.privacy.selectors import (
    finding_list,
    latest_scan,
    mask_preview,
    masking_policy_list,
    pii_gate_reasons,
    review_queue,
    scan_columns,
    scan_list,
    suggested_policy,
    unresolved_version_list,
    version_list,
)


def chart_svg(columns: list[dict[str, Any]]) -> SafeString:
    """A horizontal bar per column: share of sampled values holding its entity, coloured by decision."""
    colours = {"pending": charts.AMBER, "accepted": charts.RED, "rejected": charts.GREY, "masked": charts.GREEN}
    bars = []
    for c in columns:
        if c.get("skipped"):
            continue
        share = float(c.get("share") or 0) if c.get("entity_type") else 0.0
        entity = c.get("entity_type") or "clean"
        bars.append(
            charts.Bar(
                str(c["name"]),
                share,
                colours.get(c.get("decision"), charts.LIGHT_GREY),
                note=f"{entity} {share:.0%}",
                tip=f"{str(c['name'])[:28]}: {entity} in {share:.0%} of sampled values",
            )
        )
    return charts.hbar_chart(bars, title="share of sampled values with personal data per column")


class ReviewQueuePage(CapabilityRequiredMixin, View):
    required_capability = "pii.manage"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "privacy/queue.html",
            {
                "findings": review_queue()[:200],
                "scans": scan_list()[:20],
                "unresolved": unresolved_version_list()[:50],
            },
        )


class ScanReportPage(CapabilityRequiredMixin, View):
    required_capability = "catalog.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        scan = get_object_or_404(scan_list(), pk=pk)
        columns = scan_columns(scan)
        return render(
            request,
            "privacy/scan.html",
            {
                "scan": scan,
                "version": scan.version,
                "columns": columns,
                "chart": chart_svg(columns),
                "gate": pii_gate_reasons(scan.version),
                "decisions": PiiFinding.Decision,
            },
        )


class FindingDecidePage(CapabilityRequiredMixin, View):
    required_capability = "pii.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = get_object_or_404(finding_list(), pk=pk)
        try:
            services.pii_finding_decide(finding=finding, actor=request.user, decision=request.POST.get("decision", ""))
            messages.success(request, f"{finding.column}: {request.POST.get('decision')}")
        except ServiceError as exc:
            messages.error(request, exc.message)
        target = request.POST.get("next", "")
        if target.startswith("/") and not target.startswith("//"):
            return redirect(target)
        return redirect("pii-scan", pk=finding.scan_id)


class FindingRawPage(CapabilityRequiredMixin, View):
    required_capability = "pii.manage"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding = get_object_or_404(finding_list(), pk=pk)
        examples = services.pii_finding_raw_examples(finding=finding, actor=request.user)
        return render(request, "privacy/raw.html", {"finding": finding, "examples": examples})


class VersionPiiPage(CapabilityRequiredMixin, View):
    """The version's latest scan (or an offer to scan it)."""

    required_capability = "catalog.read"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(version_list(), pk=pk)
        scan = latest_scan(version)
        if scan is not None:
            return redirect("pii-scan", pk=scan.pk)
        return render(
            request, "privacy/not_scanned.html", {"version": version, "scans": scan_list(version=version)[:5]}
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not has_capability(request.user, "catalog.write"):
            return HttpResponse("Your role may not start scans.", status=403)
        version = get_object_or_404(version_list(), pk=pk)
        scan = services.pii_scan_start(version=version, actor=request.user)
        return redirect("job", pk=scan.job_id)


class PolicyEditorPage(CapabilityRequiredMixin, View):
    required_capability = "pii.manage"

    def _context(self, version: DatasetVersion, policy: dict[str, Any]) -> dict[str, Any]:
        scan = latest_scan(version)
        flagged = {c["name"]: c for c in (scan_columns(scan) if scan else [])}
        rows = []
        for name in version.column_names:
            rule = policy.get("columns", {}).get(name) or {}
            info = flagged.get(name, {})
            rows.append(
                {
                    "name": name,
                    "entity_type": info.get("entity_type"),
                    "kind": info.get("kind"),
                    "decision": info.get("decision"),
                    "operator": rule.get("operator", ""),
                    "params": json.dumps({k: v for k, v in (rule.get("params") or {}).items() if k != "scope"})
                    if rule
                    else "{}",
                }
            )
        return {
            "version": version,
            "rows": rows,
            "operators": OPERATORS,
            "scan": scan,
            "saved": masking_policy_list(dataset=version.dataset),
        }

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(version_list(), pk=pk)
        return render(request, "privacy/policy.html", self._context(version, suggested_policy(version)))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = get_object_or_404(version_list(), pk=pk)
        policy: dict[str, Any] = {"columns": {}}
        error = None
        for name in version.column_names:
            operator = request.POST.get(f"op:{name}", "")
            if not operator:
                continue
            raw = request.POST.get(f"params:{name}", "") or "{}"
            try:
                params = json.loads(raw)
            except json.JSONDecodeError:
                error = f"params of {name!r} are not valid JSON"
                params = {}
            policy["columns"][name] = {"operator": operator, "params": params}
        context = self._context(version, policy)
        if error is None and not policy["columns"]:
            error = "choose an operator for at least one column"
        if error is None:
            try:
                if request.POST.get("action") == "run":
                    job = services.mask_start(
                        version=version,
                        actor=request.user,
                        policy=policy,
                        save_as=request.POST.get("save_as") or "default",
                    )
                    return redirect("job", pk=job.pk)
                columns, before, after = mask_preview(version=version, policy=policy)
                context.update(
                    {
                        "preview_columns": columns,
                        "before": before,
                        "after": after,
                        "after_columns": list(after[0].keys()) if after else [],
                    }
                )
            except ServiceError as exc:
                error = exc.message
        context["error"] = error
        return render(request, "privacy/policy.html", context, status=400 if error else 200)
