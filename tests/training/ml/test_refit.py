"""The second pass on train + validation (training/ml/refit.py and train.py's _refit)."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow.compute as pc
import pytest
import torch
from sklearn.metrics import roc_auc_score

from tests.factories import splits
from training.ml import TrainingCancelled, train
from training.ml.batches import EncodedSplit, concat_splits
from training.ml.params import TrainParams
from training.ml.refit import plan_refit, refit_possible


def test_the_plan_trains_as_many_epochs_as_the_first_pass_needed_and_fine_tunes_as_it_did():
    params = TrainParams(batch_size=100, epochs=20, freeze_encoder_steps=500, patience=3)
    # 900 train rows (9 steps an epoch), best at step 40 (in the 5th epoch) with the encoder tuned from step 30;
    # 1000 rows to refit on (10 steps an epoch).
    plan = plan_refit(params, train_rows=900, rows=1_000, best_step=40, finetune_start=30, has_encoder=True)
    assert plan is not None
    assert (plan.params.epochs, plan.steps, plan.encoder_steps) == (5, 50, 10)
    assert plan.params.freeze_encoder_steps == 40 and plan.params.patience == 0
    assert plan.to_dict() == {"rows": 1_000, "steps": 50, "epochs": 5, "encoder_steps": 10}
    # Best after exactly 10 of the first pass's epochs: 10 epochs again, not the 9 that hold as many steps.
    ten = plan_refit(params, train_rows=900, rows=1_000, best_step=90, finetune_start=30, has_encoder=True)
    assert ten is not None and (ten.params.epochs, ten.steps) == (10, 100)
    # The best state came before the fine-tuning: the refit never fine-tunes.
    before = plan_refit(params, train_rows=900, rows=1_000, best_step=25, finetune_start=30, has_encoder=True)
    assert before is not None and before.encoder_steps == 0 and before.params.freeze_encoder_steps == before.steps
    # The CUDA recipe fine-tunes from the first step, and so does its refit.
    cuda = plan_refit(
        TrainParams(batch_size=100), train_rows=900, rows=1_000, best_step=25, finetune_start=0, has_encoder=True
    )
    assert cuda is not None and cuda.params.freeze_encoder_steps == 0 and cuda.encoder_steps == cuda.steps == 30
    no_text = plan_refit(params, train_rows=900, rows=1_000, best_step=40, finetune_start=30, has_encoder=False)
    assert no_text is not None and no_text.encoder_steps == 0
    assert plan_refit(params, train_rows=900, rows=1_000, best_step=0, finetune_start=30, has_encoder=True) is None


def test_a_refit_needs_validation_rows_of_both_classes():
    assert refit_possible(np.array([0.0, 1.0, 1.0], dtype=np.float32))
    assert not refit_possible(np.array([1.0, 1.0], dtype=np.float32))
    assert not refit_possible(np.zeros(0, dtype=np.float32))


def test_concatenated_splits_pad_the_narrower_wide_ids():
    def split(n: int, width: int, fill: int) -> EncodedSplit:
        return EncodedSplit(
            categorical=np.full((n, 2), fill),
            numeric=np.full((n, 1), fill, dtype=np.float32),
            text_ids=np.full((n, 1), fill),
            labels=np.full(n, fill % 2, dtype=np.float32),
            lists=np.full((n, 1, 3), fill),
            wide=np.full((n, width), fill),
        )

    merged = concat_splits(split(3, 2, 1), split(2, 4, 2))
    assert len(merged) == 5 and merged.wide.shape == (5, 4)
    assert merged.wide[:3].tolist() == [[1, 1, 0, 0]] * 3 and merged.wide[3:].tolist() == [[2] * 4] * 2
    assert merged.categorical[:, 0].tolist() == [1, 1, 1, 2, 2] and merged.lists.shape == (5, 1, 3)
    assert merged.take(np.arange(5)) is merged and len(merged.take(np.arange(0))) == 0


@pytest.fixture
def refit_params(fast_params):
    return {**fast_params, "refit": True, "epochs": 6, "patience": 2, "freeze_encoder_steps": 40}


def test_the_refit_model_is_trained_on_train_and_validation_and_scores_the_test_split(
    tiny_base_model, table, spec, refit_params
):
    events = []
    parts = splits(table)
    result = train(**parts, spec=spec, base_model=tiny_base_model, params=refit_params, on_progress=events.append)
    first = train(**parts, spec=spec, base_model=tiny_base_model, params={**refit_params, "refit": False})
    assert first.refit is None  # explicit `refit: false`: the first pass alone

    refit = result.refit
    assert refit is not None
    assert refit["rows"] == parts["train_table"].num_rows + parts["valid_table"].num_rows
    per_epoch = -(-refit["rows"] // refit_params["batch_size"])
    first_per_epoch = -(-parts["train_table"].num_rows // refit_params["batch_size"])
    assert refit["steps"] == refit["epochs"] * per_epoch and refit["epochs"] == -(-first.best_step // first_per_epoch)
    # The first pass is the same run as one without a refit: its test AUC, validation metrics, step counts.
    assert refit["first_pass_test_auc"] == pytest.approx(first.metrics["auc"], abs=1e-9)
    assert result.valid_metrics == first.valid_metrics
    assert (result.steps, result.best_step) == (first.steps, first.best_step)
    # The kept model is another one, and the result's test figures are its own.
    labels = parts["test_table"].column("label").to_numpy()
    assert result.metrics["auc"] == pytest.approx(roc_auc_score(labels, result.test_predictions))
    assert not np.allclose(result.test_predictions, first.test_predictions)
    assert result.metrics["auc"] > 0.8
    # The job's curve goes on after the first pass, marked as the refit.
    refit_steps = [e for e in events if e.get("phase") == "refit" and e["event"] == "step"]
    assert refit_steps and refit_steps[0]["step"] > first.steps
    assert refit_steps[-1]["step"] == first.steps + refit["steps"] == refit_steps[-1]["total_steps"]
    assert not [e for e in events if e.get("phase") == "refit" and e["event"] == "eval"]


def test_the_refit_fine_tunes_the_encoder_only_as_long_as_the_first_pass_did(
    tiny_base_model, table, spec, refit_params
):
    from training.ml.base_model import load_encoder

    original = load_encoder(tiny_base_model).state_dict()
    # Frozen all along: the refit keeps the encoder as loaded.
    frozen = train(
        **splits(table), spec=spec, base_model=tiny_base_model, params={**refit_params, "freeze_encoder_steps": 10**6}
    )
    assert frozen.refit is not None and frozen.refit["encoder_steps"] == 0
    assert all(torch.equal(original[k], v.cpu()) for k, v in frozen.model.encoder.state_dict().items())
    # Fine-tuned from the first step: the refit's encoder is fine-tuned too.
    tuned = train(
        **splits(table), spec=spec, base_model=tiny_base_model, params={**refit_params, "freeze_encoder_steps": 0}
    )
    assert tuned.refit is not None and tuned.refit["encoder_steps"] == tuned.refit["steps"]
    assert any(not torch.equal(original[k], v.cpu()) for k, v in tuned.model.encoder.state_dict().items())


def test_the_saved_refit_scores_as_training_scored_it(tiny_base_model, table, spec, refit_params, tmp_path):
    from training.ml import load_artifact, save_artifact

    parts = splits(table)
    # The encoder fine-tuned in both passes, the blend refitted: what the artifact holds is the refit, as scored.
    result = train(
        **parts, spec=spec, base_model=tiny_base_model, device="cpu", params={**refit_params, "freeze_encoder_steps": 0}
    )
    assert result.refit is not None and result.refit["encoder_steps"] == result.refit["steps"]
    assert result.wide_spec is not None and result.linear_blend is not None
    predictor = load_artifact(save_artifact(result, tmp_path / "v1"), device="cpu")
    np.testing.assert_allclose(predictor.predict(parts["test_table"]), result.test_predictions, atol=1e-6)


def test_no_refit_without_validation_rows(tiny_base_model, table, spec, refit_params):
    parts = splits(table)
    result = train(
        train_table=parts["train_table"],
        valid_table=parts["valid_table"].slice(0, 0),
        test_table=parts["test_table"],
        spec=spec,
        base_model=tiny_base_model,
        params=refit_params,
    )
    assert result.refit is None


def test_no_refit_when_validation_holds_one_class(tiny_base_model, table, spec, refit_params):
    parts = splits(table)
    valid = parts["valid_table"]
    positives = valid.filter(pc.equal(valid.column("label"), 1))
    assert 0 < positives.num_rows < valid.num_rows
    events: list[dict] = []
    result = train(
        **{**parts, "valid_table": positives},
        spec=spec,
        base_model=tiny_base_model,
        params=refit_params,
        on_progress=events.append,
    )
    assert result.refit is None and result.valid_metrics["auc"] is None
    # One pass: its events say nothing of a second.
    assert events and not [e for e in events if "passes" in e or "phase" in e]


def test_the_refit_holds_one_model_and_one_copy_of_the_rows(tiny_base_model, table, spec, refit_params):
    from transformers import PreTrainedModel

    from training.ml.batches import DeviceSplit
    from training.ml.model import CTRModel

    def census() -> tuple[int, int, list[int]]:
        """Models alive, text encoders alive, and the row counts of device splits alive."""
        gc.collect()
        alive = gc.get_objects()
        models = sum(type(o) is CTRModel for o in alive)
        encoders = sum(PreTrainedModel in type(o).__mro__ for o in alive)
        return models, encoders, sorted(len(o) for o in alive if type(o) is DeviceSplit)

    seen: list[tuple[int, int, list[int]]] = []

    def on_progress(event: dict) -> None:
        if event.get("phase") == "refit" and not seen:
            seen.append(census())

    before = census()
    parts = splits(table)
    result = train(**parts, spec=spec, base_model=tiny_base_model, params=refit_params, on_progress=on_progress)
    assert result.refit is not None
    rows = [parts[f"{name}_table"].num_rows for name in ("train", "valid", "test")]
    # The first pass's model (with its encoder) and its train and validation splits are gone: the refit's
    # model, its train + validation rows, its empty validation split and the test split remain.
    assert seen == [(before[0] + 1, before[1] + 1, sorted([*before[2], 0, rows[0] + rows[1], rows[2]]))]


@pytest.fixture
def fit(tiny_base_model, table, spec):
    """`train()` on the fixture table's splits with the tiny base model on the CPU; keywords add to it."""

    def run(**kwargs):
        return train(**splits(table), spec=spec, base_model=tiny_base_model, device="cpu", **kwargs)

    return run


