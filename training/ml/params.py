"""Training parameters with their ranges; out-of-range or unknown values are a SpecError (400)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from training.ml.features import SpecError

# name -> (low, high) inclusive; None means unbounded on that side.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "lr": (1e-7, 1.0),
    "encoder_lr": (0.0, 1.0),
    "batch_size": (1, 65_536),
    "epochs": (1, 1_000),
    "max_seq_len": (2, 4_096),
    "warmup_ratio": (0.0, 0.9),
    "weight_decay": (0.0, 10.0),
    "seed": (0, 2**31 - 1),
    "patience": (0, 1_000),
    "freeze_encoder_steps": (0, None),
    "encoder_texts_per_step": (0, None),
    "eval_every_steps": (0, None),
    "checkpoint_every_steps": (0, None),
    "progress_every_steps": (1, None),
    "embedding_dim": (1, 1_024),
    "dropout": (0.0, 0.95),
    "embedding_l2": (0.0, 100.0),
    "text_l2_factor": (0.0, 1000.0),
    "max_vocab_size": (1, 50_000_000),
    "min_count": (1, None),
    "threshold": (0.0, 1.0),
    "max_grad_norm": (0.0, None),
    "segment_min_count": (1, None),
    "wide_buckets": (0, 1 << 24),
    "wide_l2": (0.0, 100.0),
    "wide_lr": (0.0, 10.0),
    "list_dropout": (0.0, 0.95),
    "ema_decay": (0.0, 0.9999),
    "neighbours_k": (0, 10_000),
}


@dataclass
class TrainParams:
    lr: float = 2e-3  # the head's learning rate
    encoder_lr: float = 3e-5  # the pre-trained encoder's, much smaller so it is nudged, not wiped
    batch_size: int = 512
    epochs: int = 3
    max_seq_len: int = 64
    warmup_ratio: float = 0.05  # share of all steps spent warming each group's lr up from 0
    weight_decay: float = 0.01
    seed: int = 0
    patience: int = 2  # evaluations without a better validation AUC before stopping; 0 = never
    # The encoder stays frozen for the first N steps; meanwhile text embeddings are computed once
    # and the head trains on them, which is much cheaper. N >= total steps never fine-tunes it.
    freeze_encoder_steps: int = 0
    # While fine-tuning, at most this many of a batch's distinct texts go through the encoder
    # (sampled); the others use the embeddings cached at the last evaluation. 0 = all of them.
    encoder_texts_per_step: int = 0
    eval_every_steps: int = 0  # 0 = at the end of each epoch
    checkpoint_every_steps: int = 200  # 0 = only at the end of each epoch
    progress_every_steps: int = 20
    embedding_dim: int = 64
    # "two_tower": only item-side x user/context-side pairs interact (needs item_column);
    # "fm": all pairs; "auto": two_tower when an item column is named, else fm.
    interaction: str = "auto"
    # L2 penalty on the field vectors each row uses (mean over the batch), the usual way to
    # regularize factorization models: frequent ids are pulled in often, rare ones seldom.
    embedding_l2: float = 0.03
    text_l2_factor: float = 3.0  # text projections are penalized this many times more
    hidden_units: list[int] = field(default_factory=list)  # an MLP added to the logit; [] = none
    dropout: float = 0.1
    max_vocab_size: int = 1_000_000
    min_count: int = 1
    threshold: float = 0.5
    max_grad_norm: float = 1.0
    segment_column: str | None = None
    segment_min_count: int = 20
    compile: bool = False  # torch.compile the model (CUDA only)
    # The wide part (wide.py): hashed word n-grams of text columns and same-side categorical
    # crosses, a linear term trained with the rest. 0 = none.
    wide_buckets: int = 1 << 18
    wide_l2: float = 1e-3  # L2 penalty on the wide weights a row uses (mean over the batch)
    wide_lr: float = 1e-2  # the wide weights' learning rate (sparse: each is updated seldom)
    # Evaluation and the kept state use a moving average of the head's weights (ema.py); 0 = off.
    ema_decay: float = 0.99
    # After training, blend a logistic regression on the same features into the linear terms, as much
    # of it as validation AUC asks for (linear_blend.py).
    linear_blend: bool = True
    # Once validation has picked the step count, train a fresh model on train + validation for as
    # many epochs and keep that one (refit.py); the test split stays held out. False: the first pass.
    refit: bool = True
    # With user and item columns: blend item- and user-based neighbourhood terms (collaborative filtering
    # on the label's residuals, the k most similar items and users) into the final logit, as much as
    # validation AUC asks for (neighbours.py). 0 = none.
    neighbours_k: int = 50
    # Attention-pooled list columns (sequence.py): share of a row's history items dropped per step.
    list_dropout: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainParams:
        data = dict(data or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise SpecError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        defaults = cls()
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[name] = _coerce(name, value, getattr(defaults, name))
        return cls(**values)


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name == "segment_column":
        if value is None or isinstance(value, str):
            return value or None
        raise SpecError("parameter 'segment_column' must be a column name")
    if name == "interaction":
        if value not in ("auto", "fm", "two_tower"):
            raise SpecError("parameter 'interaction' must be 'auto', 'fm' or 'two_tower'")
        return value
    if name == "hidden_units":
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65_536 for v in value
        ):
            raise SpecError("parameter 'hidden_units' must be a list of integers in 1..65536")
        return list(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SpecError(f"parameter '{name}' must be true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise SpecError(f"parameter '{name}' must be an integer, got {value!r}")
        value = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"parameter '{name}' must be a number, got {value!r}")
        value = float(value)
    if not math.isfinite(value):
        raise SpecError(f"parameter '{name}' must be a finite number")
    low, high = _RANGES.get(name, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{'' if low is None else low}..{'' if high is None else high}"
        raise SpecError(f"parameter '{name}' = {value} is out of range ({bounds})")
    return value
