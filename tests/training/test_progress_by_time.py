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
