from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from rest_framework.test import APIClient

from serving.loader import version_dir
from serving.models import PredictionLog
from serving.stats import recorder
from tests.factories import SHOP_ITEM_IDS, SHOP_USER, post_rank


def _sample(text: str, name: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(part in line for part in labels.split(",")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_errors_and_latency_per_version(shop: Any, api_as: Callable[..., APIClient]) -> None:
    client = api_as("ml_engineer")
    before = Client().get("/metrics").content.decode()
    ok_before = _sample(
        before, "steward_serving_requests_total", 'model="shop",version="1",endpoint="rank",status="200"'
    )
    for _ in range(3):
        assert post_rank(client, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS}).status_code == 200
    assert post_rank(client, {"candidates": "i1"}).status_code == 400
    resp = Client().get("/metrics")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert (
        _sample(text, "steward_serving_requests_total", 'model="shop",version="1",endpoint="rank",status="200"')
        == ok_before + 3
    )
    assert _sample(text, "steward_serving_latency_seconds_count", 'model="shop",version="1",endpoint="rank"') >= 3
    assert (
        _sample(text, "steward_serving_latency_seconds_bucket", 'model="shop",version="1",endpoint="rank",le="+Inf"')
        >= 3
    )
    assert _sample(text, "steward_serving_errors_total", 'model="shop",version="1",endpoint="rank",code="invalid"') >= 1


def test_sampled_prediction_log_keeps_feature_ids_not_raw_values(
    shop: Any, api_as: Callable[..., APIClient], settings: Any
) -> None:
    settings.STEWARD_PREDICTION_LOG_PER_MILLE = 1000
    secret_user = {"user_id": "u3", "age": "23", "gender": "F", "hour": 14}
    assert (
        post_rank(api_as("ml_engineer"), {"user": secret_user, "candidates": SHOP_ITEM_IDS[:4], "k": 2}).status_code
        == 200
    )
    recorder.flush()
    row = PredictionLog.objects.get()
    assert (row.model_name, row.version, row.endpoint, row.n_candidates, row.k) == ("shop", 1, "rank", 4, 2)
    assert set(row.user_feature_ids) == {"user_id", "age", "gender"}
    assert all(isinstance(v, int) for v in row.user_feature_ids.values())
    assert len(row.item_ids) == 4 and all(isinstance(v, int) for v in row.item_ids)
    assert len(row.scores) == 4
    stored = json.dumps([row.user_feature_ids, row.item_ids, row.scores])
    assert "u3" not in stored and '"F"' not in stored and "i1" not in stored


def test_no_prediction_is_logged_at_rate_zero(shop: Any, api_as: Callable[..., APIClient], settings: Any) -> None:
    settings.STEWARD_PREDICTION_LOG_PER_MILLE = 0
    post_rank(api_as("ml_engineer"), {"candidates": SHOP_ITEM_IDS})
    recorder.flush()
    assert PredictionLog.objects.count() == 0


def test_monitoring_page_shows_traffic_latency_and_drift_against_the_test_split(
    shop: Any, api_as: Callable[..., APIClient], client: Client, personas: dict[str, Any]
) -> None:
    engineer = api_as("ml_engineer")
    for j in range(5):
        post_rank(engineer, {"user": {"user_id": f"u{j}"}, "candidates": SHOP_ITEM_IDS})
    post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, query="?version=2")
    recorder.flush()
    client.force_login(personas["viewer"])
    resp = client.get("/models/shop/monitoring/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert html.count("<svg") >= 4  # rate, latency, and one score distribution per version
    assert "Requests per minute" in html and "Latency p50 and p99" in html
    v1 = next(r for r in resp.context["rows"] if r["version"] == 1)
    assert v1["requests"] == 5 and v1["scored"] == 150
    assert v1["psi"] is not None and v1["psi"] >= 0
    assert v1["aliases"] == ["production"]
    v2 = next(r for r in resp.context["rows"] if r["version"] == 2)
    assert v2["requests"] == 1 and v2["aliases"] == []
    assert v2["psi_reading"] in ("stable", "moderate shift", "significant shift")  # the artifact's test predictions


def test_psi_reference_can_come_from_servings_own_folder(
    shop: Any, api_as: Callable[..., APIClient], client: Client, personas: dict[str, Any]
) -> None:
    """An artifact without test predictions can be given a reference in DATA_DIR/serving/versions/<id>/."""
    from serving.loader import read_reference

    pk = shop.versions[("shop", 1)].pk
    folder = version_dir(pk)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "reference_scores.npy", np.full(100, 0.99))
    assert read_reference(pk, Path("/nonexistent"))[-1] == 100


def test_monitoring_page_needs_models_read_and_a_known_model(
    shop: Any, client: Client, personas: dict[str, Any]
) -> None:
    client.force_login(personas["annotator"])
    assert client.get("/models/shop/monitoring/").status_code == 403
    client.force_login(personas["viewer"])
    assert client.get("/models/nothing/monitoring/").status_code == 404
    empty = client.get("/models/shop/monitoring/?window=15m")
    assert empty.status_code == 200 and "No traffic in this window" in empty.content.decode()


@pytest.mark.parametrize("window", ["15m", "24h"])
def test_monitoring_windows_render(
    shop: Any, client: Client, personas: dict[str, Any], api_as: Callable[..., APIClient], window: str
) -> None:
    post_rank(api_as("ml_engineer"), {"candidates": SHOP_ITEM_IDS})
    recorder.flush()
    client.force_login(personas["viewer"])
    assert client.get(f"/models/shop/monitoring/?window={window}").status_code == 200
