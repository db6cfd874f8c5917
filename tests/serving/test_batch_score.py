from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from rest_framework.test import APIClient

from core.models import Job
from core.storage import local_path
from governance.catalog.models import DatasetVersion, LineageEdge
from serving.scorer import Scorer

CSV = (
    "user_id,item_id,age,gender,hour,clicked\n"
    + "\n".join(f"u{j % 20},i{j % 30},{20 + j % 5},{'MF'[j % 2]},{j % 24},{j % 2}" for j in range(60))
    + "\nu1,new-item,21,F,3,0\n"
)


def _start(client: APIClient, version: DatasetVersion, query: str = "", **extra: Any) -> Any:
    return client.post(
        f"/api/v1/serving/shop/batch-score/{query}", {"dataset_version": version.pk, **extra}, format="json"
    )


def test_batch_scoring_writes_a_new_version_with_a_score_column_and_lineage(
    shop: Any,
    upload: Callable[..., DatasetVersion],
    api_as: Callable[..., APIClient],
    predictors: dict[str, Any],
    run_tasks_eagerly: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    source = upload(CSV, name="events.csv", dataset="events")
    with django_capture_on_commit_callbacks(execute=True):
        resp = _start(api_as("ml_engineer"), source)
    assert resp.status_code == 202, resp.content
    job = Job.objects.get(pk=resp.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["model_version"] == {"model": "shop", "version": 1}
    scored = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert scored.dataset_id == source.dataset_id and scored.operation == "score"
    assert scored.column_names == [*source.column_names, "score"]
    with local_path(scored.parquet) as path:
        table = pq.read_table(path)
    scores = np.array(table.column("score").to_pylist())
    assert table.num_rows == 61 and np.all((scores > 0) & (scores < 1))
    # Row by row the same as /rank would answer: item features (title, genre, price) from the item table.
    scorer = Scorer(predictors["v1"])
    row = table.slice(0, 1).to_pylist()[0]
    user = {k: row[k] for k in ("user_id", "age", "gender", "hour")}
    user["age"] = str(user["age"])
    assert scores[0] == pytest.approx(scorer.score([user], [row["item_id"]], None)[0], abs=1e-5)
    edge = LineageEdge.objects.get(source=source, target_type="dataset_version", target_id=scored.pk)
    assert edge.operation == "score"
    assert edge.params["model"] == "shop" and edge.params["model_version"] == 1
    assert edge.params["model_version_id"] == shop.versions[("shop", 1)].pk


def test_batch_scoring_pins_the_version_given(
    shop: Any,
    upload: Callable[..., DatasetVersion],
    api_as: Callable[..., APIClient],
    run_tasks_eagerly: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    source = upload(CSV, name="events.csv", dataset="events")
    with django_capture_on_commit_callbacks(execute=True):
        resp = _start(api_as("steward"), source, "?version=2", column="ctr")
    job = Job.objects.get(pk=resp.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["model_version"]["version"] == 2
    assert "ctr" in DatasetVersion.objects.get(pk=job.result["dataset_version"]).column_names


@pytest.mark.parametrize(
    ("role", "body", "status", "message"),
    [
        ("viewer", {}, 403, "catalog.write"),
        ("ml_engineer", {"column": "clicked"}, 400, "already has a column 'clicked'"),
        ("ml_engineer", {"dataset_version": 999999}, 404, "does not exist"),
    ],
)
def test_batch_scoring_refuses_bad_requests_without_a_job(
    shop: Any,
    upload: Callable[..., DatasetVersion],
    api_as: Callable[..., APIClient],
    role: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    source = upload(CSV, name="events.csv", dataset="events")
    resp = api_as(role).post("/api/v1/serving/shop/batch-score/", {"dataset_version": source.pk, **body}, format="json")
    assert resp.status_code == status, resp.content
    assert message in resp.json()["detail"]
    assert not Job.objects.filter(kind="batch_score").exists()


def test_batch_scoring_needs_the_item_column(
    shop: Any, upload: Callable[..., DatasetVersion], api_as: Callable[..., APIClient]
) -> None:
    source = upload("user_id,hour\nu1,3\n", name="users.csv", dataset="users")
    resp = api_as("ml_engineer").post(
        "/api/v1/serving/shop/batch-score/", {"dataset_version": source.pk}, format="json"
    )
    assert resp.status_code == 400
    assert "item_id" in resp.json()["detail"]
