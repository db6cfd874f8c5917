from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from training.ml import FeatureSpec, SpecError
from training.ml.features import UNKNOWN_ID


def _spec(**kw) -> FeatureSpec:
    base = {"label_column": "y", "categorical_columns": ["c"], "numeric_columns": ["x"]}
    return FeatureSpec(**{**base, **kw})


def test_unseen_and_missing_categories_fall_into_the_unknown_bucket():
    train = pa.table({"c": ["a", "b", "a", None], "x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    fitted = _spec().fit(train)
    assert fitted.vocabularies["c"] == ["a", "b"]  # most frequent first
    ids = fitted.categorical_ids(pa.table({"c": ["a", "b", "zzz", None]}))
    assert ids[:, 0].tolist() == [1, 2, UNKNOWN_ID, UNKNOWN_ID]


def test_numeric_columns_are_standardized_and_missing_values_become_the_mean():
    train = pa.table({"c": ["a"] * 4, "x": [1.0, 3.0, None, 5.0], "y": [0, 1, 0, 1]})
    fitted = _spec().fit(train)
    assert fitted.numeric_stats["x"]["mean"] == pytest.approx(3.0)
    values = fitted.numeric_values(pa.table({"x": [3.0, None, 5.0]}))[:, 0]
    assert values[0] == pytest.approx(0.0) and values[1] == pytest.approx(0.0)
    assert values[2] == pytest.approx(2.0 / np.std([1.0, 3.0, 5.0]))


def test_user_and_item_columns_are_categorical_features_even_if_not_listed():
    spec = _spec(user_column="u", item_column="i")
    assert spec.categorical_features == ["c", "u", "i"]


def test_fitted_spec_round_trips_through_json_dict():
    import json

    train = pa.table({"c": ["a", "b"], "x": [1, 2], "y": [True, False]})
    fitted = _spec(text_columns=["t"]).fit(train.append_column("t", pa.array(["x", "y"])))
    again = FeatureSpec.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted
    assert again.to_dict()["unknown_id"] == UNKNOWN_ID


def test_integer_and_float_ids_land_in_the_same_bucket():
    fitted = _spec().fit(pa.table({"c": [24, 30], "x": [1.0, 2.0], "y": [0, 1]}))
    ids = fitted.categorical_ids(pa.table({"c": pa.array([24.0, 30.0])}))
    assert ids[:, 0].tolist() == [1, 2] or ids[:, 0].tolist() == [2, 1]
    assert UNKNOWN_ID not in ids[:, 0].tolist()


def test_non_binary_label_is_refused_with_the_column_named():
    with pytest.raises(SpecError, match="label column 'y' must be binary"):
        _spec().fit(pa.table({"c": ["a"] * 3, "x": [1, 2, 3], "y": [1, 2, 3]}))


def test_text_labels_true_false_are_accepted():
    labels = _spec().labels(pa.table({"y": ["true", "False", " 1 ", "0"]}))
    assert labels.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_missing_label_values_are_refused():
    with pytest.raises(SpecError, match="missing"):
        _spec().labels(pa.table({"y": [1, None, 0]}))


def test_missing_columns_are_all_named():
    with pytest.raises(SpecError, match=r"'c'.*'x'"):
        _spec().check_columns(["y", "other"])


def test_a_column_in_two_roles_is_refused():
    with pytest.raises(SpecError, match="both"):
        _spec(numeric_columns=["c"]).check_definition()


def test_label_used_as_feature_is_refused():
    with pytest.raises(SpecError, match="label column"):
        _spec(categorical_columns=["y"]).check_definition()


def test_non_numeric_values_in_a_numeric_column_are_refused():
    with pytest.raises(SpecError, match="numeric column 'x'"):
        _spec().fit(pa.table({"c": ["a", "b"], "x": ["cheap", "dear"], "y": [0, 1]}))
