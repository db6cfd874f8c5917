"""List columns (behaviour sequences) as a feature: target attention of the candidate over the history's
item embeddings (the default with an item column), or hashed ids mean-pooled (artifacts from before)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tests.factories import shop_sequences, train_sequence_model
from training.ml import SpecError, load_artifact, save_artifact
from training.ml.features import FeatureSpec
from training.ml.sequence import PAD, encode_lists, hash_key


def test_encoding_keeps_the_last_ids_and_hashes_an_integer_and_its_string_alike() -> None:
    column = pa.array([[1, 2, 3, 4], [], None, [5]], pa.list_(pa.int64()))
    slots = encode_lists(column, name="h", buckets=97, max_len=3)
    assert slots.shape == (4, 3)
    assert slots[0].tolist() == [hash_key("2", 97), hash_key("3", 97), hash_key("4", 97)]  # the 3 most recent
    assert slots[1].tolist() == slots[2].tolist() == [PAD] * 3  # empty and missing lists pool to nothing
    as_strings = encode_lists(pa.array([["5"]]), name="h", buckets=97, max_len=3)
    assert as_strings[0].tolist() == slots[3].tolist() == [hash_key("5", 97), PAD, PAD]
    assert all(1 <= s < 97 for s in slots[0])


@pytest.mark.parametrize(
    ("values", "type_", "message"),
    [
        ([[[1, 2]], [[3]]], pa.list_(pa.list_(pa.int64())), "not nested lists"),
        ([[0.5, 1.5]], pa.list_(pa.float64()), "holds double values"),
        ([{"a": 1}], pa.struct([("a", pa.int64())]), "needs a column of lists of item ids"),
        (["i1"], pa.string(), "needs a column of lists of item ids"),
    ],
)
def test_a_list_column_training_cannot_pool_is_refused_by_name(values: list, type_: pa.DataType, message: str) -> None:
    table = pa.table({"h": pa.array(values * 2, type_), "label": [0, 1] * len(values)})
    spec = FeatureSpec(label_column="label", list_columns=["h"])
    with pytest.raises(SpecError, match="list column 'h'") as caught:
        spec.fit(table)
    assert message in str(caught.value)


def test_bad_list_settings_are_refused() -> None:
    with pytest.raises(SpecError, match="list_buckets"):
        FeatureSpec(label_column="label", list_columns=["h"], list_buckets=1).check_definition()
    with pytest.raises(SpecError, match="named as both"):
        FeatureSpec(label_column="label", categorical_columns=["h"], list_columns=["h"]).check_definition()


def test_the_spec_round_trips_and_an_old_spec_reads_without_lists() -> None:
    spec = FeatureSpec(label_column="label", list_columns=["h"], list_buckets=11, list_max_len=4)
    again = FeatureSpec.from_dict(spec.to_dict())
    assert (again.list_columns, again.list_buckets, again.list_max_len) == (["h"], 11, 4)
    old = FeatureSpec(label_column="label", categorical_columns=["a"]).to_dict()
    assert "list_columns" not in old and FeatureSpec.from_dict(old).list_columns == []


def test_a_model_learns_from_a_list_column_and_its_artifact_scores_the_same(tmp_path: Path) -> None:
    with_history = train_sequence_model(with_history=True)
    without = train_sequence_model(with_history=False)
    # The label depends on the history alone: only the model that sees it can rank well.
    assert with_history.metrics["auc"] > 0.65
    assert with_history.metrics["auc"] > without.metrics["auc"] + 0.1
    save_artifact(with_history, tmp_path / "seq")
    predictor = load_artifact(tmp_path / "seq", device="cpu")
    assert predictor.model.head_config.list_buckets == [211]
    test_rows = shop_sequences(seed=0).slice(500)
    np.testing.assert_allclose(predictor.predict(test_rows), with_history.test_predictions, atol=1e-5)
    # The history moves the score: the same row with and without i7 seen before.
    row = test_rows.slice(0, 1).to_pylist()[0]
    seen, unseen = predictor.predict([{**row, "history": ["i7"]}, {**row, "history": ["i3"]}])
    assert seen > unseen


def test_under_attention_history_ids_are_the_item_vocabulary_and_unseen_items_are_padding() -> None:
    table = pa.table(
        {
            "item_id": ["a", "b", "c", "a"],
            "history": pa.array([[], ["a"], ["a", "b", "zz"], ["c", "b"]], pa.list_(pa.string())),
            "label": [0, 1, 0, 1],
        }
    )
    fitted = FeatureSpec(label_column="label", item_column="item_id", list_columns=["history"], list_max_len=3).fit(
        table.slice(0, 3)  # "train": item "zz" never appears as an item, so it cannot have been learned
    )
    assert fitted.list_pooling == "attention"
    ids = {v: i + 1 for i, v in enumerate(fitted.vocabularies["item_id"])}
    slots = fitted.list_slots(table)[:, 0]
    assert slots[1].tolist() == [ids["a"], PAD, PAD]
    assert slots[2].tolist() == [ids["a"], ids["b"], PAD]  # "zz": padding, as in serving
    assert slots[3].tolist() == [ids["c"], ids["b"], PAD]
    with pytest.raises(SpecError, match="name item_column"):
        FeatureSpec(label_column="label", list_columns=["history"], list_pooling="attention").check_definition()


def test_the_attention_model_trains_and_its_artifact_scores_as_at_training(tmp_path: Path) -> None:
    result = train_sequence_model(with_history=True)
    assert result.head_config.list_pooling == "attention"
    assert result.metrics["auc"] > 0.65
    save_artifact(result, tmp_path / "seq")
    predictor = load_artifact(tmp_path / "seq", device="cpu")
    assert predictor.spec.list_pooling == "attention"
    assert len(predictor.model.list_pooling) == 0 and len(predictor.model.list_attention) == 1
    test_rows = shop_sequences(seed=0).slice(500)
    np.testing.assert_allclose(predictor.predict(test_rows), result.test_predictions, atol=1e-5)


def test_a_mean_pooled_artifact_saved_before_attention_existed_loads_and_scores_the_same(tmp_path: Path) -> None:
    result = train_sequence_model(with_history=True, list_pooling="mean")
    path = save_artifact(result, tmp_path / "old")
    # What an artifact of the first list-column release holds: no pooling keys at all.
    for name, keys in (
        ("head_config.json", ("list_pooling", "list_item_field", "list_attention_units", "list_dropout")),
        ("feature_spec.json", ("list_pooling",)),
    ):
        data = json.loads((path / name).read_text())
        assert all(k in data for k in keys)
        (path / name).write_text(json.dumps({k: v for k, v in data.items() if k not in keys}))
    predictor = load_artifact(path, device="cpu")
    assert predictor.spec.list_pooling == "mean" and predictor.model.head_config.list_pooling == "mean"
    test_rows = shop_sequences(seed=0).slice(500)
    np.testing.assert_allclose(predictor.predict(test_rows), result.test_predictions, atol=1e-5)
