from __future__ import annotations

from django.db.models import QuerySet
from django.views.generic import DetailView, ListView

from core.models import AuditEvent, Job
from core.permissions import CapabilityRequiredMixin
from core.selectors import audit_event_list, job_list


class JobListPage(CapabilityRequiredMixin, ListView):
    required_capability = "jobs.read"
    template_name = "core/jobs.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Job]:
        return job_list()


class JobPage(CapabilityRequiredMixin, DetailView):
    required_capability = "jobs.read"
    template_name = "core/job.html"
    context_object_name = "job"

    def get_queryset(self) -> QuerySet[Job]:
        return job_list()


class AuditPage(CapabilityRequiredMixin, ListView):
    required_capability = "audit.read"
    template_name = "core/audit.html"
    paginate_by = 100

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_event_list()
