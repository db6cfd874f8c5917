"""Writes of the labeling app: projects, tasks (as jobs), leases, annotations, review, gold, webhooks, export.

Every write runs in a transaction with its audit row. Labels and row positions are recorded; row values never are
(they are read from the version when a task is served, masked for the reader).

Concurrency: `next` takes a slot of a task with a conditional UPDATE (`slots_taken < overlap`), so two annotators
never both take the last slot; a submission locks its task row, and the database's unique constraint on
(task, annotator) refuses a second annotation whatever the API does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import math
import secrets
from collections import Counter
from typing import Any

import numpy as np
from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django.utils.html import strip_tags

from core.audit import audit_log, user_or_none
from core.errors import NotFound, ServiceError
from core.jobs import Reporter, job_start
from core.models import Job
from core.roles import has_capability
from governance.catalog.models import DatasetVersion
from governance.labeling import hooks, prelabels
from governance.labeling.models import (
    Annotation,
    Assignment,
    Project,
    Task,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from governance.labeling.rows import row_for, rows_table

log = logging.getLogger(__name__)

T = Project.Template
DEFAULT_LABELS: dict[str, list[dict[str, str]]] = {
    T.RELEVANCE: [
        {"name": "not_relevant", "description": "the item does not match what the query asks for"},
        {"name": "relevant", "description": "the item matches what the query asks for"},
    ],
    T.GRADED_RELEVANCE: [
        {"name": "irrelevant", "description": "0: nothing to do with the query"},
        {"name": "marginal", "description": "1: related, but not what was asked for"},
        {"name": "relevant", "description": "2: a good answer to the query"},
        {"name": "perfect", "description": "3: exactly what was asked for"},
    ],
}
LABEL_COUNT = {T.RELEVANCE: 2, T.GRADED_RELEVANCE: 4}
MAX_LABELS = 20
MAX_OVERLAP = 10
MAX_TASKS_PER_JOB = 200_000
STRATEGIES = ("random", "stratified", "uncertainty")
MEASURES = ("entropy", "margin")
TASK_BATCH = 2_000


# ---------------------------------------------------------------------------------------------
# Projects
# ---------------------------------------------------------------------------------------------


def _labels(template: str, labels: Any) -> list[dict[str, str]]:
    if labels in (None, []) and template in DEFAULT_LABELS:
        return [dict(label) for label in DEFAULT_LABELS[template]]
    if not isinstance(labels, list) or not labels:
        raise ServiceError("`labels` must be a non-empty list of label names.", field="labels")
    out: list[dict[str, str]] = []
    for item in labels:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ServiceError("Each label must be a name or {name, description}.", field="labels")
        name = item["name"].strip()
        description = item.get("description") or ""
        if not name or len(name) > 100 or not isinstance(description, str) or len(description) > 500:
            raise ServiceError("Label names must be 1-100 characters (descriptions at most 500).", field="labels")
        out.append({"name": name, "description": description.strip()})
    names = [label["name"] for label in out]
    if len(set(names)) != len(names):
        raise ServiceError("Label names must be unique.", field="labels")
    wanted = LABEL_COUNT.get(template)
    if wanted and len(out) != wanted:
        raise ServiceError(f"A {template} project has exactly {wanted} labels (in order).", field="labels")
    if not 2 <= len(out) <= MAX_LABELS:
        raise ServiceError(f"A project has 2 to {MAX_LABELS} labels.", field="labels")
    return out


def _columns(version: DatasetVersion, columns: Any, field: str) -> list[str]:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ServiceError(f"`{field}` must be a list of column names.", field=field)
    missing = [c for c in columns if c not in version.column_names]
    if missing:
        raise ServiceError(f"Column(s) {', '.join(repr(c) for c in missing)} do not exist in {version}.", field=field)
    return list(dict.fromkeys(columns))


def _string_columns(version: DatasetVersion, columns: list[str]) -> list[str]:
    return [
        c for c in columns if str((version.column(c) or {}).get("dtype", "")).startswith(("string", "large_string"))
    ]


def _check_model_version(model_version: Any) -> int | None:
    if model_version is None:
        return None
    if isinstance(model_version, bool) or not isinstance(model_version, int):
        raise ServiceError("`model_version` must be the id of a registered model version.", field="model_version")
    if hooks.model_version_label(model_version) is None:
        raise ServiceError(f"Model version {model_version} does not exist.", field="model_version")
    return model_version


def _check_rate(value: Any, field: str, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise ServiceError(f"`{field}` must be a number between 0 and {high}.", field=field)
    return float(value)


def project_create(
    *,
    actor: Any,
    name: str,
    dataset_version: DatasetVersion,
    template: str,
    labels: Any = None,
    display_columns: Any,
    text_columns: Any = None,
    overlap: int = 1,
    gold_rate: float = 0.0,
    review_threshold: float = 1.0,
    model_version: int | None = None,
    description: str = "",
    annotators: Any = None,
) -> Project:
    if not has_capability(actor, "catalog.read"):
        raise ServiceError(
            f"You may not read dataset version {dataset_version.pk}, so you may not label it.",
            field="dataset_version",
            status_code=403,
            code="permission_denied",
        )
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ServiceError("Project name must be 1-200 characters.", field="name")
    if template not in T.values:
        raise ServiceError(f"Unknown template {template!r}: use one of {', '.join(T.values)}.", field="template")
    clean_labels = _labels(template, labels)
    display = _columns(dataset_version, display_columns, "display_columns")
    if not display:
        raise ServiceError("Choose at least one column for annotators to see.", field="display_columns")
    text = _columns(dataset_version, text_columns, "text_columns") if text_columns else []
    if not text and template in (T.CATEGORY, T.TAGS):
        text = _string_columns(dataset_version, display)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 1 <= overlap <= MAX_OVERLAP:
        raise ServiceError(f"`overlap` must be an integer from 1 to {MAX_OVERLAP}.", field="overlap")
    gold = _check_rate(gold_rate, "gold_rate", 0.5)
    threshold = _check_rate(review_threshold, "review_threshold", 1.0)
    model = _check_model_version(model_version)
    members = _annotator_users(annotators)
    with transaction.atomic():
        if Project.objects.filter(name=name).exists():
            raise ServiceError(
                f"A project named {name!r} already exists.", field="name", status_code=409, code="exists"
            )
        project = Project.objects.create(
            name=name,
            description=description or "",
            dataset_version=dataset_version,
            template=template,
            labels=clean_labels,
            display_columns=display,
            text_columns=text,
            overlap=overlap,
            gold_rate=gold,
            review_threshold=threshold,
            model_version=model,
            created_by=user_or_none(actor),
        )
        project.annotators.set(members)
        audit_log(
            actor=actor,
            action="labeling.project.create",
            obj=project,
            summary={
                "name": strip_tags(name),
                "dataset_version": dataset_version.pk,
                "template": template,
                "labels": [label["name"] for label in clean_labels],
                "overlap": overlap,
            },
        )
    return project


def _annotator_users(usernames: Any) -> list[Any]:
    """The users a project's annotator list names (by username): each must exist and may annotate."""
    if usernames is None:
        return []
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise ServiceError("`annotators` must be a list of usernames.", field="annotators")
    wanted = list(dict.fromkeys(u.strip() for u in usernames if u.strip()))
    found = {u.username: u for u in get_user_model().objects.filter(username__in=wanted)}
    unknown = [u for u in wanted if u not in found]
    if unknown:
        raise ServiceError(f"No user named {', '.join(map(repr, unknown[:10]))}.", field="annotators")
    cannot = [u for u in wanted if not has_capability(found[u], "labeling.annotate")]
    if cannot:
        raise ServiceError(
            f"{', '.join(map(repr, cannot[:10]))} may not annotate (their role lacks labeling.annotate).",
            field="annotators",
        )
    return [found[u] for u in wanted]


