"""Training reports progress by time, not only every `progress_every_steps` steps: with slow steps the job's
progress and message move every STEWARD_TRAINING_PROGRESS_S seconds (an injected clock stands in for time)."""

from __future__ import annotations

import itertools
from typing import Any

from training.services.jobs import _ProgressWriter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A Reporter that keeps what was written instead of writing the Job row."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, float, str, dict[str, Any]]] = []
        self.clock: Clock | None = None

    def progress(self, fraction: float, message: str = "", **details: Any) -> None:
        assert self.clock is not None
        self.writes.append((self.clock.now, fraction, message, details))

    def cancelled(self) -> bool:
        return False


def _run(steps: int, *, seconds_per_step: float, every: int, total: int) -> Recorder:
    """What train() does: ask should_stop before each step, send a step event every `every` steps."""
    clock, reporter = Clock(), Recorder()
    reporter.clock = clock
    writer = _ProgressWriter(reporter, clock=clock, interval_s=5)  # type: ignore[arg-type]
    for step in range(1, steps + 1):
        assert writer.cancel_requested() is False
        clock.now += seconds_per_step
        if step % every == 0:
            writer({"event": "step", "step": step, "loss": 0.5, "total_steps": total, "epoch": 0})
    return reporter


def test_slow_steps_report_the_step_reached_every_few_seconds() -> None:
    # 20 steps between step events at 3 s a step: a minute without news before this change.
    writes = _run(60, seconds_per_step=3, every=20, total=100).writes
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(writes)]
    assert len(writes) >= 60 * 3 / 6 and max(gaps) <= 6
    messages = [w[2] for w in writes]
    assert messages[0] == "step 2"  # no step event yet: the total is not known, the step is
    assert "step 40/100, loss 0.5000" in messages
    assert "step 42/100, last loss 0.5000 at step 40" in messages
    fractions = [w[1] for w in writes]
    assert fractions == sorted(fractions) and fractions[-1] > 0.02 + 0.95 * 0.55
    by_time = next(w for w in writes if w[2].startswith("step 42/100"))
    assert by_time[3]["training"]["step"] == 42 and by_time[3]["training"]["total_steps"] == 100


def test_fast_steps_write_no_more_than_before() -> None:
    # 0.01 s a step: the step events (at most one write a second) are all there is; nothing is added by time.
    writes = _run(2000, seconds_per_step=0.01, every=20, total=2000).writes
    assert all(w[2].endswith("loss 0.5000") for w in writes)
    assert len(writes) <= 2000 * 0.01 + 1


def test_a_refit_takes_the_second_half_of_the_bar_and_says_so(tiny_base_model) -> None:
    # The events of a real run with a refit (training/ml/refit.py), a second apart, into the writer.
    from tests.factories import FAST_TRAIN_PARAMS, interaction_columns, interactions, splits
    from training.ml import FeatureSpec, train

    events: list[dict[str, Any]] = []
    params = {**FAST_TRAIN_PARAMS, "refit": True, "epochs": 4, "patience": 2, "freeze_encoder_steps": 20}
    result = train(
        **splits(interactions()),
        spec=FeatureSpec(**interaction_columns()),
        base_model=tiny_base_model,
        params=params,
        on_progress=events.append,
    )
    assert result.refit is not None
    clock, reporter = Clock(), Recorder()
    reporter.clock = clock
    writer = _ProgressWriter(reporter, clock=clock, interval_s=5)  # type: ignore[arg-type]
    for event in events:
        clock.now += 1.5
        writer(event)
    fractions = [w[1] for w in reporter.writes]
    refit = [w for w in reporter.writes if w[2].startswith("refit on train + validation: step")]
    first = reporter.writes[: reporter.writes.index(refit[0])]
    # Never backwards: the first pass fills the first half, the refit the second, to the end.
    assert fractions == sorted(fractions)
    assert max(w[1] for w in first) <= 0.02 + 0.95 / 2 + 1e-9 < refit[0][1]
    assert refit[-1][1] == 0.97
    assert refit[-1][2].startswith(f"refit on train + validation: step {result.steps + result.refit['steps']}/")
    assert refit[-1][3]["training"]["phase"] == "refit" and "phase" not in first[-1][3]["training"]
    # By time, during the refit, the message says so too.
    clock.now += 10
    writer.cancel_requested()
    writer.cancel_requested()
    assert reporter.writes[-1][2].startswith("refit on train + validation: step ")
    assert reporter.writes[-1][1] == 0.97
