"""The privacy section of the Django admin: scans, findings, remembered decisions, masking policies and
custom recognizers.

Records that must stay as they were written are read-only here: a scan and its columns, the
remembered column decisions, the masking policies (as recorded with their masked versions). A
finding's decision is changed only through the review service (admin actions below), so the audit
log, the remembered decision and the version's PII status move with it. Evidence is what the scan
stored: masked snippets, entity shares and the reasons of the verdict, never a raw value.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from core.audit import audit_log
from core.errors import ServiceError
from governance.privacy.models import CustomRecognizer, MaskingPolicy, PiiColumnDecision, PiiFinding, PiiScan
from governance.privacy.services import custom_recognizer_delete, pii_finding_decide


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows records, never adds or edits them."""

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class FindingInline(admin.TabularInline):
    model = PiiFinding
    fields = ["column", "entity_type", "kind", "share", "score", "decision", "decided_by", "decided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(PiiScan)
class PiiScanAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "scan_status", "trigger", "flagged", "sample_rows", "created_by", "created_at"]
    list_filter = ["trigger", "job__status", "created_at"]
    search_fields = ["version__dataset__name", "findings__column"]
    list_select_related = ["version__dataset", "job", "created_by"]
    fields = ["version", "job", "scan_status", "trigger", "sample_rows", "created_by", "created_at", "column_table"]
    readonly_fields = fields
    inlines = [FindingInline]

    @admin.display(description="status")
    def scan_status(self, obj: PiiScan) -> str:
        return obj.status

    @admin.display(description="flagged columns")
    def flagged(self, obj: PiiScan) -> int:
        return sum(1 for c in obj.columns if c.get("entity_type"))

    @admin.display(description="columns")
    def column_table(self, obj: PiiScan) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    c.get("name"),
                    c.get("dtype"),
                    c.get("entity_type") or (f"skipped: {c['skipped']}" if c.get("skipped") else "clean"),
                    c.get("kind") or "",
                    f"{c.get('share', 0):.2f}" if c.get("entity_type") else "",
                    "; ".join(c.get("reasons") or []),
                    " | ".join(c.get("snippets") or []),
                )
                for c in obj.columns
            ),
        )
        return format_html(
            "<table><thead><tr><th>column</th><th>type</th><th>entity</th><th>kind</th><th>share</th>"
            "<th>why</th><th>evidence (masked)</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


@admin.register(PiiFinding)
class PiiFindingAdmin(admin.ModelAdmin):
    list_display = ["id", "version", "column", "entity_type", "kind", "share", "decision", "decided_by", "decided_at"]
    list_filter = ["decision", "entity_type", "kind", "decided_at"]
    search_fields = ["column", "entity_type", "version__dataset__name", "decided_by__username"]
    list_select_related = ["version__dataset", "decided_by"]
    fields = [
        "scan",
        "version",
        "column",
        "entity_type",
        "kind",
        "share",
        "score",
        "recognizers",
        "why",
        "masked_evidence",
        "decision",
        "decision_note",
        "decided_by",
        "decided_at",
    ]
    readonly_fields = fields
    actions = ["accept", "reject"]

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="why")
    def why(self, obj: PiiFinding) -> str:
        return format_html_join("", "<div>{}</div>", ((r,) for r in obj.evidence.get("reasons", [])))

    @admin.display(description="evidence (masked)")
    def masked_evidence(self, obj: PiiFinding) -> str:
        entities = format_html_join(
            "",
            "<div>{}: share {}, score {}</div>",
            ((e["entity_type"], e["share"], e["score"]) for e in obj.evidence.get("entities", [])),
        )
        snippets = format_html_join("", "<div><code>{}</code></div>", ((s,) for s in obj.evidence.get("snippets", [])))
        return format_html("{}{}", entities, snippets)

    def _decide(self, request: Any, queryset: Any, decision: str) -> None:
        done = 0
        for finding in queryset:
            try:
                pii_finding_decide(finding=finding, actor=request.user, decision=decision)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"{finding}: {exc}", level=messages.ERROR)
        if done:
            self.message_user(request, f"{done} finding(s) {decision}")

    @admin.action(description="Accept: it is PII (mask before training)")
    def accept(self, request: Any, queryset: Any) -> None:
        self._decide(request, queryset, PiiFinding.Decision.ACCEPTED)

    @admin.action(description="Reject: not PII (remembered for the column)")
    def reject(self, request: Any, queryset: Any) -> None:
        self._decide(request, queryset, PiiFinding.Decision.REJECTED)


@admin.register(PiiColumnDecision)
class PiiColumnDecisionAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "column", "decision", "entity_type", "decided_by", "decided_at"]
    list_filter = ["decision", "entity_type", "decided_at"]
    search_fields = ["dataset__name", "column", "decided_by__username"]
    list_select_related = ["dataset", "decided_by"]


@admin.register(MaskingPolicy)
class MaskingPolicyAdmin(ReadOnlyAdmin):
    """Policies as the masking service recorded them (operators and params, never a key or salt)."""

    list_display = ["name", "dataset", "operators", "updated_by", "updated_at"]
    list_filter = ["updated_at", "dataset"]
    search_fields = ["name", "dataset__name"]
    list_select_related = ["dataset", "updated_by"]

    @admin.display(description="columns")
    def operators(self, obj: MaskingPolicy) -> str:
        columns = (obj.policy or {}).get("columns") or {}
        return ", ".join(f"{c}: {(r or {}).get('operator', '?')}" for c, r in sorted(columns.items()))


@admin.register(CustomRecognizer)
class CustomRecognizerAdmin(admin.ModelAdmin):
    """A recognizer's spec is validated and written by the API; here it can be switched on or off, or deleted
    (through the service, audited)."""

    list_display = ["name", "dataset", "entity_type", "enabled", "created_by", "created_at"]
    list_filter = ["enabled", "created_at", "dataset"]
    search_fields = ["name", "dataset__name"]
    list_select_related = ["dataset", "created_by"]
    fields = ["dataset", "name", "spec", "enabled", "created_by", "created_at"]
    readonly_fields = ["dataset", "name", "spec", "created_by", "created_at"]

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="entity type")
    def entity_type(self, obj: CustomRecognizer) -> str:
        return str((obj.spec or {}).get("entity_type", ""))

    def save_model(self, request: Any, obj: CustomRecognizer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_log(
            actor=request.user,
            action="pii.recognizer.enable" if obj.enabled else "pii.recognizer.disable",
            obj=obj,
            summary={"dataset": obj.dataset_id, "name": obj.name, "via": "admin"},
        )

    def delete_model(self, request: Any, obj: CustomRecognizer) -> None:
        custom_recognizer_delete(recognizer=obj, actor=request.user)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for obj in queryset:
            custom_recognizer_delete(recognizer=obj, actor=request.user)