def with_annotator_check(queryset: QuerySet[Any], annotator: Any, project_field: str = "pk") -> QuerySet[Any]:
    """`queryset` (of projects, or of rows whose `project_field` names one) with what annotator_check needs, so
    the check costs no query of its own: whether the project has an annotator list, and whether it names
    `annotator`."""
    listed = Project.annotators.through.objects.filter(project_id=OuterRef(project_field))
    return queryset.annotate(
        annotators_listed=Exists(listed), annotator_on_list=Exists(listed.filter(user_id=annotator.pk))
    )


def annotator_check(project: Project, annotator: Any, *, checked: Any = None) -> None:
    """403 unless the project's annotator list is empty or names this user: one query, or none when `checked`
    (the project, or a row of it) was read through with_annotator_check for this annotator."""
    source = checked if checked is not None else project
    if hasattr(source, "annotator_on_list"):
        refused = source.annotators_listed and not source.annotator_on_list
    else:
        listed = Project.annotators.through.objects.filter(project_id=project.pk)
        allowed = set(listed.values_list("user_id", flat=True))
        refused = bool(allowed) and annotator.pk not in allowed
    if refused:
        raise ServiceError(
            f"You are not on the annotator list of project {project.name!r}.",
            status_code=403,
            code="not_on_project",
        )


def project_update(*, actor: Any, project: Project, **changes: Any) -> Project:
    """Settings that may change while annotators work: gold rate, review threshold, model version, annotators."""
    fields: dict[str, Any] = {}
    if "gold_rate" in changes:
        fields["gold_rate"] = _check_rate(changes["gold_rate"], "gold_rate", 0.5)
    if "review_threshold" in changes:
        fields["review_threshold"] = _check_rate(changes["review_threshold"], "review_threshold", 1.0)
    if "model_version" in changes:
        fields["model_version"] = _check_model_version(changes["model_version"])
    if "description" in changes:
        fields["description"] = str(changes["description"] or "")
    members = _annotator_users(changes["annotators"]) if "annotators" in changes else None
    with transaction.atomic():
        if fields:
            Project.objects.filter(pk=project.pk).update(**fields)
        summary: dict[str, Any] = {"changed": sorted([*fields, *(["annotators"] if members is not None else [])])}
        if members is not None:
            project.annotators.set(members)
            summary["annotators"] = sorted(u.username for u in members)
        audit_log(actor=actor, action="labeling.project.update", obj=project, summary=summary)
    project.refresh_from_db()
    return project


# ---------------------------------------------------------------------------------------------
# Tasks (a job: sampling, scoring and pre-labels take time)
# ---------------------------------------------------------------------------------------------


def tasks_create_start(*, actor: Any, project: Project, strategy: str, count: int, **options: Any) -> Job:
    if strategy not in STRATEGIES:
        raise ServiceError(f"Unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}.", field="strategy")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_TASKS_PER_JOB:
        raise ServiceError(f"`count` must be an integer from 1 to {MAX_TASKS_PER_JOB}.", field="count")
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ServiceError("`seed` must be a non-negative integer.", field="seed")
    params: dict[str, Any] = {"project": project.pk, "strategy": strategy, "count": count, "seed": seed}
    version = project.dataset_version
    if strategy == "stratified":
        column = options.get("column")
        if not isinstance(column, str) or column not in version.column_names:
            raise ServiceError("A stratified sample needs `column`, a column of the dataset version.", field="column")
        params["column"] = column
    if strategy == "uncertainty":
        model = options.get("model_version", project.model_version)
        if model is None:
            raise ServiceError(
                "Uncertainty sampling needs a model version (`model_version`, or the project's).", field="model_version"
            )
        params["model_version"] = _check_model_version(model)
        measure = options.get("measure", "entropy")
        if measure not in MEASURES:
            raise ServiceError(f"`measure` must be one of {', '.join(MEASURES)}.", field="measure")
        params["measure"] = measure
        pool = options.get("pool", 50_000)
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < count:
            raise ServiceError("`pool` (rows scored) must be an integer of at least `count`.", field="pool")
        params["pool"] = pool
    with transaction.atomic():
        job = job_start(
            kind="labeling_tasks",
            task="labeling.create_tasks",
            actor=actor,
            params=params,
            subject_type="labeling_project",
            subject_id=project.pk,
            message=f"{strategy} sample of {count} rows queued",
        )
        audit_log(actor=actor, action="labeling.tasks.start", obj=project, summary=params)
    return job


def _stratified(values: list[Any], candidates: np.ndarray, count: int, rng: np.random.Generator) -> list[int]:
    """Equal shares per stratum (so rare values are labeled too); strata with too few rows give their share to
    the others, round-robin."""
    strata: dict[str, list[int]] = {}
    for row in candidates.tolist():
        strata.setdefault(str(values[row]), []).append(row)
    pools = [list(rng.permutation(rows)) for _, rows in sorted(strata.items())]
    chosen: list[int] = []
    while len(chosen) < count and any(pools):
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(int(pool.pop()))
    return chosen


