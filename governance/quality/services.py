"""Writes of the quality app: rules (validated against the dataset's latest version, nothing stored on bad input),
checks as jobs, reports and the version's quality_status, suggestions and a steward's decision on them."""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from core.audit import audit_log, user_or_none
from core.errors import ServiceError
from core.jobs import Reporter, job_start
from core.models import Job
from core.roles import has_capability
from core.storage import local_path
from governance.catalog import hooks
from governance.catalog.models import Dataset, DatasetVersion
from governance.quality import engine
from governance.quality.models import QualityReport, QualityRule
from governance.quality.selectors import active_rules, previous_version
from governance.quality.suggest import suggest_rules

Rule = QualityRule


def _latest(dataset: Dataset) -> DatasetVersion:
    latest = dataset.versions.order_by("-number").first()
    if latest is None:
        raise ServiceError(
            f"Dataset {dataset.name!r} has no version yet: upload one so that rule columns can be checked.",
            field="dataset",
        )
    return latest


def _check_reference(*, actor: Any, params: dict[str, Any]) -> None:
    """A references rule may only point at a version the writer may read, and at a column of it they may see."""
    target = DatasetVersion.objects.select_related("dataset").filter(pk=params["dataset_version"]).first()
    if target is None:
        raise ServiceError(f"Dataset version {params['dataset_version']} does not exist.", field="params")
    if not has_capability(actor, "catalog.read"):
        raise ServiceError(
            f"You may not read dataset version {target.pk} ({target}), so a rule may not reference it.",
            field="params",
        )
    if params["column"] not in target.column_names:
        raise ServiceError(
            f"Column {params['column']!r} is not in {target} (it has {', '.join(target.column_names)}).",
            field="params",
        )
    if params["column"] in hooks.columns_hidden_from(target, actor):
        raise ServiceError(
            f"Column {params['column']!r} of {target} is personal data you may not read, so a rule may not "
            "reference it.",
            field="params",
        )


def _validated(
    *, actor: Any, dataset: Dataset, kind: str, columns: list[str], params: dict[str, Any]
) -> dict[str, Any]:
    latest = _latest(dataset)
    dtypes = {c["name"]: str(c.get("dtype", "")) for c in latest.columns}
    try:
        clean = engine.normalize(kind, list(columns), dict(params or {}), dtypes)
    except engine.RuleError as exc:
        raise ServiceError(str(exc), field=exc.field) from None
    if kind == Rule.Kind.REFERENCES:
        _check_reference(actor=actor, params=clean)
    return clean


def _severity(severity: str) -> str:
    if severity not in Rule.Severity.values:
        raise ServiceError(f"`severity` must be one of {', '.join(Rule.Severity.values)}.", field="severity")
    return severity


def _summary(rule: QualityRule) -> dict[str, Any]:
    # Parameters may hold values of the data (allowed values, bounds); the audit row names the rule only.
    return {"dataset": rule.dataset_id, "kind": rule.kind, "columns": rule.columns, "severity": rule.severity}


def quality_rule_create(
    *,
    actor: Any,
    dataset: Dataset,
    kind: str,
    columns: list[str] | None = None,
    params: dict[str, Any] | None = None,
    severity: str = Rule.Severity.BLOCKING,
    status: str = Rule.Status.ACTIVE,
    suggested_from: DatasetVersion | None = None,
    check: bool = True,
) -> QualityRule:
    """A rule for every version of `dataset`; an active one checks the latest version at once."""
    columns = list(columns or [])
    clean = _validated(actor=actor, dataset=dataset, kind=kind, columns=columns, params=params or {})
    if status not in Rule.Status.values:
        raise ServiceError(f"`status` must be one of {', '.join(Rule.Status.values)}.", field="status")
    with transaction.atomic():
        rule = QualityRule.objects.create(
            dataset=dataset,
            kind=kind,
            columns=columns,
            params=clean,
            severity=_severity(severity),
            status=status,
            suggested_from=suggested_from,
            created_by=user_or_none(actor),
        )
        audit_log(actor=actor, action="quality_rule.create", obj=rule, summary=_summary(rule) | {"status": status})
        if check and status == Rule.Status.ACTIVE:
            quality_check_start(version=_latest(dataset), actor=actor, trigger="rule")
    return rule


def quality_rule_update(*, actor: Any, rule: QualityRule, **changes: Any) -> QualityRule:
    """Change columns, params, severity or status (accept a suggestion: `active`; reject it: `rejected`). The rule
    is checked again as a whole; when it ends up active, the latest version is checked at once."""
    unknown = set(changes) - {"columns", "params", "severity", "status"}
    if unknown:
        raise ServiceError(f"Cannot change {', '.join(sorted(unknown))} of a rule.")
    columns = list(changes.get("columns", rule.columns))
    params = changes.get("params", rule.params)
    clean = _validated(actor=actor, dataset=rule.dataset, kind=rule.kind, columns=columns, params=params)
    status = changes.get("status", rule.status)
    if status not in Rule.Status.values:
        raise ServiceError(f"`status` must be one of {', '.join(Rule.Status.values)}.", field="status")
    severity = _severity(changes.get("severity", rule.severity))
    was_active = rule.status == Rule.Status.ACTIVE
    with transaction.atomic():
        rule.columns, rule.params, rule.severity, rule.status = columns, clean, severity, status
        rule.save(update_fields=["columns", "params", "severity", "status", "updated_at"])
        audit_log(actor=actor, action="quality_rule.update", obj=rule, summary=_summary(rule) | {"status": status})
        if status == Rule.Status.ACTIVE or was_active:
            quality_check_start(version=_latest(rule.dataset), actor=actor, trigger="rule")
    return rule


