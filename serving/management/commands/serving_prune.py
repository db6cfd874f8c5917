"""Prune the prediction log and the per-minute traffic counters past their retention (what Celery beat runs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from serving.services import serving_retention_prune


class Command(BaseCommand):
    help = (
        "Delete prediction-log rows older than STEWARD_PREDICTION_LOG_RETENTION_DAYS and traffic counters older "
        "than STEWARD_SERVING_STATS_RETENTION_DAYS (0 keeps them)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        out = serving_retention_prune()
        self.stdout.write(
            f"pruned {out['prediction_log']} prediction-log rows and {out['serving_stats']} traffic-counter rows"
        )
