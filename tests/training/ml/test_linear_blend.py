"""The regression blended into the model's linear terms (training/ml/linear_blend.py)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch

from training.ml import load_artifact, save_artifact
from training.ml.batches import EncodedSplit
from training.ml.linear_blend import _fold, design_matrix, fit_blend, fit_temperature
from training.ml.model import CTRModel, HeadConfig

from .test_wide import _reviews, train_reviews


def _split(n: int, seed: int) -> EncodedSplit:
    rng = np.random.default_rng(seed)
    wide = rng.integers(0, 16, size=(n, 5))
    wide[:, -1] = 0  # padding
    wide[:, 1] = wide[:, 0]  # a bucket twice in a row
    return EncodedSplit(
        categorical=np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1),
        numeric=rng.normal(size=(n, 1)).astype(np.float32),
        text_ids=np.zeros((n, 0), dtype=np.int64),
        labels=(rng.random(n) < 0.5).astype(np.float32),
        wide=wide,
    )


def _logits(model: CTRModel, split: EncodedSplit) -> np.ndarray:
    with torch.no_grad():
        return model.score_from_parts(
            None,
            torch.from_numpy(split.categorical),
            torch.from_numpy(split.numeric),
            torch.from_numpy(split.wide),
        ).numpy()


def test_folding_a_linear_function_of_the_design_matrix_adds_it_to_the_logits():
    torch.manual_seed(0)
    model = CTRModel(None, HeadConfig(vocab_sizes=[3, 2], n_text=0, n_numeric=1, embedding_dim=4, wide_buckets=16))
    with torch.no_grad():
        model.wide.weight.normal_()
        model.wide.weight[0] = 0
    split = _split(50, 1)
    x = design_matrix(model, split)
    assert x.shape == (50, 3 + 2 + 16 + 1)
    # Each row: one value per categorical field, its wide buckets (the duplicate counted twice), the numeric.
    assert x[:, :5].sum(axis=1).A1.tolist() == [2.0] * 50
    assert x[0, 5 + split.wide[0, 0]] >= 2.0
    assert x[:, 5].nnz == 0  # bucket 0, padding, is no feature
    coef = np.random.default_rng(2).normal(size=x.shape[1])
    before = _logits(model, split)
    _fold(model, coef, 0.7)
    after = _logits(model, split)
    expected = before + x.toarray() @ coef + 0.7
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-4)
    assert model.wide.weight[0].item() == 0.0


def test_a_validation_split_of_one_class_leaves_the_model_alone():
    model = CTRModel(None, HeadConfig(vocab_sizes=[3, 2], n_text=0, n_numeric=1, embedding_dim=4, wide_buckets=16))
    valid = _split(20, 3)
    valid.labels[:] = 1.0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert fit_blend(model, _split(100, 4), valid, np.full(20, 0.5)) is None
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def _train(table: pa.Table, tiny_base_model, **overrides):
    params = {
        "epochs": 1,
        "batch_size": 64,
        "lr": 1e-6,  # a model that learns next to nothing: the regression has to carry it
        "wide_lr": 1e-6,
        "embedding_dim": 4,
        "patience": 0,
        "checkpoint_every_steps": 0,
        "freeze_encoder_steps": 1_000_000,
        "wide_buckets": 1 << 12,
        **overrides,
    }
    return train_reviews(table, tiny_base_model, params)


def test_the_blend_lifts_a_weak_model_to_the_regression_and_serving_scores_the_blend(tmp_path, tiny_base_model):
    table = _reviews(500, 1)
    alone = _train(table, tiny_base_model, linear_blend=False)
    assert alone.linear_blend is None
    blended = _train(table, tiny_base_model)
    blend = blended.linear_blend
    assert blend is not None and blend["alpha"] > 0 and blend["temperature"] > 0
    assert blended.model.logit_scale.item() == pytest.approx(blend["temperature"])
    assert blend["blended_valid_auc"] >= blend["model_valid_auc"]
    assert blend["blended_valid_auc"] > 0.95 and blend["features"] > 1 << 12
    assert (
        blended.valid_metrics["auc"] == blend["blended_valid_auc"]
        or abs(blended.valid_metrics["auc"] - blend["blended_valid_auc"]) < 1e-3
    )
    assert blended.metrics["auc"] > 0.95 > alone.metrics["auc"]
    # The artifact holds the blended weights: a loaded predictor scores exactly as the job did.
    path = save_artifact(blended, tmp_path / "a")
    assert json.loads((path / "config.json").read_text())["linear_blend"]["alpha"] == blend["alpha"]
    predictor = load_artifact(path, device="cpu")
    np.testing.assert_allclose(predictor.predict(table.slice(425)), blended.test_predictions, atol=1e-6)
    # An artifact from before the temperature (no logit_scale in head.pt) loads with a scale of 1.
    state = torch.load(path / "head.pt", weights_only=True)
    state.pop("logit_scale")
    torch.save(state, path / "head.pt")
    assert load_artifact(path, device="cpu").model.logit_scale.item() == 1.0


def test_the_temperature_undoes_an_overconfident_scale():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    assert fit_temperature(8.0 * logits, labels) == pytest.approx(1 / 8, rel=0.1)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.1)


def test_the_regression_is_fitted_on_a_sample_of_rows_when_train_is_large(monkeypatch):
    import training.ml.linear_blend as lb

    monkeypatch.setattr(lb, "MAX_ROWS", 60)
    model = CTRModel(None, HeadConfig(vocab_sizes=[3, 2], n_text=0, n_numeric=1, embedding_dim=4, wide_buckets=16))
    valid = _split(100, 6)
    blend = fit_blend(model, _split(200, 5), valid, np.full(100, 0.5))
    assert blend is not None and blend.rows == 60
