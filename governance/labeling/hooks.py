"""Extension points the model side fills in at start-up (AppConfig.ready), so labeling imports no training code.

Governance knows nothing of models (DESIGN.md, section 2): a project names a registered model version by id, and
whatever app owns the registry registers two callables here:

- `score_rows(model_version_id, table) -> list[probs]`: one probability vector per row of the pyarrow table (for
  a binary click model, `[p(0), p(1)]`), in the order of the project's labels;
- `describe(model_version_id) -> str | None`: the version's label ("ctr v3"), None when it does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import ServiceError

ScoreRows = Callable[[int, Any], "list[list[float]]"]
Describe = Callable[[int], "str | None"]

_scorer: dict[str, Any] = {"score_rows": None, "describe": None}


def register_model_scorer(*, score_rows: ScoreRows, describe: Describe) -> None:
    _scorer["score_rows"] = score_rows
    _scorer["describe"] = describe


def scorer_available() -> bool:
    return _scorer["score_rows"] is not None


def model_version_label(model_version_id: int) -> str | None:
    describe = _scorer["describe"]
    return describe(model_version_id) if describe is not None else None


def score_rows(model_version_id: int, table: Any) -> list[list[float]]:
    scorer = _scorer["score_rows"]
    if scorer is None:
        raise ServiceError("No model scorer is registered: scoring rows needs the training app installed.")
    try:
        return [list(map(float, p)) for p in scorer(model_version_id, table)]
    except ServiceError:
        raise
    except (KeyError, ValueError) as exc:  # a model whose features the rows do not have
        raise ServiceError(f"Model version {model_version_id} cannot score these rows: {exc}") from None