def _cancel_then_resume(fit, params: dict, checkpoint_dir, should_stop, *, left: str, seen: list | None = None):
    """Train until `should_stop` cancels (checkpoints in `checkpoint_dir`; `left`, the checkpoint the
    cancelled run leaves), then train again from there: (the resumed result, the events of the resumed run)."""
    on_progress = seen.append if seen is not None else None
    with pytest.raises(TrainingCancelled):
        fit(params=params, checkpoint_dir=checkpoint_dir, on_progress=on_progress, should_stop=should_stop)
    assert (checkpoint_dir / left).is_file()
    events: list[dict] = []
    return fit(params=params, checkpoint_dir=checkpoint_dir, on_progress=events.append), events


def test_a_job_killed_between_the_passes_starts_the_refit_and_ends_as_an_uninterrupted_one(fit, refit_params, tmp_path):
    params = {**refit_params, "checkpoint_every_steps": 3}
    straight = fit(params=params)
    asked = 0

    def should_stop() -> bool:  # asked once before each step: the first refit step is the one after the first pass
        nonlocal asked
        asked += 1
        return asked > straight.steps

    def cancelled_between_the_passes() -> bool:
        stop = should_stop()
        if stop:  # the first pass's checkpoint is there, the refit has none yet
            assert (tmp_path / "last.pt").is_file() and not (tmp_path / "refit").exists()
        return stop

    resumed, events = _cancel_then_resume(fit, params, tmp_path, cancelled_between_the_passes, left="last.pt")
    assert not [e for e in events if e["event"] == "step" and e.get("phase") != "refit"]
    assert [e.get("phase") for e in events if e["event"] == "resumed"] == [None]
    assert resumed.refit == {**straight.refit, "train_s": resumed.refit["train_s"], "wall_s": resumed.refit["wall_s"]}
    assert resumed.refit["resumed_from_step"] is None  # the refit itself started from scratch
    np.testing.assert_allclose(resumed.test_predictions, straight.test_predictions, atol=1e-6)


