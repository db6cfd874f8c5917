from __future__ import annotations

from typing import Any

from django.views.generic import DetailView, ListView, TemplateView

from core.models import AuditEvent, Job
from core.permissions import CapabilityRequiredMixin
from governance.catalog.selectors import dataset_list


class DashboardPage(CapabilityRequiredMixin, TemplateView):
    required_capability = "catalog.read"
    template_name = "core/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {
            "datasets": dataset_list()[:50],
            "jobs": Job.objects.select_related("actor")[:15],
        }


class JobListPage(CapabilityRequiredMixin, ListView):
    required_capability = "jobs.read"
    template_name = "core/jobs.html"
    paginate_by = 50
    queryset = Job.objects.select_related("actor")


class JobPage(CapabilityRequiredMixin, DetailView):
    required_capability = "jobs.read"
    template_name = "core/job.html"
    model = Job
    context_object_name = "job"


class AuditPage(CapabilityRequiredMixin, ListView):
    required_capability = "audit.read"
    template_name = "core/audit.html"
    paginate_by = 100
    queryset = AuditEvent.objects.select_related("actor")