def _model_probabilities(project: Project, model_version: int, rows: list[int]) -> np.ndarray:
    table = rows_table(project.dataset_version, rows)
    probs = np.asarray(hooks.score_rows(model_version, table), dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != len(rows):
        raise ServiceError(
            f"Model version {model_version} returned scores of shape {probs.shape} for {len(rows)} rows."
        )
    return probs


def _suggestions(
    project: Project, rows: list[int], reporter: Reporter | None, model_probs: np.ndarray | None = None
) -> list[dict[str, Any] | None]:
    """Pre-labels: from the project's model version when its probabilities fit the labels, else (category and
    tags) from the base model's embeddings; None where neither applies."""
    names = project.label_names
    if not rows:
        return []
    if project.model_version is not None:
        probs = model_probs if model_probs is not None else _model_probabilities(project, project.model_version, rows)
        if probs.shape[1] == len(names):
            source = f"model_version:{project.model_version}"
            return [prelabels.suggestion(p, names, multi=project.multi, source=source) for p in probs]
    if project.template not in (T.CATEGORY, T.TAGS) or not project.text_columns:
        return [None] * len(rows)
    table = rows_table(project.dataset_version, rows, project.text_columns)
    columns = [table.column(c).to_pylist() for c in project.text_columns]
    texts = [" ".join(str(v) for v in values if v is not None) for values in zip(*columns, strict=True)]
    out: list[dict[str, Any] | None] = []
    for start in range(0, len(texts), 512):
        if reporter is not None:
            reporter.check_cancelled()
            reporter.progress(0.3 + 0.5 * start / len(texts), f"pre-labels {start}/{len(texts)}")
        probs = prelabels.similarity_probabilities(texts[start : start + 512], project.labels)
        out.extend(prelabels.suggestion(p, names, multi=project.multi, source="base_model") for p in probs)
    return out


def tasks_create_run(*, job: Job, reporter: Reporter) -> dict[str, Any]:
    """The task-creation job: choose rows that have no task yet, score and pre-label them, create the tasks."""
    p = job.params
    project = Project.objects.select_related("dataset_version").filter(pk=p["project"]).first()
    if project is None:
        return {"project": None, "created": 0}
    version = project.dataset_version
    taken = np.fromiter(Task.objects.filter(project=project).values_list("row", flat=True), dtype=np.int64)
    candidates = np.setdiff1d(np.arange(version.row_count, dtype=np.int64), taken, assume_unique=False)
    rng = np.random.default_rng(p["seed"])
    count = min(p["count"], len(candidates))
    reporter.progress(0.05, f"choosing {count} of {len(candidates)} rows")
    priorities: dict[int, float] = {}
    model_probs: np.ndarray | None = None
    if p["strategy"] == "random":
        rows = sorted(int(r) for r in rng.choice(candidates, size=count, replace=False))
    elif p["strategy"] == "stratified":
        values = rows_table(version, columns=[p["column"]]).column(0).to_pylist()
        rows = sorted(_stratified(values, candidates, count, rng))
    else:
        pool = rng.choice(candidates, size=min(p["pool"], len(candidates)), replace=False)
        pool = sorted(int(r) for r in pool)
        reporter.progress(0.1, f"scoring {len(pool)} rows with model version {p['model_version']}")
        probs = _model_probabilities(project, p["model_version"], pool)
        scores = prelabels.uncertainty(probs, p["measure"])
        order = np.argsort(-scores, kind="stable")[:count]
        rows = [pool[i] for i in order]
        priorities = {pool[i]: float(scores[i]) for i in order}
        if p["model_version"] == project.model_version:
            model_probs = probs[order]
    reporter.check_cancelled()
    suggestions = _suggestions(project, rows, reporter, model_probs)
    created = 0
    for start in range(0, len(rows), TASK_BATCH):
        reporter.check_cancelled()
        batch = [
            Task(
                project=project,
                row=row,
                strategy=p["strategy"],
                priority=priorities.get(row, 0.0),
                suggestion=suggestion,
            )
            for row, suggestion in zip(
                rows[start : start + TASK_BATCH], suggestions[start : start + TASK_BATCH], strict=True
            )
        ]
        with transaction.atomic():
            # A concurrent job may have taken some of these rows: the unique constraint keeps one task per row.
            before = Task.objects.filter(project=project).count()
            Task.objects.bulk_create(batch, ignore_conflicts=True)
            created += Task.objects.filter(project=project).count() - before
        reporter.progress(0.8 + 0.2 * (start + len(batch)) / max(1, len(rows)), f"created {created} tasks")
    with transaction.atomic():
        if created:
            Project.objects.filter(pk=project.pk).update(status=Project.Status.ACTIVE, completed_at=None)
        audit_log(
            actor=job.actor,
            action="labeling.tasks.create",
            obj=project,
            summary={"strategy": p["strategy"], "created": created, "job": job.pk},
        )
    return {"project": project.pk, "created": created, "strategy": p["strategy"]}


def gold_tasks_create(*, actor: Any, project: Project, items: Any) -> list[Task]:
    """Tasks with known answers; `next` mixes them in at the project's gold rate."""
    if not isinstance(items, list) or not items or len(items) > 10_000:
        raise ServiceError("`tasks` must be a list of 1 to 10,000 {row, label} objects.", field="tasks")
    rows: list[tuple[int, Any]] = []
    for item in items:
        row = item.get("row") if isinstance(item, dict) else None
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < project.dataset_version.row_count:
            raise ServiceError(
                f"Gold task row {row!r} is not a row position of {project.dataset_version} "
                f"(0..{project.dataset_version.row_count - 1}).",
                field="tasks",
            )
        rows.append((row, label_clean(project, item.get("label"))))
    with transaction.atomic():
        existing = set(Task.objects.filter(project=project, row__in=[r for r, _ in rows]).values_list("row", flat=True))
        if existing:
            raise ServiceError(
                f"Row(s) {sorted(existing)[:10]} already have a task in this project.", field="tasks", status_code=409
            )
        tasks = Task.objects.bulk_create(
            [
                Task(project=project, row=row, kind=Task.Kind.GOLD, strategy="gold", gold_label=label)
                for row, label in rows
            ]
        )
        audit_log(actor=actor, action="labeling.gold.create", obj=project, summary={"rows": [r for r, _ in rows][:100]})
    return tasks


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------


def label_clean(project: Project, label: Any) -> Any:
    """A label as stored: one name, or for tags a list of names in the project's label order."""
    names = project.label_names
    allowed = ", ".join(repr(n) for n in names)
    if project.multi:
        if not isinstance(label, list) or not all(isinstance(x, str) for x in label):
            raise ServiceError(f"A tags label is a list of label names ({allowed}).", field="label")
        unknown = [x for x in label if x not in names]
        if unknown:
            raise ServiceError(
                f"Label(s) {', '.join(map(repr, unknown))} are not in the project's set: {allowed}.", field="label"
            )
        return [n for n in names if n in set(label)]
    if not isinstance(label, str) or label not in names:
        shown = label if isinstance(label, (str, int, float)) else type(label).__name__
        raise ServiceError(f"Label {shown!r} is not in the project's set: {allowed}.", field="label")
    return label


def consensus(project: Project, labels: list[Any]) -> tuple[Any, float]:
    """(final label or None when there is no majority, share of annotations equal to it)."""
    if not labels:
        return None, 0.0
    n = len(labels)
    if project.multi:
        votes = Counter(name for label in labels for name in label)
        if any(2 * c == n for c in votes.values()):
            return None, 0.0  # a tag with a tied vote: a reviewer decides
        final = [name for name in project.label_names if 2 * votes[name] > n]
        return final, sum(1 for label in labels if label == final) / n
    counts = Counter(labels).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None, counts[0][1] / n
    return counts[0][0], counts[0][1] / n


# ---------------------------------------------------------------------------------------------
# Serving tasks: next, skip, undo
# ---------------------------------------------------------------------------------------------


def _lease_expiry(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.STEWARD_LABELING_LEASE_S)


def leases_expire(*, project: Project, now: dt.datetime | None = None) -> int:
    """Give the slots of expired leases back (each lease once, whoever gets here first)."""
    now = now or timezone.now()
    expired = list(
        Assignment.objects.filter(project=project, status=Assignment.Status.LEASED, expires_at__lt=now).values_list(
            "pk", "task_id"
        )
    )
    released = 0
    for pk, task_id in expired:
        with transaction.atomic():
            if Assignment.objects.filter(pk=pk, status=Assignment.Status.LEASED).update(
                status=Assignment.Status.EXPIRED
            ):
                Task.objects.filter(pk=task_id, slots_taken__gt=0, kind=Task.Kind.NORMAL).update(
                    slots_taken=F("slots_taken") - 1
                )
                released += 1
    return released


def _gold_due(project: Project, annotator: Any) -> Task | None:
    """A gold task this annotator has not seen, when it is their turn for one (every 1/gold_rate tasks)."""
    if project.gold_rate <= 0:
        return None
    done = Annotation.objects.filter(project=project, annotator=annotator).count()
    if math.floor((done + 1) * project.gold_rate) <= math.floor(done * project.gold_rate):
        return None
    # A gold task whose lease expired (or that an undo gave back) may come again; one answered or skipped may not.
    seen = Assignment.objects.filter(project=project, annotator=annotator).exclude(status=Assignment.Status.EXPIRED)
    return (
        Task.objects.filter(project=project, kind=Task.Kind.GOLD)
        .exclude(pk__in=seen.values("task_id"))
        .order_by("id")
        .first()
    )


def _lease(task: Task, annotator: Any, now: dt.datetime) -> Assignment:
    """Lease `task` to the annotator in one statement: a new assignment, or their own EXPIRED one taken again
    (INSERT ... ON CONFLICT (task, annotator) DO UPDATE ... WHERE the existing one expired).

    Any other assignment of theirs on the task (leased, submitted, skipped) is never overwritten: IntegrityError,
    as a plain insert would raise, so the caller's transaction and the slot it took roll back. (A claim whose
    snapshot predates the annotator's own parallel claim of the same task gets here on PostgreSQL.)"""
    expires = _lease_expiry(now)
    q = connection.ops.quote_name
    table = q(Assignment._meta.db_table)
    columns = ", ".join(map(q, ["task_id", "project_id", "annotator_id", "status", "leased_at", "expires_at"]))
    moved = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in ("status", "leased_at", "expires_at"))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT ({q('task_id')}, {q('annotator_id')}) DO UPDATE SET {moved} "
        f"WHERE {table}.{q('status')} = %s RETURNING {q('id')}"
    )
    adapt = connection.ops.adapt_datetimefield_value
    params = [task.pk, task.project_id, annotator.pk, Assignment.Status.LEASED, adapt(now), adapt(expires)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Assignment.Status.EXPIRED])
        found = cursor.fetchone()
    if found is None:
        raise IntegrityError(f"annotator {annotator.pk} already holds an assignment on task {task.pk}")
    return Assignment(
        pk=found[0],
        task_id=task.pk,
        project_id=task.project_id,
        annotator=annotator,
        status=Assignment.Status.LEASED,
        leased_at=now,
        expires_at=expires,
    )


