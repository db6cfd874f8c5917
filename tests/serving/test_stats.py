from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from serving import selectors
from serving.models import PredictionLog, ServingStat
from serving.stats import LATENCY_EDGES_MS, SCORE_BINS, recorder, score_histogram


def test_latency_percentile_interpolates_inside_its_bucket() -> None:
    counts = np.zeros(len(LATENCY_EDGES_MS) + 1, np.int64)
    counts[3] = 100  # all between 5 and 10 ms
    assert selectors.latency_percentile(counts, 50) == pytest.approx(7.5)
    assert selectors.latency_percentile(counts, 100) == pytest.approx(10.0)
    assert selectors.latency_percentile(np.zeros_like(counts), 50) is None


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shifted_one() -> None:
    rng = np.random.default_rng(0)
    reference = score_histogram(rng.beta(2, 5, 20_000))
    same = score_histogram(rng.beta(2, 5, 20_000))
    shifted = score_histogram(rng.beta(5, 2, 20_000))
    assert selectors.psi(reference, same) < 0.01
    assert selectors.psi(reference, shifted) > selectors.PSI_SHIFT
    assert selectors.psi_reading(selectors.psi(reference, shifted)) == "significant shift"
    assert selectors.psi(reference, np.zeros(SCORE_BINS)) is None


def test_score_histogram_puts_one_into_the_last_bin() -> None:
    counts = score_histogram(np.array([0.0, 0.049, 0.05, 0.999, 1.0]))
    assert counts.sum() == 5
    assert counts[0] == 2 and counts[1] == 1 and counts[-1] == 2


@pytest.mark.django_db
def test_counters_are_written_per_minute_and_summed_by_the_page_reader() -> None:
    for latency in (3.0, 4.0, 30.0):
        recorder.record(
            model="shop", version=2, endpoint="rank", latency_ms=latency, error=False, scores=np.array([0.1, 0.9])
        )
    recorder.record(model="shop", version=2, endpoint="rank", latency_ms=1.0, error=True)
    assert recorder.flush() == 1
    assert recorder.flush() == 0  # nothing new
    recorder.record(model="shop", version=2, endpoint="score", latency_ms=2.0, error=False)
    recorder.flush()
    assert ServingStat.objects.count() == 2
    traffic = selectors.traffic("shop", minutes=5)
    v2 = traffic[2]
    assert (v2.requests, v2.errors) == (5, 1)
    assert v2.score_counts.sum() == 6
    assert v2.mean_latency_ms == pytest.approx(8.0)
    assert selectors.traffic("shop", minutes=5, now=timezone.now() + timedelta(hours=2)) == {}


@pytest.mark.django_db
def test_prediction_log_rows_are_written_on_flush(settings: object) -> None:
    recorder.log_prediction(
        model_name="shop",
        version=1,
        model_version_id=7,
        endpoint="rank",
        latency_ms=2.5,
        n_candidates=2,
        k=1,
        user_feature_ids={"age": 3},
        item_ids=[4, 0],
        scores=[0.5, 0.25],
    )
    assert PredictionLog.objects.count() == 0
    recorder.flush()
    row = PredictionLog.objects.get()
    assert row.item_ids == [4, 0] and row.user_feature_ids == {"age": 3}


def test_sampling_rate_zero_logs_nothing_and_1000_logs_everything(settings: object) -> None:
    settings.STEWARD_PREDICTION_LOG_PER_MILLE = 0
    assert not any(recorder.should_log() for _ in range(200))
    settings.STEWARD_PREDICTION_LOG_PER_MILLE = 1000
    assert all(recorder.should_log() for _ in range(200))
