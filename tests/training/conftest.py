"""Fixtures for the training app and training/ml: one torch thread, and (for the app's tests) a
PII-scanned interactions version and a training request. The tiny base model is in tests/conftest.py.

This file and tests/training/ml import no Django at import time: training/ml's tests run without it
(`pytest tests/training/ml -p no:django`, also on the GPU machine). The fixtures that need the
database ask for pytest-django's fixtures, so only the app's tests use them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import FAST_JOB_PARAMS, interaction_columns, interactions, table_csv


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # Tiny models gain nothing from a second thread, and on a busy machine OpenMP's spinning
    # threads make each step 10-20x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def trainable(scan_upload):
    version = scan_upload(table_csv(interactions(240)), name="clicks.csv", dataset="clicks")
    assert version.pii_status in ("clean", "resolved"), version.pii_status
    return version


@pytest.fixture
def payload(trainable, tiny_base_model) -> dict[str, Any]:
    return {
        "model_name": "ctr",
        "dataset_version": trainable.pk,
        **interaction_columns(),
        "base_model": tiny_base_model,
        "params": dict(FAST_JOB_PARAMS),
        "split": {"strategy": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0},
    }


@pytest.fixture
def start_training(api_as, run_tasks_eagerly, django_capture_on_commit_callbacks):
    """POST a training job as `role`, running it in-process; returns the response."""

    def do(body: dict[str, Any], role: str = "ml_engineer"):
        with django_capture_on_commit_callbacks(execute=True):
            return api_as(role).post("/api/v1/training-jobs/", body, format="json")

    return do
