from __future__ import annotations

from typing import Any

from django.shortcuts import redirect
from django.views.generic import TemplateView

from core.permissions import CapabilityRequiredMixin
from core.roles import has_capability
from core.selectors import job_list
from governance.catalog.selectors import dataset_list
from home.selectors import demo_story_progress


class DashboardPage(CapabilityRequiredMixin, TemplateView):
    required_capability = "catalog.read"
    template_name = "home/dashboard.html"

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Annotators cannot read the catalog: their start page (and where login lands them) is their labeling work.
        user = request.user
        if (
            user.is_authenticated
            and not has_capability(user, "catalog.read")
            and has_capability(user, "labeling.annotate")
        ):
            return redirect("labeling")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {
            "datasets": dataset_list()[:50],
            "jobs": job_list()[:15],
            "story": demo_story_progress(),
        }
