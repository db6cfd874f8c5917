"""Pure PyTorch / transformers code for CTR fine-tuning; imports nothing from Django.

The Django app `training` drives it; serving loads its artifacts with `load_artifact`.
"""

from __future__ import annotations

from training.ml.artifact import load_artifact, save_artifact
from training.ml.base_model import DEFAULT_BASE_MODEL, resolve_base_model
from training.ml.features import FeatureSpec, SpecError
from training.ml.params import TrainParams
from training.ml.predictor import Predictor
from training.ml.splits import split_by_user, split_random, split_time
from training.ml.train import TrainingCancelled, TrainResult, train

__all__ = [
    "DEFAULT_BASE_MODEL",
    "FeatureSpec",
    "Predictor",
    "SpecError",
    "TrainParams",
    "TrainResult",
    "TrainingCancelled",
    "load_artifact",
    "resolve_base_model",
    "save_artifact",
    "split_by_user",
    "split_random",
    "split_time",
    "train",
]
