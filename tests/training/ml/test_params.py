from __future__ import annotations

import pytest

from training.ml import SpecError, TrainParams


def test_defaults_round_trip():
    params = TrainParams.from_dict({"lr": 0.01, "epochs": 2, "hidden_units": [8]})
    assert TrainParams.from_dict(params.to_dict()) == params


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"lr": 0}, "'lr' = 0.0 is out of range"),
        ({"batch_size": 0}, "'batch_size' = 0 is out of range"),
        ({"epochs": 1.5}, "'epochs' must be an integer"),
        ({"dropout": 1.0}, "'dropout' = 1.0 is out of range"),
        ({"weight_decay": float("nan")}, "'weight_decay' must be a finite number"),
        ({"learning_rate": 0.1}, "unknown parameter"),
        ({"compile": "yes"}, "'compile' must be true or false"),
        ({"hidden_units": [0]}, "'hidden_units' must be a list"),
        ({"seed": True}, "'seed' must be an integer"),
    ],
)
def test_bad_parameters_are_refused_with_the_parameter_named(given, message):
    with pytest.raises(SpecError, match=message):
        TrainParams.from_dict(given)
