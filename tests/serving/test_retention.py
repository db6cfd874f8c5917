"""The prediction log and the per-minute traffic counters are pruned past their retention: by the periodic task
Celery beat runs, and by `manage.py serving_prune`."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from serving.models import PredictionLog, ServingStat
from serving.tasks import prune_retention

pytestmark = pytest.mark.django_db


def _log(age: timedelta) -> PredictionLog:
    row = PredictionLog.objects.create(
        model_name="shop", version=1, endpoint="rank", latency_ms=1.0, n_candidates=3, item_ids=[1], scores=[0.5]
    )
    PredictionLog.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def _stat(age: timedelta) -> ServingStat:
    return ServingStat.objects.create(
        model_name="shop", version=1, endpoint="rank", minute=timezone.now() - age, requests=1
    )


def test_the_periodic_task_deletes_only_rows_past_their_retention(settings: Any) -> None:
    settings.STEWARD_PREDICTION_LOG_RETENTION_DAYS = 30
    settings.STEWARD_SERVING_STATS_RETENTION_DAYS = 90
    old_log, new_log = _log(timedelta(days=31)), _log(timedelta(days=29))
    old_stat, new_stat = _stat(timedelta(days=91)), _stat(timedelta(days=89))
    assert prune_retention.apply().get() == {"prediction_log": 1, "serving_stats": 1}
    assert set(PredictionLog.objects.values_list("pk", flat=True)) == {new_log.pk}
    assert set(ServingStat.objects.values_list("pk", flat=True)) == {new_stat.pk}
    assert old_log.pk != new_log.pk and old_stat.pk != new_stat.pk


def test_zero_keeps_rows_forever(settings: Any) -> None:
    settings.STEWARD_PREDICTION_LOG_RETENTION_DAYS = 0
    settings.STEWARD_SERVING_STATS_RETENTION_DAYS = 0
    _log(timedelta(days=3650))
    _stat(timedelta(days=3650))
    assert prune_retention.apply().get() == {"prediction_log": 0, "serving_stats": 0}
    assert PredictionLog.objects.count() == 1 and ServingStat.objects.count() == 1


def test_pruning_goes_in_batches(settings: Any, monkeypatch: Any) -> None:
    from serving import services

    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    settings.STEWARD_PREDICTION_LOG_RETENTION_DAYS = 1
    for _ in range(5):
        _log(timedelta(days=2))
    assert services.serving_retention_prune()["prediction_log"] == 5
    assert not PredictionLog.objects.exists()


def test_the_management_command_prunes_and_says_how_much(settings: Any) -> None:
    settings.STEWARD_PREDICTION_LOG_RETENTION_DAYS = 7
    _log(timedelta(days=8))
    out = io.StringIO()
    call_command("serving_prune", stdout=out)
    assert "pruned 1 prediction-log rows" in out.getvalue()
    assert not PredictionLog.objects.exists()


def test_celery_beat_schedules_the_prune() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["serving-prune-retention"]
    assert entry["task"] == prune_retention.name == "serving.prune_retention"
    assert entry["schedule"] == django_settings.STEWARD_RETENTION_PRUNE_S
