"""Reads of jobs and the audit log, for pages and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

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


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")
