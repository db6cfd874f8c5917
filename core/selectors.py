"""Reads of jobs and the audit log, for pages and the API."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from core.models import AuditEvent, Job
from core.roles import has_capability

TRACEBACK = "Traceback (most recent call last)"


def job_list() -> QuerySet[Job]:
    """Newest first, with the actor that the job rows show."""
    return Job.objects.select_related("actor")


def job_list_for_subject(*, subject_type: str, subject_id: int) -> QuerySet[Job]:
    """The jobs that worked on one object (a dataset version, a scan, a model), newest first."""
    return job_list().filter(subject_type=subject_type, subject_id=subject_id)


def job_error_for(*, job: Job, user: Any) -> str:
    """A failed job's error as `user` may read it. A reason Steward wrote for people (bad input, a refused step)
    reads the same for everyone; an unexpected exception's message and traceback (internals, perhaps values) only
    for roles with `jobs.debug` (stewards): the others learn the exception's type."""
    error = job.error or ""
    if not error or TRACEBACK not in error or has_capability(user, "jobs.debug"):
        return error
    kind = error.split(":", 1)[0].strip()
    kind = kind if kind.isidentifier() else "error"
    return f"{kind}: the job failed unexpectedly; a steward can read the details."


def job_params_for(*, job: Job, user: Any) -> dict[str, Any]:
    """A job's parameters as `user` may read them. The job's own actor and roles with `pii.manage` read them whole;
    others learn only which operation ran, since parameters can quote raw values (a transform's expression over a
    personal-data column, a masking policy's replacement text)."""
    params = job.params or {}
    if not params:
        return params
    user_id = getattr(user, "pk", None)
    if user_id is not None and (job.actor_id == user_id or has_capability(user, "pii.manage")):
        return params
    shown = {key: params[key] for key in ("operation",) if isinstance(params.get(key), str)}
    return shown | {"withheld": "the parameters are shown to the job's owner and to stewards"}


# Keys whose values come from a closed vocabulary the services check (an operation, a masking operator, a join's
# `how`): shown even beside a personal-data column, since they quote no cell.
VOCABULARY_KEYS = frozenset(
    {"operation", "operator", "strategy", "how", "keep", "method", "kind", "template", "type", "dtype", "mode", "scope"}
)
WITHHELD_VALUE = "[withheld]"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def _names_a_hidden_column(value: Any, hidden: set[str]) -> bool:
    if isinstance(value, str):
        return value in hidden
    if isinstance(value, list):
        return any(isinstance(v, str) and v in hidden for v in value)
    return False


def _mentions(text: str, hidden: set[str]) -> bool:
    # A substring test, not a parse: a column name inside a longer word also counts (redacting too much is the
    # safe mistake).
    lowered = text.lower()
    return any(name.lower() in lowered for name in hidden if name)


def job_params_for_receiver(*, job: Job, columns: set[str], hidden: set[str]) -> tuple[dict[str, Any], int]:
    """A job's parameters for a reader that is neither its owner nor a steward but is told more than an outsider
    (an OpenLineage receiver), and how many values were withheld. `columns` are the input's column names,
    `hidden` those job_params_for's outsiders may not see raw (the catalog's hidden-columns rule for a user
    without pii.manage).

    Column names, numbers and operation names stay; a value is withheld when it mentions a hidden column (an
    expression such as `email == "a@b.c"`), sits under a hidden column's key (a masking rule's replacement text,
    a fill value), or sits beside a hidden column's name in the same object (`{"column": "email", "value": ...}`,
    `{"columns": ["email"], "value": ...}`). Only a vocabulary word (VOCABULARY_KEYS) or a column name is
    shown in such a place."""
    withheld = 0

    def walk(value: Any, key: str, tainted: bool) -> Any:
        nonlocal withheld
        if isinstance(value, dict):
            here = tainted or any(_names_a_hidden_column(v, hidden) for v in value.values())
            return {k: walk(v, str(k), here or k in hidden) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key, tainted) for v in value]
        if isinstance(value, str):
            if value in columns or value in hidden:
                return value
            if key in VOCABULARY_KEYS and _WORD.fullmatch(value):
                return value
            if not tainted and not _mentions(value, hidden):
                return value
        elif not tainted:
            return value
        withheld += 1
        return WITHHELD_VALUE

    return walk(job.params or {}, "", False), withheld


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")


# Audit object types (app_label.model) -> the page that shows such an object, by URL name (core imports no app).
AUDIT_OBJECT_PAGES = {
    "catalog.dataset": "dataset",
    "catalog.datasetversion": "dataset-version",
    "core.job": "job",
    "labeling.project": "labeling-project",
    "privacy.piiscan": "pii-scan",
    "training.modelversion": "model-version-by-id",
}


def audit_object_url(event: AuditEvent) -> str:
    """The page of the event's object, or "" when it has none (or its id is not a number)."""
    name = AUDIT_OBJECT_PAGES.get(event.object_type)
    if not name or not str(event.object_id).isdigit():
        return ""
    try:
        return reverse(name, args=[int(event.object_id)])
    except NoReverseMatch:
        return ""


def _key(item: tuple[Any, Any]) -> str:
    # Keys in name order: PostgreSQL's jsonb does not keep the order a summary was written in.
    return str(item[0])


def _readable(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_readable(v)}" for k, v in sorted(value.items(), key=_key)) + "}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_readable(v) for v in value) if value else "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def audit_summary_text(summary: Any) -> str:
    """A summary as people read it: `kind: transform; subject: dataset_version:3` (the summary never holds cell
    values: audit_log's contract)."""
    if not summary:
        return ""
    if not isinstance(summary, dict):
        return _readable(summary)
    return "; ".join(f"{str(k).replace('_', ' ')}: {_readable(v)}" for k, v in sorted(summary.items(), key=_key))


AUDIT_CSV_COLUMNS = (
    "id",
    "time",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object_url",
    "summary",
    "summary_json",
)


def _cell(value: str) -> str:
    # A spreadsheet would run a cell that starts like a formula; compliance reviewers open these in one.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV lines, header first, read in chunks (an export of a long log never sits in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(str(v)) for v in row])
        return buffer.getvalue()

    yield line(AUDIT_CSV_COLUMNS)
    for e in events.iterator(chunk_size=2000):
        yield line(
            (
                str(e.pk),
                e.created_at.isoformat(),
                e.actor.username if e.actor else "system",
                e.action,
                e.object_type,
                e.object_id,
                audit_object_url(e),
                audit_summary_text(e.summary),
                json.dumps(e.summary, sort_keys=True, default=str),
            )
        )
