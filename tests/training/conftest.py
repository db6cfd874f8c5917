"""Fixtures for the training app: a PII-scanned (clean) interactions version and request payloads.

The tiny random BERT and the small synthetic table come from tests/training/ml/conftest.py, which
stays free of Django so training/ml's tests also run on the GPU machine alone.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow.csv as pacsv
import pytest

from tests.training.ml.conftest import (  # noqa: F401  (fixtures re-exported for this package)
    _one_torch_thread,
    interactions,
    tiny_base_model,
)

FAST_PARAMS = {
    "epochs": 2,
    "batch_size": 32,
    "lr": 0.02,
    "embedding_dim": 8,
    "patience": 0,
    "checkpoint_every_steps": 0,
    "freeze_encoder_steps": 8,
    "segment_column": "genre",
    "segment_min_count": 5,
}


def table_csv(table) -> str:
    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue().decode()


@pytest.fixture
def scan_upload(upload, run_tasks_eagerly, django_capture_on_commit_callbacks):
    """upload(text, name=...) that also runs the automatic PII scan, as a worker would."""

    def do(text: str, **kw: Any):
        with django_capture_on_commit_callbacks(execute=True):
            version = upload(text, **kw)
        version.refresh_from_db()
        return version

    return do


@pytest.fixture
def trainable(scan_upload):
    version = scan_upload(table_csv(interactions(240)), name="clicks.csv", dataset="clicks")
    assert version.pii_status in ("clean", "resolved"), version.pii_status
    return version


@pytest.fixture
def payload(trainable, tiny_base_model) -> dict[str, Any]:  # noqa: F811
    return {
        "model_name": "ctr",
        "dataset_version": trainable.pk,
        "label_column": "label",
        "text_columns": ["title"],
        "categorical_columns": ["gender", "genre"],
        "numeric_columns": ["price"],
        "user_column": "user_id",
        "item_column": "item_id",
        "base_model": tiny_base_model,
        "params": dict(FAST_PARAMS),
        "split": {"strategy": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0},
    }


@pytest.fixture
def start_training(api_as, run_tasks_eagerly, django_capture_on_commit_callbacks):
    """POST a training job as `role`, running it in-process; returns the response."""

    def do(body: dict[str, Any], role: str = "ml_engineer"):
        with django_capture_on_commit_callbacks(execute=True):
            return api_as(role).post("/api/v1/training-jobs/", body, format="json")

    return do
