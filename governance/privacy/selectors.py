"""Reads of the privacy app, including the training gate."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.roles import has_capability
from governance.catalog.models import DatasetVersion
from governance.privacy.models import PiiFinding, PiiScan


def latest_scan(version: DatasetVersion) -> PiiScan | None:
    return version.pii_scans.filter(status=PiiScan.Status.SUCCEEDED).order_by("-created_at", "-id").first()


def pii_gate_reasons(dataset_version: DatasetVersion) -> list[str]:
    """Why a training job may not use this version; empty when its PII is resolved.

    A version never scanned, or whose scan is still running, counts as unresolved.
    """
    version = dataset_version
    running = version.pii_scans.filter(status__in=[PiiScan.Status.QUEUED, PiiScan.Status.RUNNING]).exists()
    scan = latest_scan(version)
    if scan is None:
        if running:
            return [f"{version} is being scanned for PII; wait for the scan to finish"]
        return [f"{version} has not been scanned for PII; start a scan and review its findings"]
    reasons = []
    if running:
        reasons.append(f"{version} is being rescanned for PII; wait for the scan to finish")
    for finding in scan.findings.order_by("column"):
        if finding.decision == PiiFinding.Decision.PENDING:
            reasons.append(f"column {finding.column!r}: {finding.entity_type} finding awaits a steward's review")
        elif finding.decision == PiiFinding.Decision.ACCEPTED:
            reasons.append(
                f"column {finding.column!r} holds {finding.entity_type} and is not masked; "
                "mask it to get a trainable version"
            )
    return reasons


def flagged_columns(version: DatasetVersion) -> set[str]:
    """Columns of the latest scan whose raw values count as personal data."""
    scan = latest_scan(version)
    if scan is None:
        return set()
    return set(
        scan.findings.exclude(decision__in=[PiiFinding.Decision.REJECTED, PiiFinding.Decision.MASKED]).values_list(
            "column", flat=True
        )
    )


def hidden_pii_columns(version: Any, user: Any) -> set[str]:
    """catalog hook: flagged columns are masked for every role without pii.manage."""
    if has_capability(user, "pii.manage"):
        return set()
    return flagged_columns(version)


def review_queue() -> QuerySet[PiiFinding]:
    """Pending findings of each version's latest scan, oldest first."""
    latest_ids = list(
        PiiScan.objects.filter(status=PiiScan.Status.SUCCEEDED)
        .order_by("version_id", "-created_at", "-id")
        .distinct()
        .values_list("version_id", "id")
    )
    seen: set[int] = set()
    scan_ids = []
    for version_id, scan_id in latest_ids:
        if version_id not in seen:
            seen.add(version_id)
            scan_ids.append(scan_id)
    return (
        PiiFinding.objects.filter(scan_id__in=scan_ids, decision=PiiFinding.Decision.PENDING)
        .select_related("version__dataset", "scan")
        .order_by("scan__created_at", "id")
    )


def scan_columns(scan: PiiScan) -> list[dict[str, Any]]:
    """The scan's columns in the API shape, with each flagged column's finding and decision."""
    findings = {f.column: f for f in scan.findings.all()}
    out = []
    for column in scan.columns:
        finding = findings.get(column["name"])
        out.append(
            {
                "name": column["name"],
                "dtype": column.get("dtype"),
                "entity_type": column.get("entity_type"),
                "share": column.get("share", 0.0),
                "score": column.get("score", 0.0),
                "kind": column.get("kind"),
                "recognizers": column.get("recognizers", []),
                "snippets": column.get("snippets", []),
                "skipped": column.get("skipped"),
                "entities": [
                    {k: e[k] for k in ("entity_type", "share", "score")} for e in column.get("entities", [])[:5]
                ],
                "finding": finding.pk if finding else None,
                "decision": finding.decision if finding else None,
            }
        )
    return out
