from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from core.permissions import CapabilityRequiredMixin
from core.selectors import job_list
from governance.catalog.selectors import dataset_list


class DashboardPage(CapabilityRequiredMixin, TemplateView):
    required_capability = "catalog.read"
    template_name = "home/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {"datasets": dataset_list()[:50], "jobs": job_list()[:15]}