# When each process last gave expired slots back, per project: a claim that finds nothing does it at once, and
# otherwise it runs at most this often, so `next` does not pay for it on every call.
EXPIRY_SWEEP_S = 30.0
_last_sweep: dict[int, float] = {}


def _sweep(project: Project, now: dt.datetime, *, force: bool = False) -> int:
    import time

    last = _last_sweep.get(project.pk, 0.0)
    if not force and time.monotonic() - last < EXPIRY_SWEEP_S:
        return 0
    _last_sweep[project.pk] = time.monotonic()
    return leases_expire(project=project, now=now)


def _take_slot(project: Project, annotator: Any) -> Task | None:
    """One statement: take a slot of the first open task (highest priority first) that this annotator has not
    had, and return it (UPDATE ... WHERE id = (SELECT ... LIMIT 1) ... RETURNING). On PostgreSQL the inner
    SELECT locks its row with SKIP LOCKED, so annotators asking at once take different tasks instead of queueing
    behind one another's commits; on SQLite the write transaction (BEGIN IMMEDIATE) serializes them. The outer
    conditions keep the overlap whatever the database does."""
    mine = Assignment.objects.filter(project=project, annotator=annotator).exclude(status=Assignment.Status.EXPIRED)
    candidate = (
        Task.objects.filter(
            project=project, kind=Task.Kind.NORMAL, status=Task.Status.OPEN, slots_taken__lt=project.overlap
        )
        .exclude(pk__in=mine.values("task_id"))
        .order_by("-priority", "id")
        .values("pk")[:1]
    )
    inner, inner_params = candidate.query.sql_with_params()
    if connection.features.has_select_for_update_skip_locked:
        inner += " FOR UPDATE SKIP LOCKED"
    q = connection.ops.quote_name
    table = q(Task._meta.db_table)
    sql = (
        f"UPDATE {table} SET {q('slots_taken')} = {q('slots_taken')} + 1 "
        f"WHERE {q('id')} = ({inner}) AND {q('status')} = %s AND {q('slots_taken')} < %s "
        f"RETURNING {q('id')}, {q('row')}, {q('suggestion')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*inner_params, Task.Status.OPEN, project.overlap])
        found = cursor.fetchone()
    if found is None:
        return None
    suggestion = Task._meta.get_field("suggestion").from_db_value(found[2], None, connection)
    return Task(pk=found[0], project_id=project.pk, row=found[1], suggestion=suggestion, kind=Task.Kind.NORMAL)


def _claim(project: Project, annotator: Any, now: dt.datetime) -> tuple[Task, Assignment] | None:
    """Take a slot of the first open task this annotator has not had (_take_slot) and lease it to them: two
    statements in one transaction."""
    import time

    open_tasks = Task.objects.filter(
        project=project, kind=Task.Kind.NORMAL, status=Task.Status.OPEN, slots_taken__lt=project.overlap
    ).exclude(
        pk__in=Assignment.objects.filter(project=project, annotator=annotator)
        .exclude(status=Assignment.Status.EXPIRED)
        .values("task_id")
    )
    swept = False
    for attempt in range(8):
        try:
            with transaction.atomic():
                task = _take_slot(project, annotator)
                if task is not None:
                    return task, _lease(task, annotator, now)
        except IntegrityError:  # the same annotator's parallel request leased it first: try again
            continue
        if open_tasks.exists():  # every free task was being claimed or submitted by someone else just now
            time.sleep(0.005 * (attempt + 1))
            continue
        if swept or not _sweep(project, now, force=True):
            return None
        swept = True
    return None


def task_next(*, project: Project, annotator: Any) -> dict[str, Any] | None:
    """The annotator's next task with its row as they may see it, leased to them; None when none is left."""
    annotator_check(project, annotator)
    now = timezone.now()
    assignment = (
        Assignment.objects.filter(
            project=project, annotator=annotator, status=Assignment.Status.LEASED, expires_at__gt=now
        )
        .select_related("task")
        .first()
    )
    if assignment is not None:
        task = assignment.task
    else:
        _sweep(project, now)
        gold = _gold_due(project, annotator)
        if gold is not None:
            try:
                with transaction.atomic():
                    task, assignment = gold, _lease(gold, annotator, now)
            except IntegrityError:  # their own parallel `next` leased it first: answer with that lease
                held = Assignment.objects.filter(
                    task=gold, annotator=annotator, status=Assignment.Status.LEASED, expires_at__gt=now
                ).first()
                if held is None:
                    raise ServiceError(
                        "Your next task changed meanwhile: ask again.", status_code=409, code="conflict"
                    ) from None
                task, assignment = gold, held
        else:
            claimed = _claim(project, annotator, now)
            if claimed is None:
                return None
            task, assignment = claimed
    return task_payload(project=project, task=task, user=annotator, assignment=assignment)


def task_payload(
    *, project: Project, task: Task, user: Any, assignment: Assignment | None = None, label: Any = None
) -> dict[str, Any]:
    data, masked = row_for(project.dataset_version, task.row, project.display_columns, user)
    suggestion = task.suggestion or None
    return {
        "id": task.pk,
        "row": task.row,
        "data": data,
        "masked_columns": masked,
        "template": project.template,
        "labels": project.labels,
        "suggestion": suggestion["label"] if suggestion else None,
        "suggestion_source": suggestion["source"] if suggestion else None,
        "lease_expires_at": assignment.expires_at.isoformat() if assignment else None,
        "label": label,
    }


def task_skip(*, task: Task, annotator: Any) -> None:
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().filter(task=task, annotator=annotator).first()
        if assignment is None:
            raise ServiceError(f"Task {task.pk} is not assigned to you.", status_code=403, code="not_assigned")
        if assignment.status == Assignment.Status.SUBMITTED:
            raise ServiceError(f"You already submitted task {task.pk}.", status_code=409, code="submitted")
        was_leased = assignment.status == Assignment.Status.LEASED
        Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.SKIPPED)
        if was_leased and task.kind == Task.Kind.NORMAL:
            Task.objects.filter(pk=task.pk, slots_taken__gt=0).update(slots_taken=F("slots_taken") - 1)
        audit_log(actor=annotator, action="labeling.task.skip", obj=task)