def quality_rule_delete(*, actor: Any, rule: QualityRule) -> None:
    """Delete a rule; when it was active the latest version is checked again without it."""
    with transaction.atomic():
        audit_log(actor=actor, action="quality_rule.delete", obj=rule, summary=_summary(rule))
        was_active = rule.status == Rule.Status.ACTIVE
        dataset = rule.dataset
        rule.delete()
        latest = dataset.versions.order_by("-number").first()
        if was_active and latest is not None:
            quality_check_start(version=latest, actor=actor, trigger="rule")


def quality_check_start(*, version: DatasetVersion, actor: Any, trigger: str = "manual") -> Job:
    if version.profile_status == DatasetVersion.ProfileStatus.FAILED:
        raise ServiceError(f"{version} could not be profiled, so it cannot be checked.")
    return job_start(
        kind="quality_check",
        task="quality.check",
        actor=actor,
        subject_type="dataset_version",
        subject_id=version.pk,
        params={"dataset_version": version.pk, "trigger": trigger},
        message="waiting for a worker to check quality rules",
    )


def _spec(rule: QualityRule) -> engine.RuleSpec:
    return engine.RuleSpec(
        id=rule.pk, name=rule.name, kind=rule.kind, severity=rule.severity, columns=rule.columns, params=rule.params
    )


def quality_check_run(*, job: Job, reporter: Reporter) -> dict[str, Any]:
    """The check job's body: evaluate the active rules over the version's Parquet copy, store the report and set
    the version's quality_status, in one transaction."""
    version = DatasetVersion.objects.select_related("dataset").filter(pk=job.params["dataset_version"]).first()
    if version is None:
        raise ServiceError(f"Dataset version {job.params['dataset_version']} no longer exists.")
    rules = list(active_rules(version.dataset))
    previous = previous_version(version)
    targets = {
        r.params["dataset_version"]: DatasetVersion.objects.filter(pk=r.params["dataset_version"]).first()
        for r in rules
        if r.kind == Rule.Kind.REFERENCES
    }
    reporter.progress(0.05, f"checking {len(rules)} rule(s)")
    with contextlib.ExitStack() as stack:
        path = stack.enter_context(local_path(version.parquet))
        needs_previous = any(r.kind == Rule.Kind.DISTRIBUTION_SHIFT for r in rules)
        ctx = engine.Context(
            version_time=version.created_at,
            previous_path=stack.enter_context(local_path(previous.parquet)) if previous and needs_previous else None,
            reference_paths={
                pk: stack.enter_context(local_path(target.parquet)) for pk, target in targets.items() if target
            },
            batch_rows=settings.STEWARD_QUALITY_BATCH_ROWS,
        )

        def progress(fraction: float, message: str) -> None:
            reporter.check_cancelled()
            reporter.progress(0.05 + fraction, message)

        results = engine.evaluate(path, [_spec(r) for r in rules], ctx, progress=progress)
    status = engine.overall_status(results)
    with transaction.atomic():
        report = QualityReport.objects.create(
            version=version,
            job=job,
            status=status,
            rules=results,
            row_count=version.row_count,
            trigger=job.params.get("trigger", "manual"),
        )
        DatasetVersion.objects.filter(pk=version.pk).update(quality_status=status)
        audit_log(
            actor=job.actor,
            action="quality_check.finish",
            obj=report,
            summary={
                "dataset_version": version.pk,
                "status": status,
                "failing": [r["name"] for r in results if not r["passed"]],
            },
        )
    failing = sum(1 for r in results if not r["passed"])
    # `checked_version`, not `dataset_version`: a check produces a report, not a new version.
    return {"checked_version": version.pk, "quality_report": report.pk, "status": status, "failing_rules": failing}


def quality_suggestions_create(*, actor: Any, version: DatasetVersion) -> list[QualityRule]:
    """Suggested rules from `version`'s profile. A rule already there (active, suggested or rejected: the steward's
    rejection is remembered) for the same kind and columns is not suggested again."""
    if version.profile_status != DatasetVersion.ProfileStatus.DONE:
        raise ServiceError(f"{version} is not profiled yet; suggestions come from its profile.")
    known = {(r.kind, tuple(r.columns)) for r in version.dataset.quality_rules.all()}
    pii = hooks.columns_hidden_from(version, AnonymousUser())  # flagged for anyone without pii.manage
    with local_path(version.parquet) as path:
        suggestions = suggest_rules(
            profile=version.columns,
            path=path,
            row_count=version.row_count,
            pii_columns=pii,
            version_time=version.created_at,
        )
    created: list[QualityRule] = []
    with transaction.atomic():
        for s in suggestions:
            if s.key() in known:
                continue
            known.add(s.key())
            created.append(
                quality_rule_create(
                    actor=actor,
                    dataset=version.dataset,
                    kind=s.kind,
                    columns=s.columns,
                    params=s.params,
                    severity=s.severity,
                    status=Rule.Status.SUGGESTED,
                    suggested_from=version,
                )
            )
        audit_log(
            actor=actor, action="quality_rule.suggest", obj=version, summary={"suggested": [r.pk for r in created]}
        )
    return created


def quality_suggestion_decide(*, actor: Any, rule: QualityRule, accept: bool) -> QualityRule:
    if rule.status != Rule.Status.SUGGESTED:
        raise ServiceError(f"Rule {rule.pk} is {rule.status}, not a suggestion.", status_code=409, code="decided")
    return quality_rule_update(actor=actor, rule=rule, status=Rule.Status.ACTIVE if accept else Rule.Status.REJECTED)


__all__ = [
    "quality_check_run",
    "quality_check_start",
    "quality_rule_create",
    "quality_rule_delete",
    "quality_rule_update",
    "quality_suggestion_decide",
    "quality_suggestions_create",
]
