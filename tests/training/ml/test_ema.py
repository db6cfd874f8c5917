"""The moving average of the head's weights (training/ml/ema.py)."""

from __future__ import annotations

import pytest
import torch

from training.ml.ema import HeadAverage
from training.ml.features import SpecError
from training.ml.params import TrainParams


class _Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(2, 1)
        self.encoder = torch.nn.Linear(2, 2)


def test_the_average_follows_early_steps_closely_and_later_ones_slowly():
    model = _Model()
    average = HeadAverage(model, decay=0.99)
    assert {n for n, _ in average.params} == {"head.weight", "head.bias"}  # the encoder is not averaged
    start = model.head.bias.detach().clone()
    with torch.no_grad():
        model.head.bias.add_(1.0)
    average.update()  # step 0: d = 1/10, the average moves 90% of the way
    torch.testing.assert_close(average.average["head.bias"], start + 0.9)
    for _ in range(2000):
        average.update()
    assert average.updates == 2001
    with torch.no_grad():
        model.head.bias.add_(1.0)
    before = average.average["head.bias"].clone()
    average.update()  # late: d = 0.99
    torch.testing.assert_close(average.average["head.bias"], before + 0.01 * (model.head.bias.detach() - before))


def test_swapped_in_gives_back_the_models_own_weights_and_the_state_round_trips():
    model = _Model()
    average = HeadAverage(model, decay=0.5)
    with torch.no_grad():
        model.head.weight.mul_(3.0)
    average.update()
    own = model.head.weight.detach().clone()
    with average.swapped_in():
        torch.testing.assert_close(model.head.weight.detach(), average.average["head.weight"])
    torch.testing.assert_close(model.head.weight.detach(), own)
    other = HeadAverage(_Model(), decay=0.5)
    other.load_state_dict(average.state_dict())
    assert other.updates == 1
    torch.testing.assert_close(other.average["head.weight"], average.average["head.weight"])


def test_ema_decay_is_validated():
    assert TrainParams().ema_decay == 0.99
    assert TrainParams.from_dict({"ema_decay": 0}).ema_decay == 0.0
    with pytest.raises(SpecError, match="ema_decay"):
        TrainParams.from_dict({"ema_decay": 1.0})