def _update_returning(model: Any, assignments: str, where: str, params: list[Any], returning: list[str]) -> Any:
    """UPDATE <model's table> SET <assignments> WHERE <where> RETURNING <columns>: the first row, or None (SQLite
    3.35+ and PostgreSQL both have RETURNING; the ORM's update() returns only a count)."""
    q = connection.ops.quote_name
    sql = f"UPDATE {q(model._meta.db_table)} SET {assignments} WHERE {where} RETURNING {', '.join(map(q, returning))}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _refuse_submission(task: Task, annotator: Any, now: dt.datetime) -> ServiceError:
    """Why the annotator's lease on `task` could not be turned into a submission."""
    assignment = Assignment.objects.filter(task=task, annotator=annotator).first()
    if assignment is None or assignment.status == Assignment.Status.SKIPPED:
        return ServiceError(
            f"Task {task.pk} is not assigned to you: ask for your next task.", status_code=403, code="not_assigned"
        )
    if assignment.status == Assignment.Status.SUBMITTED:
        return ServiceError(
            f"You already submitted task {task.pk}; undo it first to change the label.",
            status_code=409,
            code="duplicate",
        )
    return ServiceError(
        f"Your lease on task {task.pk} expired; ask for your next task.", status_code=409, code="expired"
    )


