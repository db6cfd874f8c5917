"""Refit: once validation has picked how long to train, train again on train + validation.

Early stopping spends the validation split on one decision, the step count. Recommendation data
is where more rows help most (every user and item is seen a little more often, and under a time
split the validation rows are the most recent ones before the test period), so after the first
pass a fresh model is trained on train + validation for as many epochs as the first pass needed
to reach its best validation AUC, with the same recipe, and the test split, never seen by either
pass, scores it. The first pass's choices are kept: its validation metrics (the refit has no
held-out validation rows of its own), its linear blend's C, alpha and temperature
(linear_blend.apply_blend), and the share of fine-tuning steps the encoder had up to its best
state. The version records both passes' test AUC. No Django here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from training.ml.params import TrainParams


@dataclasses.dataclass
class RefitPlan:
    params: TrainParams  # the first pass's parameters with the refit's epochs and encoder window
    rows: int
    steps: int
    encoder_steps: int  # steps that fine-tune the encoder (the last ones)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "steps": self.steps,
            "epochs": self.params.epochs,
            "encoder_steps": self.encoder_steps,
        }


def refit_possible(valid_labels: np.ndarray) -> bool:
    """Whether validation can pick the refit's step count: it holds both classes. Without validation
    rows nothing was picked, and with one class the pick is by log loss on that class alone (no AUC),
    which rewards predicting it rather than ranking: the first pass is kept."""
    return len(valid_labels) > 0 and len(np.unique(valid_labels)) > 1


def plan_refit(
    params: TrainParams,
    *,
    train_rows: int,
    rows: int,
    best_step: int,
    finetune_start: int,
    has_encoder: bool,
) -> RefitPlan | None:
    """The refit's parameters for `rows` (train + validation) after a first pass on `train_rows` whose
    best validation state came at `best_step`, with the encoder fine-tuned from `finetune_start`: as
    many epochs as the first pass needed (its epochs were `train_rows` long; a part of one counts as
    one). None when there is nothing to refit (no evaluation picked a step)."""
    if best_step <= 0 or rows <= 0 or train_rows <= 0:
        return None
    epochs = max(1, math.ceil(best_step / math.ceil(train_rows / params.batch_size)))
    steps = epochs * math.ceil(rows / params.batch_size)
    if not has_encoder:
        encoder_steps = 0
    elif finetune_start <= 0:  # the encoder was fine-tuned from the first step (the CUDA recipe)
        encoder_steps = steps
    else:  # as many fine-tuning steps as the best state had, at the end
        encoder_steps = min(max(best_step - finetune_start, 0), steps)
    refit = dataclasses.replace(params, epochs=epochs, freeze_encoder_steps=steps - encoder_steps, patience=0)
    return RefitPlan(params=refit, rows=rows, steps=steps, encoder_steps=encoder_steps)
