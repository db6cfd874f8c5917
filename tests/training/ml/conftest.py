"""Fixtures for training/ml: a small table, its feature spec, fast parameters, one trained result.

No Django here (nor in the conftest files above, which hold the tiny base model and one torch thread): these
tests run on any machine with torch, transformers, pyarrow and sklearn, the GPU machine included.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.factories import FAST_TRAIN_PARAMS, interaction_columns, interactions, splits


@pytest.fixture
def table() -> pa.Table:
    return interactions()


@pytest.fixture
def spec():
    from training.ml import FeatureSpec

    return FeatureSpec(**interaction_columns())


@pytest.fixture
def fast_params() -> dict:
    return dict(FAST_TRAIN_PARAMS)


@pytest.fixture
def trained(tiny_base_model, table, spec, fast_params):
    """One small trained result shared by artifact tests (module-agnostic, cheap: ~1 s)."""
    from training.ml import train

    # On CPU in fp32 on every machine, so artifact parity can be exact (test_gpu.py covers CUDA).
    return train(
        **splits(table),
        spec=spec,
        base_model=tiny_base_model,
        device="cpu",
        params={**fast_params, "freeze_encoder_steps": 10, "segment_column": "genre", "segment_min_count": 5},
    )