def annotation_submit(*, task: Task, annotator: Any, label: Any) -> Annotation:
    """Store the annotator's label for a task they hold: three statements in one transaction (the lease turned
    into a submission, conditionally; the annotation; the task's count, whose new value says whether the task is
    complete). `task` read through with_annotator_check saves the list's query."""
    project = task.project
    # a lease taken before the list changed does not let them submit
    annotator_check(project, annotator, checked=task)
    clean = label_clean(project, label)
    now = timezone.now()
    q = connection.ops.quote_name
    try:
        with transaction.atomic():
            if connection.features.has_select_for_update:
                # The task's row first, as undo and review take it: the same order everywhere, no deadlock.
                Task.objects.select_for_update().filter(pk=task.pk).values_list("pk").first()
            held = _update_returning(
                Assignment,
                f"{q('status')} = %s",
                f"{q('task_id')} = %s AND {q('annotator_id')} = %s AND {q('status')} = %s AND {q('expires_at')} > %s",
                [
                    Assignment.Status.SUBMITTED,
                    task.pk,
                    annotator.pk,
                    Assignment.Status.LEASED,
                    connection.ops.adapt_datetimefield_value(now),
                ],
                ["leased_at"],
            )
            if held is None:
                raise _refuse_submission(task, annotator, now)
            leased_at = Assignment._meta.get_field("leased_at").to_python(held[0])
            if timezone.is_naive(leased_at):
                leased_at = timezone.make_aware(leased_at, dt.UTC)
            suggested = (task.suggestion or {}).get("label")
            gold = task.kind == Task.Kind.GOLD
            annotation = Annotation.objects.create(
                task=task,
                project=project,
                annotator=annotator,
                label=clean,
                suggested=suggested,
                accepted_suggestion=suggested is not None and suggested == clean,
                is_gold=gold,
                gold_correct=(clean == task.gold_label) if gold else None,
                seconds=(now - leased_at).total_seconds(),
            )
            if not gold:
                count = _update_returning(
                    Task,
                    f"{q('annotation_count')} = {q('annotation_count')} + 1",
                    f"{q('id')} = %s",
                    [task.pk],
                    ["annotation_count"],
                )
                task.annotation_count = count[0]
                if task.annotation_count >= project.overlap:
                    _complete(project, task)
    except IntegrityError:
        # The unique constraint caught a concurrent second submission that the checks above could not see.
        raise ServiceError(f"You already submitted task {task.pk}.", status_code=409, code="duplicate") from None
    return annotation


def _complete(project: Project, task: Task) -> None:
    """All annotations are in: the majority decides, or the task goes to review."""
    labels = list(Annotation.objects.filter(task=task).order_by("id").values_list("label", flat=True))
    final, agreement = consensus(project, labels)
    if final is None or agreement < project.review_threshold:
        Task.objects.filter(pk=task.pk).update(status=Task.Status.REVIEW, agreement=agreement)
        status = Task.Status.REVIEW
    else:
        Task.objects.filter(pk=task.pk).update(
            status=Task.Status.DONE,
            final_label=final,
            final_source=Task.Source.MAJORITY,
            agreement=agreement,
            decided_at=timezone.now(),
        )
        status = Task.Status.DONE
    event_emit(
        project=project,
        event="task.completed",
        payload={"task": task.pk, "row": task.row, "status": status, "final_label": final, "agreement": agreement},
    )
    if status == Task.Status.DONE:
        _project_check_completed(project)


def _project_check_completed(project: Project) -> None:
    open_left = Task.objects.filter(project=project, kind=Task.Kind.NORMAL).exclude(status=Task.Status.DONE).exists()
    if open_left or not Task.objects.filter(project=project, kind=Task.Kind.NORMAL).exists():
        return
    if Project.objects.filter(pk=project.pk, status=Project.Status.ACTIVE).update(
        status=Project.Status.COMPLETED, completed_at=timezone.now()
    ):
        done = Task.objects.filter(project=project, kind=Task.Kind.NORMAL).count()
        event_emit(project=project, event="project.completed", payload={"tasks": done})


def annotation_undo(*, project: Project, annotator: Any) -> dict[str, Any]:
    """Take back one's own last annotation (before a reviewer decided the task); the task is leased again and
    comes back with the label that was given, so it can be changed."""
    last = Annotation.objects.filter(project=project, annotator=annotator).order_by("-id").first()
    if last is None:
        raise ServiceError("You have no annotation to undo in this project.", status_code=409, code="nothing")
    now = timezone.now()
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=last.task_id)
        if task.final_source == Task.Source.REVIEWER:
            raise ServiceError(
                f"Task {task.pk} was already reviewed; its label can no longer be undone.",
                status_code=409,
                code="reviewed",
            )
        # Any other task the annotator holds goes back to the pool: undo steps back, it does not take a second slot.
        for other in Assignment.objects.filter(project=project, annotator=annotator, status=Assignment.Status.LEASED):
            Assignment.objects.filter(pk=other.pk).update(status=Assignment.Status.EXPIRED)
            Task.objects.filter(pk=other.task_id, slots_taken__gt=0, kind=Task.Kind.NORMAL).update(
                slots_taken=F("slots_taken") - 1
            )
        label = last.label
        Annotation.objects.filter(pk=last.pk).delete()
        assignment = Assignment.objects.get(task=task, annotator=annotator)
        Assignment.objects.filter(pk=assignment.pk).update(
            status=Assignment.Status.LEASED, leased_at=now, expires_at=_lease_expiry(now)
        )
        if task.kind == Task.Kind.NORMAL:
            Task.objects.filter(pk=task.pk).update(
                annotation_count=F("annotation_count") - 1,
                status=Task.Status.OPEN,
                final_label=None,
                final_source="",
                agreement=None,
                decided_at=None,
            )
            Project.objects.filter(pk=project.pk, status=Project.Status.COMPLETED).update(
                status=Project.Status.ACTIVE, completed_at=None
            )
        audit_log(actor=annotator, action="labeling.annotation.undo", obj=task)
    task.refresh_from_db()
    assignment.refresh_from_db()
    return task_payload(project=project, task=task, user=annotator, assignment=assignment, label=label)


# ---------------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------------


