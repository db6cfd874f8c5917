from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.factories import cancel_and_resume, interactions, splits
from training.ml import SpecError, TrainingCancelled, train


def test_model_learns_a_user_by_genre_pattern(tiny_base_model, table, spec, fast_params):
    events = []
    result = train(
        **splits(table),
        spec=spec,
        base_model=tiny_base_model,
        params={**fast_params, "epochs": 4},
        on_progress=events.append,
    )
    assert result.metrics["auc"] > 0.85
    assert set(result.metrics) >= {"auc", "logloss", "accuracy", "precision", "recall", "f1"}
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert steps and all({"step", "epoch", "loss", "progress"} <= set(e) for e in steps)
    assert len(evals) == 4 and all(0.0 <= e["auc"] <= 1.0 for e in evals)
    assert [p["step"] for p in result.history["val"]] == [e["step"] for e in evals]
    assert result.history["loss"][-1]["loss"] < result.history["loss"][0]["loss"]


def test_frozen_encoder_is_untouched_and_unfrozen_encoder_is_fine_tuned(tiny_base_model, table, spec, fast_params):
    from training.ml.base_model import load_encoder

    original = load_encoder(tiny_base_model).state_dict()

    def encoder_changed(params):
        result = train(**splits(table), spec=spec, base_model=tiny_base_model, params=params)
        tuned = result.model.encoder.state_dict()
        return any(not torch.equal(original[k], tuned[k].cpu()) for k in original)

    assert not encoder_changed({**fast_params, "freeze_encoder_steps": 10**6})
    assert encoder_changed({**fast_params, "freeze_encoder_steps": 5})


def test_should_stop_cancels_between_steps(tiny_base_model, table, spec, fast_params):
    seen = []
    with pytest.raises(TrainingCancelled):
        train(
            **splits(table),
            spec=spec,
            base_model=tiny_base_model,
            params=fast_params,
            on_progress=seen.append,
            should_stop=lambda: len(seen) >= 1,
        )
    assert max(e.get("step", 0) for e in seen) < 24


def test_resumed_job_finishes_with_the_same_model_as_an_uninterrupted_one(
    tiny_base_model, table, spec, fast_params, tmp_path
):
    params = {
        **fast_params,
        "checkpoint_every_steps": 4,
        "progress_every_steps": 1,
        "freeze_encoder_steps": 6,
        "dropout": 0.1,
    }
    resumed, straight = cancel_and_resume(
        table=table, spec=spec, base_model=tiny_base_model, params=params, device="cpu", checkpoint_dir=tmp_path
    )
    assert resumed.resumed_from_step == 8
    assert resumed.steps == straight.steps
    np.testing.assert_allclose(resumed.test_predictions, straight.test_predictions, atol=1e-6)
    assert [p["step"] for p in resumed.history["loss"]] == [p["step"] for p in straight.history["loss"]]


def test_checkpoint_of_other_inputs_is_not_resumed(tiny_base_model, table, spec, fast_params, tmp_path):
    train(**splits(table), spec=spec, base_model=tiny_base_model, params=fast_params, checkpoint_dir=tmp_path)
    other = train(
        **splits(table),
        spec=spec,
        base_model=tiny_base_model,
        params={**fast_params, "seed": 7},
        checkpoint_dir=tmp_path,
    )
    assert other.resumed_from_step is None


def test_early_stopping_keeps_the_best_validation_state(tiny_base_model, table, spec, fast_params):
    result = train(
        **splits(table),
        spec=spec,
        base_model=tiny_base_model,
        # No neighbourhood term: blended into the final logit after training, it moves the validation AUC.
        params={
            **fast_params,
            "epochs": 30,
            "lr": 0.05,
            "patience": 2,
            "freeze_encoder_steps": 10**6,
            "neighbours_k": 0,
        },
    )
    assert result.stopped_early
    best = max(result.history["val"], key=lambda p: p["auc"])
    assert result.best_step == best["step"]
    assert result.valid_metrics["auc"] == pytest.approx(best["auc"], abs=1e-4)


def test_segment_auc_is_reported_per_value(trained):
    segments = {s["segment"] for s in trained.segment_auc}
    assert segments <= {"drama", "comedy", "action"} and segments


