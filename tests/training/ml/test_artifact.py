from __future__ import annotations

import json

import numpy as np
import pytest

from tests.factories import item, splits
from training.ml import load_artifact, save_artifact


def test_loaded_artifact_predicts_what_training_predicted(trained, table, tmp_path):
    path = save_artifact(trained, tmp_path / "v1")
    predictor = load_artifact(path, device="cpu")
    test = splits(table)["test_table"]
    np.testing.assert_allclose(predictor.predict(test), trained.test_predictions, atol=1e-6)


def test_artifact_holds_everything_needed_to_reproduce_the_version(trained, tmp_path):
    path = save_artifact(trained, tmp_path / "v1", extra_config={"dataset_versions": [3]})
    for name in (
        "encoder/config.json",
        "tokenizer/tokenizer_config.json",
        "head.pt",
        "feature_spec.json",
        "metrics.json",
        "history.json",
        "config.json",
        "items.parquet",
        "item_text_embeddings.npy",
        "manifest.json",
    ):
        assert (path / name).exists(), name
    config = json.loads((path / "config.json").read_text())
    assert config["dataset_versions"] == [3]
    assert config["versions"]["torch"] and config["versions"]["transformers"]
    assert config["code_version"] and config["device"].startswith("cpu")
    assert config["params"]["epochs"] == trained.params.epochs
    spec = json.loads((path / "feature_spec.json").read_text())
    assert spec["vocabularies"]["genre"] and spec["unknown_id"] == 0
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["test"]["auc"] == pytest.approx(trained.metrics["auc"])


def test_saving_over_an_existing_version_is_refused(trained, tmp_path):
    save_artifact(trained, tmp_path / "v1")
    with pytest.raises(FileExistsError):
        save_artifact(trained, tmp_path / "v1")
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]  # no half-written leftovers


def test_item_table_keeps_item_level_features_only(trained):
    assert set(trained.item_columns) == {"genre", "title", "price"}  # not gender (a user trait)
    ids = trained.item_table.column("item_id").to_pylist()
    assert len(ids) == len(set(ids))


def test_score_by_item_id_matches_predict_on_full_rows(trained, tmp_path):
    predictor = load_artifact(save_artifact(trained, tmp_path / "v1"), device="cpu")
    user = {"user_id": 3, "gender": "M"}
    candidates = [0, 1, 2, 5]
    rows = [{**user, **item(j)} for j in candidates]
    np.testing.assert_allclose(predictor.score(user, candidates), predictor.predict(rows), atol=1e-6)
    ranked = predictor.rank(user, candidates, k=2)
    assert len(ranked) == 2 and ranked[0]["score"] >= ranked[1]["score"]
    assert {r["item_id"] for r in ranked} <= {"0", "1", "2", "5"}


def test_serving_does_not_run_the_encoder_for_known_items(trained, tmp_path):
    predictor = load_artifact(save_artifact(trained, tmp_path / "v1"), device="cpu")
    calls = []
    original = predictor.model.encode_texts
    predictor.model.encode_texts = lambda *a, **k: calls.append(1) or original(*a, **k)
    predictor.score({"user_id": 1, "gender": "F"}, [0, 1, 2])
    assert calls == [] or len(calls) == 1  # at most the user's empty text, once
    before = len(calls)
    predictor.score({"user_id": 2, "gender": "M"}, [3, 4])
    assert len(calls) == before  # nothing new to encode


def test_unknown_items_are_scored_from_the_features_given(trained, tmp_path):
    predictor = load_artifact(save_artifact(trained, tmp_path / "v1"), device="cpu")
    new = {"item_id": 999, "genre": "drama", "title": "a brand new drama", "price": 3.0}
    scores = predictor.score({"user_id": 1, "gender": "F"}, [new, 0])
    assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))


def test_item_embeddings_cover_every_item(trained, tmp_path):
    predictor = load_artifact(save_artifact(trained, tmp_path / "v1"), device="cpu")
    ids, emb = predictor.item_embeddings()
    assert len(ids) == emb.shape[0] == trained.item_table.num_rows
    assert emb.shape[1:] == (1, trained.head_config.text_dim)
