"""Reads of jobs and the audit log, for pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from core.models import AuditEvent, Job


def job_list() -> QuerySet[Job]:
    """Newest first, with the actor that the job rows show."""
    return Job.objects.select_related("actor")


def job_list_for_subject(*, subject_type: str, subject_id: int) -> QuerySet[Job]:
    """The jobs that worked on one object (a dataset version, a scan, a model), newest first."""
    return job_list().filter(subject_type=subject_type, subject_id=subject_id)


def audit_event_list() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")