def test_numeric_only_model_needs_no_encoder(table, fast_params):
    from training.ml import FeatureSpec

    spec = FeatureSpec(label_column="label", categorical_columns=["genre", "gender"], numeric_columns=["price"])
    result = train(**splits(table), spec=spec, params=fast_params)
    assert result.model.encoder is None and result.metrics["auc"] > 0.7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_model": "/nonexistent/model"}, "does not exist"),
        ({"base_model": "no-such-org/no-such-model"}, "local Hugging Face cache"),
        ({"label": "price"}, "must be binary"),
        ({"text": ["synopsis"]}, "'synopsis' not found"),
        ({"params": {"max_seq_len": 100000}}, "max_seq_len"),
    ],
)
def test_bad_input_is_a_spec_error(tiny_base_model, table, spec, fast_params, change, message):
    spec.label_column = change.get("label", spec.label_column)
    if spec.label_column == "price":
        spec.numeric_columns = []
    spec.text_columns = change.get("text", spec.text_columns)
    with pytest.raises(SpecError, match=message):
        train(
            **splits(table),
            spec=spec,
            base_model=change.get("base_model", tiny_base_model),
            params={**fast_params, **change.get("params", {})},
        )


def test_a_train_split_with_one_class_is_refused(tiny_base_model, spec, fast_params):
    table = interactions(60)
    one_class = table.set_column(table.column_names.index("label"), "label", __import__("pyarrow").array([1] * 60))
    with pytest.raises(SpecError, match="one label class"):
        train(**splits(one_class), spec=spec, base_model=tiny_base_model, params=fast_params)


def test_fine_tuning_can_bound_the_texts_encoded_per_step(tiny_base_model, table, spec, fast_params, monkeypatch):
    from training.ml.model import CTRModel

    sizes = []
    original = CTRModel.encode_texts

    def recording(self, input_ids, attention_mask=None):
        if torch.is_grad_enabled():
            sizes.append(input_ids.shape[0])
        return original(self, input_ids, attention_mask)

    monkeypatch.setattr(CTRModel, "encode_texts", recording)
    result = train(
        **splits(table), spec=spec, base_model=tiny_base_model, params={**fast_params, "encoder_texts_per_step": 3}
    )
    assert sizes and max(sizes) <= 3
    assert result.metrics["auc"] > 0.7


def test_early_stopping_cannot_end_the_cpu_recipe_before_its_fine_tune_steps(tiny_base_model, table, spec, fast_params):
    from training.ml.base_model import load_encoder
    from training.ml.recipes import CPU_FINETUNE_STEPS, choose_recipe

    parts = splits(table)
    # A high lr and patience 1 plateau within a few epochs, long before the planned fine-tuning.
    explicit = {**fast_params, "epochs": 40, "lr": 0.05, "patience": 1, "progress_every_steps": 1}
    recipe = choose_recipe(explicit, train_rows=parts["train_table"].num_rows, device="cpu")
    events = []
    result = train(**parts, spec=spec, base_model=tiny_base_model, params=recipe.params, on_progress=events.append)

    steps = [e for e in events if e["event"] == "step"]
    frozen = [e["step"] for e in steps if e["encoder_frozen"]]
    tuned = [e["step"] for e in steps if not e["encoder_frozen"]]
    planned_total = steps[0]["total_steps"]
    assert recipe.params["freeze_encoder_steps"] == planned_total - CPU_FINETUNE_STEPS
    # The plateau came while the encoder was frozen: the fine-tuning phase started there and ran
    # its planned steps in full, then the run ended (early, with the best state restored).
    assert max(frozen) < recipe.params["freeze_encoder_steps"]
    assert len(tuned) == CPU_FINETUNE_STEPS and tuned == list(range(max(frozen) + 1, result.steps + 1))
    assert result.stopped_early and result.steps < planned_total
    assert steps[-1]["total_steps"] == result.steps  # progress counts to the new end
    assert result.history["val"][-1]["step"] == result.steps  # the fine-tuned state was evaluated
    best = max(result.history["val"], key=lambda p: p["auc"])
    assert result.best_step == best["step"]
    original = load_encoder(tiny_base_model).state_dict()
    tuned_encoder = result.model.encoder.state_dict()
    changed = any(not torch.equal(original[k], tuned_encoder[k].cpu()) for k in original)
    # The encoder kept is the best state's: fine-tuned when a fine-tuned step was best, else the original.
    assert changed == (best["step"] > max(frozen))
