"""Training recipes that fit the device: the defaults a job gets for the parameters it leaves out.

- CPU (`cpu_frozen_then_finetune`): the encoder stays frozen and the head trains on text
  embeddings computed once, for all but the last `CPU_FINETUNE_STEPS` steps; those fine-tune the
  encoder with `encoder_texts_per_step` sampled texts per step (the rest of the batch uses cached
  embeddings), 20 epochs of 512 rows. When validation AUC stops improving earlier (patience),
  the fine-tuning steps start there (train.py: "freeze until plateau, then fine-tune"), and the
  best validation state is kept, so a fine-tune that does not help costs time, not AUC. Full
  fine-tuning runs at a few samples/s on two cores; this reaches the same AUC on ml-100k in
  minutes (`bench/train.py`, `bench/quality.py`).
- CUDA (`cuda_full_finetune`): every step fine-tunes the encoder on all of the batch's texts
  (`TrainParams`' own defaults), which a GPU does at thousands of samples/s.

Explicit parameters always win: a recipe only fills in what the caller did not give. The
returned `Recipe` says which ran, why, and which of its values were overridden, so the job page
and the model version can show it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from training.ml.device import pick_device
from training.ml.params import TrainParams

CPU_RECIPE = "cpu_frozen_then_finetune"
CUDA_RECIPE = "cuda_full_finetune"

# The encoder is fine-tuned for N steps only on CPU: the last ones, or from a validation plateau.
CPU_FINETUNE_STEPS = 30

# What the CPU recipe sets (freeze_encoder_steps is derived from the step count below).
CPU_PARAMS: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 512,
    "lr": 5e-3,
    "encoder_lr": 3e-5,
    "weight_decay": 0.01,
    "embedding_dim": 64,
    "embedding_l2": 0.03,
    "text_l2_factor": 3.0,
    "warmup_ratio": 0.02,
    "patience": 3,
    "max_seq_len": 32,
    "encoder_texts_per_step": 64,
    # Slower than TrainParams' 1e-2: hashed title words and crosses memorized ml-100k's train split
    # (time split test AUC: 0.6987 at 1e-2, 0.7127 at 1e-3 in bench/quality.py; 0.7097 at 3e-3 with
    # the head alone), while the demo reviews, where words carry the signal, lost 0.001-0.004 below 1e-2.
    "wide_lr": 3e-3,
}

# CUDA: TrainParams' defaults, which fine-tune the whole encoder on every step.
CUDA_PARAMS: dict[str, Any] = {"freeze_encoder_steps": 0, "encoder_texts_per_step": 0}


@dataclass
class Recipe:
    name: str
    device: str  # "cpu" or "cuda"
    reason: str
    applied: dict[str, Any] = field(default_factory=dict)  # defaults the recipe filled in
    overridden: list[str] = field(default_factory=list)  # recipe parameters the caller set
    params: dict[str, Any] = field(default_factory=dict)  # the complete parameters that ran

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_recipe(
    explicit: dict[str, Any] | None,
    *,
    train_rows: int,
    device: str | torch.device | None = None,
    has_text: bool = True,
) -> Recipe:
    """The parameters a job runs with: `explicit` (validated by TrainParams) over the device's recipe.

    `device` None picks CUDA when present, as training does; tests inject "cuda" or "cpu".
    """
    explicit = dict(explicit or {})
    TrainParams.from_dict(explicit)  # unknown or out-of-range values fail here, before anything
    dev = pick_device(device)
    if dev.type == "cuda":
        name, recipe_params = CUDA_RECIPE, dict(CUDA_PARAMS)
        reason = "a CUDA device is present: the encoder is fine-tuned on every step"
    else:
        name, recipe_params = CPU_RECIPE, dict(CPU_PARAMS)
        reason = (
            "no CUDA device: full fine-tuning runs at a few samples/s on CPU, so the head trains on "
            f"cached text embeddings and the encoder is fine-tuned for {CPU_FINETUNE_STEPS} steps only, from "
            "when validation AUC stops improving (or the last steps)"
        )
        if not has_text:
            reason = "no CUDA device and no text columns: no encoder to fine-tune, the head trains for 20 epochs"
    applied = {k: v for k, v in recipe_params.items() if k not in explicit}
    merged = {**applied, **explicit}
    if dev.type != "cuda" and "freeze_encoder_steps" not in explicit:
        defaults = TrainParams()
        epochs = int(merged.get("epochs", defaults.epochs))
        batch = int(merged.get("batch_size", defaults.batch_size))
        total = epochs * math.ceil(max(train_rows, 1) / batch)
        applied["freeze_encoder_steps"] = max(0, total - CPU_FINETUNE_STEPS)
        merged["freeze_encoder_steps"] = applied["freeze_encoder_steps"]
    overridden = sorted(k for k in explicit if k in recipe_params or k == "freeze_encoder_steps")
    if overridden:
        reason += f"; explicit parameters win: {', '.join(overridden)}"
    params = TrainParams.from_dict(merged).to_dict()
    return Recipe(name=name, device=dev.type, reason=reason, applied=applied, overridden=overridden, params=params)
