"""What POST /rank and /score do behind serving/api.py's views (the hot path): check the body, pick the
version, score with its `Scorer`, record the request.

Bodies are checked by hand rather than with a DRF serializer: a serializer validating 10,000
candidate objects costs more than scoring them. Every check names the offending field.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings

from core.errors import ServiceError
from serving import metrics
from serving.encoding import InputError
from serving.loader import LoadedVersion, get_cache
from serving.stats import LOG_MAX_ITEMS, recorder
from training.models import ALIAS_RULE, is_alias_name


class TooManyCandidates(ServiceError):
    status_code = 413
    code = "too_many_candidates"


@dataclass
class Selector:
    alias: str | None
    version: int | None


def parse_selector(params: Mapping[str, Any]) -> Selector:
    alias = params.get("alias")
    raw_version = params.get("version")
    if alias is not None and raw_version is not None:
        raise ServiceError("Give either ?alias= or ?version=, not both.", field="version")
    version = None
    if raw_version is not None:
        try:
            version = int(raw_version)
        except (TypeError, ValueError):
            raise ServiceError(f"version must be a positive integer, got {raw_version!r}.", field="version") from None
        if version < 1:
            raise ServiceError(f"version must be a positive integer, got {version}.", field="version")
    if alias is not None and not alias.strip():
        raise ServiceError("alias must not be empty.", field="alias")
    if alias is not None and not is_alias_name(alias.strip()):
        raise ServiceError(f"alias must be {ALIAS_RULE}.", field="alias")
    return Selector(alias=alias.strip() if alias else None, version=version)


def _check_count(n: int, what: str) -> None:
    limit = settings.STEWARD_MAX_CANDIDATES
    if n > limit:
        raise TooManyCandidates(f"{n} {what} is more than the limit of {limit} (STEWARD_MAX_CANDIDATES).", field=what)


def _body(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ServiceError("The body must be a JSON object.")
    return data


def _list_field(body: Mapping[str, Any], name: str) -> list[Any]:
    if name not in body:
        raise ServiceError(f"{name}: this field is required.", field=name)
    value = body[name]
    if not isinstance(value, list):
        raise ServiceError(f"{name}: expected a list, got {type(value).__name__}.", field=name)
    return value


def _resolve(model: str, selector: Selector) -> LoadedVersion:
    return get_cache().get(model, alias=selector.alias, version=selector.version)


def _model_version(loaded: LoadedVersion) -> dict[str, Any]:
    return {"model": loaded.ref.model, "version": loaded.ref.version}


class Outcome:
    """Times a request and records it in Prometheus, the minute counters and (sampled) the log."""

    def __init__(self, model: str, endpoint: str) -> None:
        self.model = model
        self.endpoint = endpoint
        self.start = time.perf_counter()
        self.loaded: LoadedVersion | None = None
        self.scores: np.ndarray | None = None  # every score computed, for the score distribution

    def done(self, *, status: int, code: str = "") -> float:
        seconds = time.perf_counter() - self.start
        loaded = self.loaded
        model = loaded.ref.model if loaded else "_unknown"
        version = str(loaded.ref.version) if loaded else ""
        metrics.observe(
            model=model,
            version=version,
            endpoint=self.endpoint,
            status=status,
            seconds=seconds,
            code=code,
            candidates=0 if self.scores is None else len(self.scores),
        )
        if loaded is not None:
            recorder.record(
                model=model,
                version=loaded.ref.version,
                endpoint=self.endpoint,
                latency_ms=seconds * 1000,
                error=status >= 400,
                scores=self.scores,
            )
        return seconds


def rank(*, model: str, selector: Selector, data: Any, actor_id: int | None, outcome: Outcome) -> dict[str, Any]:
    loaded = outcome.loaded = _resolve(model, selector)  # first, so errors count against the version
    body = _body(data)
    candidates = _list_field(body, "candidates")
    _check_count(len(candidates), "candidates")
    k = body.get("k")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ServiceError(f"k must be a positive integer, got {k!r}.", field="k")
    user = body.get("user")
    scorer = loaded.scorer
    try:
        order, scores = scorer.rank(user, candidates, k)
    except InputError as exc:
        raise ServiceError(str(exc), field="user" if str(exc).startswith("user") else "candidates") from None
    outcome.scores = scores
    item_col = scorer.item_column
    items = [
        {"item_id": c[item_col] if isinstance(c, Mapping) else c, "score": s}
        for c, s in zip((candidates[i] for i in order), scores[order].tolist(), strict=True)
    ]
    if recorder.should_log():
        _log(outcome, loaded, "rank", [user], candidates, scores, k, actor_id)
    return {"model_version": _model_version(loaded), "items": items}


def score(*, model: str, selector: Selector, data: Any, actor_id: int | None, outcome: Outcome) -> dict[str, Any]:
    loaded = outcome.loaded = _resolve(model, selector)
    body = _body(data)
    pairs = _list_field(body, "pairs")
    _check_count(len(pairs), "pairs")
    users: list[Any] = []
    user_keys: dict[Any, int] = {}
    user_of = np.empty(len(pairs), dtype=np.int64)
    items: list[Any] = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, Mapping):
            raise ServiceError(f"pairs[{i}]: expected an object with 'user' and 'item'.", field="pairs")
        if "item" not in pair:
            raise ServiceError(f"pairs[{i}].item: this field is required.", field="pairs")
        user = pair.get("user")
        try:
            key = _user_key(user)
        except TypeError:
            raise ServiceError(
                f"pairs[{i}].user: expected an object of feature values or a user id.", field="pairs"
            ) from None
        if key not in user_keys:
            user_keys[key] = len(users)
            users.append(user)
        user_of[i] = user_keys[key]
        items.append(pair["item"])
    scorer = loaded.scorer
    try:
        scores = scorer.score(users, items, user_of)
    except InputError as exc:
        message = str(exc).replace("candidates[", "pairs[").replace("user[", "pairs user[")
        raise ServiceError(message, field="pairs") from None
    item_col, user_col = scorer.item_column, scorer.user_column
    results = []
    for pair, s in zip(pairs, scores.tolist(), strict=True):
        item, user = pair["item"], pair.get("user")
        results.append(
            {
                "user_id": (user.get(user_col) if isinstance(user, Mapping) else user) if user_col else None,
                "item_id": item[item_col] if isinstance(item, Mapping) else item,
                "score": s,
            }
        )
    outcome.scores = scores
    if recorder.should_log():
        _log(outcome, loaded, "score", users, items, scores, None, actor_id)
    return {"model_version": _model_version(loaded), "results": results}


def _user_key(user: Any) -> Any:
    if isinstance(user, Mapping):  # arrays (list columns) as tuples, so the key is hashable
        return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in user.items()))
    if isinstance(user, (list, dict)):
        raise TypeError
    return ("__id__", user)


def _log(
    outcome: Outcome,
    loaded: LoadedVersion,
    endpoint: str,
    users: list[Any],
    candidates: list[Any],
    scores: np.ndarray,
    k: int | None,
    actor_id: int | None,
) -> None:
    """A prediction log row: vocabulary ids of the features, never the raw values (which may be PII)."""
    scorer = loaded.scorer
    enc = scorer.encoder
    item_col = scorer.item_column
    user_ids = []
    for user in users[:20]:
        feats = scorer._user_features(user, "user")
        user_ids.append(
            {c: enc.category_id(c, feats.get(c), "user") for c in enc.categorical if c not in scorer.item_level}
        )
    shown = candidates[:LOG_MAX_ITEMS]
    item_ids = [enc.category_id(item_col, c.get(item_col) if isinstance(c, Mapping) else c, "item") for c in shown]
    recorder.log_prediction(
        model_name=loaded.ref.model,
        version=loaded.ref.version,
        model_version_id=loaded.ref.pk,
        endpoint=endpoint,
        latency_ms=(time.perf_counter() - outcome.start) * 1000,
        n_candidates=len(candidates),
        k=k,
        user_feature_ids=user_ids[0] if len(user_ids) == 1 else {"users": user_ids},
        item_ids=item_ids,
        scores=[round(s, 5) for s in scores[:LOG_MAX_ITEMS].tolist()],
        actor_id=actor_id,
    )
