"""The behaviour sequence through the product: the `sequence` transform job writes each user's earlier items,
a training job takes them as a list column (target attention by default), beats the same job without them on a
time split, and the registered version serves the history exactly as the artifact scores it offline."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from core.models import Job
from tests.factories import table_csv
from training.models import ModelVersion

pytestmark = pytest.mark.django_db

N_ITEMS = 24  # item j belongs to taste group j % 2


def taste_log(n_users: int = 90, per_user: int = 14, seed: int = 0) -> pa.Table:
    """Users arrive one after another (so the newest rows are users training never saw); each watches mostly
    items of one taste group and clicks exactly the items of that group. Only the history tells a new user's
    group: without it a model knows the item, never whether it suits the user."""
    rng = random.Random(seed)
    rows = []
    t = 0
    for u in range(n_users):
        group = u % 2
        for _ in range(per_user):
            own = rng.random() < 0.75
            j = rng.randrange(N_ITEMS // 2) * 2 + (group if own else 1 - group)
            rows.append({"user_id": u, "item_id": j, "ts": t, "label": int(j % 2 == group)})
            t += 1
    return pa.Table.from_pylist(rows)


@pytest.fixture
def sequenced(scan_upload, steward, run_tasks_eagerly, django_capture_on_commit_callbacks) -> Any:
    from governance.catalog.models import DatasetVersion
    from governance.catalog.transform_service import transform_start

    raw = scan_upload(table_csv(taste_log()), name="taste.csv", dataset="taste")
    params = {"user_column": "user_id", "item_column": "item_id", "time_column": "ts", "length": 10}
    with django_capture_on_commit_callbacks(execute=True):
        job = transform_start(actor=steward, version=raw, operation="sequence", params=params)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    version = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    version.refresh_from_db()
    assert "item_sequence" in version.column_names
    assert version.pii_status in ("clean", "resolved"), version.pii_status
    return version


def _train(start_training: Any, version: Any, name: str, lists: list[str]) -> ModelVersion:
    body = {
        "model_name": name,
        "dataset_version": version.pk,
        "label_column": "label",
        "user_column": "user_id",
        "item_column": "item_id",
        "list_columns": lists,
        "list_max_len": 10,
        "params": {"epochs": 12, "batch_size": 64, "lr": 0.02, "embedding_dim": 8, "patience": 0, "seed": 0},
        "split": {"strategy": "time", "time_column": "ts", "fractions": [0.7, 0.1, 0.2]},
    }
    response = start_training(body)
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    return ModelVersion.objects.get(model__name=name)


def test_a_job_with_the_sequence_beats_the_same_job_without_it_on_the_time_split_and_serves_as_offline(
    sequenced, start_training
) -> None:
    from serving.scorer import Scorer
    from training.ml import load_artifact

    with_history = _train(start_training, sequenced, "taste-seq", ["item_sequence"])
    without = _train(start_training, sequenced, "taste-plain", [])
    assert with_history.metrics["auc"] > without.metrics["auc"] + 0.15, (with_history.metrics, without.metrics)

    predictor = load_artifact(with_history.artifact_path(), device="cpu")
    assert predictor.model.head_config.list_pooling == "attention"
    assert predictor.spec.list_pooling == "attention"
    scorer = Scorer(predictor)
    assert scorer.mode == "fast"  # the per-pair attention of the split head passed the load-time check
    items = [str(j) for j in range(N_ITEMS)]
    for history in ([0, 2, 4, 6], [1, 3, 5], [], [0, 999]):  # 999: never seen, padding
        user = {"user_id": "new-user", "item_sequence": history}
        _, served = scorer.rank(user, items)
        offline = predictor.predict([{**user, "item_id": i} for i in items])
        np.testing.assert_allclose(served, offline, atol=1e-5)
    # A new user who watched even items ranks even items first, and the other way round.
    even = scorer.rank({"item_sequence": [0, 2, 4, 6, 8]}, items, 6)[0]
    odd = scorer.rank({"item_sequence": [1, 3, 5, 7, 9]}, items, 6)[0]
    assert sum(int(items[i]) % 2 == 0 for i in even) >= 5
    assert sum(int(items[i]) % 2 == 1 for i in odd) >= 5
