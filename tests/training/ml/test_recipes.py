"""Defaults that fit the device: the CPU recipe of bench/train.py, full fine-tuning on CUDA,
explicit parameters always winning."""

from __future__ import annotations

import pytest

from training.ml import SpecError
from training.ml.recipes import CPU_FINETUNE_STEPS, CPU_PARAMS, CPU_RECIPE, CUDA_RECIPE, choose_recipe


def test_cpu_defaults_freeze_the_encoder_for_all_but_the_last_steps():
    recipe = choose_recipe({}, train_rows=80_000, device="cpu")
    assert recipe.name == CPU_RECIPE and recipe.device == "cpu"
    p = recipe.params
    total = 20 * -(-80_000 // 512)
    assert (p["epochs"], p["batch_size"], p["encoder_texts_per_step"]) == (20, 512, 64)
    assert p["freeze_encoder_steps"] == total - CPU_FINETUNE_STEPS
    assert "no CUDA device" in recipe.reason and recipe.overridden == []


def test_cuda_defaults_fine_tune_the_encoder_on_every_step():
    recipe = choose_recipe({}, train_rows=80_000, device="cuda")
    assert recipe.name == CUDA_RECIPE and recipe.device == "cuda"
    assert recipe.params["freeze_encoder_steps"] == 0 and recipe.params["encoder_texts_per_step"] == 0
    assert "CUDA" in recipe.reason


def test_explicit_parameters_win_and_the_reason_names_them():
    recipe = choose_recipe(
        {"epochs": 2, "batch_size": 100, "encoder_texts_per_step": 0}, train_rows=1_000, device="cpu"
    )
    p = recipe.params
    assert (p["epochs"], p["batch_size"], p["encoder_texts_per_step"]) == (2, 100, 0)
    # the derived freeze follows the explicit epochs and batch size: 2 x 10 steps, the last 30 fine-tune
    assert p["freeze_encoder_steps"] == 0
    assert recipe.overridden == ["batch_size", "encoder_texts_per_step", "epochs"]
    assert "explicit parameters win: batch_size, encoder_texts_per_step, epochs" in recipe.reason
    assert "epochs" not in recipe.applied and recipe.applied["lr"] == CPU_PARAMS["lr"]

    frozen = choose_recipe({"freeze_encoder_steps": 5}, train_rows=1_000, device="cpu")
    assert frozen.params["freeze_encoder_steps"] == 5 and frozen.overridden == ["freeze_encoder_steps"]


def test_bad_explicit_parameters_are_refused_before_any_recipe():
    with pytest.raises(SpecError, match="unknown parameter"):
        choose_recipe({"epoch": 3}, train_rows=10, device="cpu")
    with pytest.raises(SpecError, match="out of range"):
        choose_recipe({"epochs": 0}, train_rows=10, device="cpu")
