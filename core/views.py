from __future__ import annotations

from typing import Any

from django.views.generic import DetailView, ListView

from core.permissions import CapabilityRequiredMixin
from core.selectors import audit_event_list, job_error_for, job_list, job_params_for


class JobListPage(CapabilityRequiredMixin, ListView):
    required_capability = "jobs.read"
    template_name = "core/jobs.html"
    paginate_by = 50
    queryset = job_list()  # a lazy queryset: Django copies it for each request


class JobPage(CapabilityRequiredMixin, DetailView):
    required_capability = "jobs.read"
    template_name = "core/job.html"
    context_object_name = "job"
    queryset = job_list()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["job_error"] = job_error_for(job=self.object, user=self.request.user)
        context["job_params"] = job_params_for(job=self.object, user=self.request.user)
        return context


class AuditPage(CapabilityRequiredMixin, ListView):
    required_capability = "audit.read"
    template_name = "core/audit.html"
    paginate_by = 100
    queryset = audit_event_list()
