"""Reads for the site's own pages."""

from __future__ import annotations

from typing import Any

from core.models import Job
from home.story import KIND, STEPS


def demo_story_progress() -> dict[str, Any] | None:
    """The latest demo story: its job and each step with its status (done, running, failed, waiting)."""
    job = Job.objects.filter(kind=KIND).order_by("-created_at", "-id").first()
    if job is None:
        return None
    recorded = (job.details or {}).get("steps", {})
    steps = []
    for name, title in STEPS:
        step = recorded.get(name, {})
        steps.append(
            {
                "name": name,
                "title": title,
                "status": step.get("status", "waiting"),
                "seconds": step.get("seconds"),
                "error": step.get("error", ""),
            }
        )
    result = job.result or {}
    links = {}
    if isinstance(result.get("split"), list) and result["split"]:
        links["lineage"] = f"/dataset-versions/{result['split'][0]}/lineage/"
    if isinstance(result.get("production"), dict):
        model = result["production"]["model"]
        links["model"] = f"/models/{model}/"
        links["monitoring"] = f"/models/{model}/monitoring/"
    if isinstance(result.get("labeling"), dict) and result["labeling"].get("project"):
        links["labeling"] = f"/labeling/projects/{result['labeling']['project']}/"
    return {"job": job, "steps": steps, "links": links, "seconds": result.get("seconds")}
