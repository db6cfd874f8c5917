from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.views.generic import DetailView, ListView

from core.filters import AuditEventFilter
from core.models import AuditEvent
from core.permissions import CapabilityRequiredMixin
from core.selectors import (
    audit_event_list,
    audit_object_url,
    audit_summary_text,
    job_error_for,
    job_list,
    job_params_for,
)


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
    """The audit log with filters (actor, action prefix, object, date range), readable summaries, links to the
    objects, pages that keep the filters, and a CSV export of the same selection."""

    required_capability = "audit.read"
    template_name = "core/audit.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[AuditEvent]:
        self.filter = AuditEventFilter(self.request.GET or None, queryset=audit_event_list())
        return self.filter.qs if self.filter.is_valid() else audit_event_list().none()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context |= {
            "filter": self.filter,
            "query": query.urlencode(),
            "rows": [
                {"event": e, "summary": audit_summary_text(e.summary), "url": audit_object_url(e)}
                for e in context["object_list"]
            ],
            "actions": audit_event_list().order_by().values_list("action", flat=True).distinct()[:200],
        }
        return context