def test_a_job_killed_during_the_refit_resumes_the_refit_and_ends_as_an_uninterrupted_one(fit, refit_params, tmp_path):
    params = {**refit_params, "checkpoint_every_steps": 3, "progress_every_steps": 1}
    seen: list[dict] = []

    def should_stop() -> bool:
        return sum(e.get("phase") == "refit" and e["event"] == "step" for e in seen) >= 7

    resumed, events = _cancel_then_resume(fit, params, tmp_path, should_stop, left="refit/last.pt", seen=seen)
    straight = fit(params=params)
    # The finished first pass is not trained again; the refit goes on from its checkpoint.
    assert not [e for e in events if e["event"] == "step" and e.get("phase") != "refit"]
    resumed_at = [e for e in events if e["event"] == "resumed"]
    assert [e.get("phase") for e in resumed_at] == [None, "refit"]
    # The refit records the step of its own it resumed from (its checkpoints come every 3 of its steps).
    assert resumed.refit["resumed_from_step"] == 6 and straight.refit["resumed_from_step"] is None
    assert resumed.refit == {
        **straight.refit,
        "train_s": resumed.refit["train_s"],
        "wall_s": resumed.refit["wall_s"],
        "resumed_from_step": 6,
    }
    np.testing.assert_allclose(resumed.test_predictions, straight.test_predictions, atol=1e-6)