def task_review(*, task: Task, reviewer: Any, label: Any, note: str = "") -> Task:
    """A reviewer's decision: the final label, recorded with who decided and how."""
    project = task.project
    clean = label_clean(project, label)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.kind != Task.Kind.NORMAL or locked.status == Task.Status.OPEN:
            raise ServiceError(
                f"Task {task.pk} is not ready for review: it still waits for annotations.", status_code=409, code="open"
            )
        labels = list(Annotation.objects.filter(task=locked).values_list("label", flat=True))
        agreement = sum(1 for x in labels if x == clean) / len(labels) if labels else None
        Task.objects.filter(pk=locked.pk).update(
            status=Task.Status.DONE,
            final_label=clean,
            final_source=Task.Source.REVIEWER,
            agreement=agreement,
            decided_by=user_or_none(reviewer),
            decided_at=timezone.now(),
            review_note=(note or "")[:500],
        )
        audit_log(
            actor=reviewer,
            action="labeling.task.review",
            obj=locked,
            summary={"label": clean, "previous": locked.final_label, "annotations": len(labels)},
        )
        _project_check_completed(project)
    locked.refresh_from_db()
    return locked


# ---------------------------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------------------------


def _send_on_commit(task: str, *args: Any) -> None:
    """Send a Celery task by name once the transaction commits (services never import tasks.py)."""

    def send() -> None:
        if task not in current_app.tasks:
            current_app.loader.import_default_modules()
        registered = current_app.tasks.get(task)
        if registered is not None:
            registered.apply_async(args=args)
        else:
            current_app.send_task(task, args=args)

    transaction.on_commit(send)


def webhook_set(*, actor: Any, project: Project, url: str, events: Any = None) -> tuple[Webhook, str]:
    """Create or replace the project's webhook with a new secret; the secret is returned this once."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from governance.labeling.egress import UnsafeURL, check_url

    events = list(Webhook.EVENTS) if events in (None, []) else events
    if not isinstance(events, list) or any(e not in Webhook.EVENTS for e in events):
        raise ServiceError(f"`events` must be a list of {', '.join(Webhook.EVENTS)}.", field="events")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ServiceError("`url` must be an http(s) URL.", field="url") from None
    try:
        check_url(url, allow_private=settings.STEWARD_WEBHOOK_ALLOW_PRIVATE)
    except UnsafeURL as exc:
        raise ServiceError(str(exc), field="url") from None
    secret = secrets.token_hex(32)
    with transaction.atomic():
        webhook, _ = Webhook.objects.update_or_create(
            project=project,
            defaults={
                "url": url,
                "secret": secret,
                "events": events,
                "active": True,
                "created_by": user_or_none(actor),
            },
        )
        audit_log(actor=actor, action="labeling.webhook.set", obj=project, summary={"url": url, "events": events})
    return webhook, secret


def webhook_delete(*, actor: Any, project: Project) -> None:
    with transaction.atomic():
        deleted, _ = Webhook.objects.filter(project=project).delete()
        if not deleted:
            raise NotFound(f"Project {project.pk} has no webhook.")
        audit_log(actor=actor, action="labeling.webhook.delete", obj=project)


def event_emit(*, project: Project, event: str, payload: dict[str, Any]) -> WebhookDelivery | None:
    """Record a delivery of `event` to the project's webhook (if it wants it) and send it after commit."""
    webhook = Webhook.objects.filter(project=project, active=True).first()
    if webhook is None or event not in webhook.events:
        return None
    body = json.dumps(
        {"event": event, "project": project.pk, "sent_at": timezone.now().isoformat(), "data": payload},
        sort_keys=True,
        default=str,
    )
    delivery = WebhookDelivery.objects.create(webhook=webhook, event=event, body=body)
    _send_on_commit("labeling.deliver_webhook", delivery.pk)
    return delivery


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DeliveryFailed(Exception):
    """One attempt failed; the task retries it later."""


def webhook_attempt(*, delivery_id: int, final: bool) -> bool:
    """POST the delivery's body once and log the attempt. True when delivered (2xx) or nothing is left to do;
    raises DeliveryFailed when the attempt failed (the delivery is marked failed if it was the last)."""
    import time

    from governance.labeling.egress import UnsafeURL, post

    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return True
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Steward-Webhook/1",
        "X-Steward-Event": delivery.event,
        "X-Steward-Delivery": str(delivery.pk),
        "X-Steward-Signature": signature(delivery.webhook.secret, body),
    }
    number = delivery.attempts + 1
    start = time.perf_counter()
    code: int | None = None
    error = ""
    try:
        # Resolved and checked again here (DNS may have changed since the URL was saved); redirects not followed.
        code = post(
            delivery.webhook.url,
            body,
            headers,
            timeout=settings.STEWARD_LABELING_WEBHOOK_TIMEOUT_S,
            allow_private=settings.STEWARD_WEBHOOK_ALLOW_PRIVATE,
        )
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except UnsafeURL as exc:
        error = f"refused: {exc}"[:500]
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, timed out, bad host, bad reply
        error = f"{type(exc).__name__}: {exc}"[:500]
    ok = code is not None and 200 <= code < 300
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=code,
            duration_ms=(time.perf_counter() - start) * 1000,
            error=error,
        )
        fields: dict[str, Any] = {"attempts": number}
        if ok or final:
            fields |= {
                "status": WebhookDelivery.Status.SUCCEEDED if ok else WebhookDelivery.Status.FAILED,
                "finished_at": timezone.now(),
            }
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    if not ok:
        raise DeliveryFailed(error or f"HTTP {code}")
    return True


# ---------------------------------------------------------------------------------------------
# Export (a job writing a labeled dataset version)
# ---------------------------------------------------------------------------------------------


def export_start(
    *,
    actor: Any,
    project: Project,
    label_column: str = "label",
    pseudo_labels: dict[str, Any] | None = None,
    output_dataset: str | None = None,
) -> Job:
    version = project.dataset_version
    if not isinstance(label_column, str) or not label_column.strip():
        raise ServiceError("`label_column` must be a column name.", field="label_column")
    added = [label_column, f"{label_column}_source", f"{label_column}_agreement", f"{label_column}_annotations"]
    if project.template in (T.RELEVANCE, T.GRADED_RELEVANCE):
        added.append(f"{label_column}_name")
    clash = [c for c in added if c in version.column_names]
    if clash:
        raise ServiceError(
            f"Column(s) {', '.join(clash)} already exist in {version}: choose another `label_column`.",
            field="label_column",
        )
    params: dict[str, Any] = {"project": project.pk, "label_column": label_column}
    if pseudo_labels:
        if not isinstance(pseudo_labels, dict):
            raise ServiceError("`pseudo_labels` must be {model_version?, min_confidence}.", field="pseudo_labels")
        if project.multi:
            raise ServiceError("Pseudo-labels are for single-label projects.", field="pseudo_labels")
        model = _check_model_version(pseudo_labels.get("model_version", project.model_version))
        if model is None:
            raise ServiceError("Pseudo-labels need a model version.", field="pseudo_labels")
        confidence = pseudo_labels.get("min_confidence", 0.9)
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence <= 1:
            raise ServiceError("`min_confidence` must be a number from 0.5 to 1.", field="pseudo_labels")
        params["pseudo_labels"] = {"model_version": model, "min_confidence": float(confidence)}
    if output_dataset is not None:
        if not isinstance(output_dataset, str) or not output_dataset.strip():
            raise ServiceError("`output_dataset` must be a dataset name.", field="output_dataset")
        params["output_dataset"] = output_dataset.strip()
    if not Task.objects.filter(project=project, status=Task.Status.DONE).exists() and "pseudo_labels" not in params:
        raise ServiceError("Nothing to export yet: no task has a final label.", status_code=409, code="empty")
    with transaction.atomic():
        job = job_start(
            kind="labeling_export",
            task="labeling.export",
            actor=actor,
            params=params,
            subject_type="labeling_project",
            subject_id=project.pk,
            message="export queued",
        )
        audit_log(actor=actor, action="labeling.export.start", obj=project, summary=params)
    return job


def _export_value(project: Project, label: Any) -> Any:
    """The label column's value: 0/1 for relevance (trainable as is), the grade for graded relevance."""
    if project.template in (T.RELEVANCE, T.GRADED_RELEVANCE):
        return project.label_names.index(label)
    return label


def export_run(*, job: Job, reporter: Reporter) -> dict[str, Any]:
    import pyarrow as pa

    from governance.catalog.models import Dataset
    from governance.catalog.services import dataset_create, dataset_version_derive

    p = job.params
    project = Project.objects.select_related("dataset_version__dataset").filter(pk=p["project"]).first()
    if project is None:
        raise ServiceError("The project no longer exists.")
    version = project.dataset_version
    column = p["label_column"]
    reporter.progress(0.1, "collecting final labels")
    labeled: dict[int, tuple[Any, str, float | None, int]] = {}
    for task in Task.objects.filter(project=project, status=Task.Status.DONE).exclude(final_label=None).iterator():
        labeled[task.row] = (task.final_label, task.final_source or "majority", task.agreement, task.annotation_count)
    for task in Task.objects.filter(project=project, kind=Task.Kind.GOLD).iterator():
        count = Annotation.objects.filter(task=task).count()
        labeled[task.row] = (task.gold_label, "gold", None, count)
    sources = {"majority": "human", "reviewer": "reviewer", "gold": "gold"}
    pseudo = p.get("pseudo_labels")
    confidence: dict[int, float] = {}
    if pseudo:
        reporter.progress(0.3, "scoring unlabeled rows for pseudo-labels")
        unlabeled = sorted(set(range(version.row_count)) - set(labeled))
        names = project.label_names
        for start in range(0, len(unlabeled), 20_000):
            reporter.check_cancelled()
            chunk = unlabeled[start : start + 20_000]
            probs = _model_probabilities(project, pseudo["model_version"], chunk)
            if probs.shape[1] != len(names):
                raise ServiceError(
                    f"Model version {pseudo['model_version']} gives {probs.shape[1]} probabilities; "
                    f"the project has {len(names)} labels."
                )
            for row, prob in zip(chunk, probs, strict=True):
                best = int(prob.argmax())
                if prob[best] >= pseudo["min_confidence"]:
                    labeled[row] = (names[best], "pseudo", None, 0)
                    confidence[row] = float(prob[best])
    if not labeled:
        raise ServiceError("Nothing to export: no row has a final label.")
    reporter.check_cancelled()
    reporter.progress(0.6, f"writing {len(labeled)} labeled rows")
    rows = sorted(labeled)
    table = rows_table(version, rows)
    finals = [labeled[r] for r in rows]
    values = [_export_value(project, f[0]) for f in finals]
    if project.multi:
        label_array = pa.array(values, type=pa.list_(pa.string()))
    elif project.template in (T.RELEVANCE, T.GRADED_RELEVANCE):
        label_array = pa.array(values, type=pa.int64())
    else:
        label_array = pa.array(values, type=pa.string())
    table = table.append_column(column, label_array)
    if project.template in (T.RELEVANCE, T.GRADED_RELEVANCE):
        table = table.append_column(f"{column}_name", pa.array([f[0] for f in finals], type=pa.string()))
    table = table.append_column(
        f"{column}_source", pa.array([sources.get(f[1], f[1]) for f in finals], type=pa.string())
    )
    table = table.append_column(f"{column}_agreement", pa.array([f[2] for f in finals], type=pa.float64()))
    table = table.append_column(f"{column}_annotations", pa.array([f[3] for f in finals], type=pa.int64()))
    if pseudo:
        table = table.append_column(
            f"{column}_confidence", pa.array([confidence.get(r) for r in rows], type=pa.float64())
        )
    target = None
    if p.get("output_dataset"):
        target = Dataset.objects.filter(name=p["output_dataset"]).first() or dataset_create(
            actor=job.actor,
            name=p["output_dataset"],
            kind=version.dataset.kind,
            description=f"Labels of project {project.name} on {version}",
        )
    reporter.progress(0.8, "registering the labeled version")
    counts = Counter(sources.get(f[1], f[1]) for f in finals)
    exported = dataset_version_derive(
        actor=job.actor,
        parents=[version],
        table=table,
        operation="label_export",
        params={"project": project.pk, "project_name": project.name, "label_column": column, "sources": dict(counts)},
        dataset=target,
    )
    with transaction.atomic():
        audit_log(
            actor=job.actor,
            action="labeling.export.finish",
            obj=project,
            summary={"dataset_version": exported.pk, "rows": len(rows), "sources": dict(counts)},
        )
        event_emit(
            project=project,
            event="export.finished",
            payload={"job": job.pk, "dataset_version": exported.pk, "rows": len(rows), "sources": dict(counts)},
        )
    return {"dataset_version": exported.pk, "rows": len(rows), "sources": dict(counts)}
