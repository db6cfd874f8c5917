"""Per-dataset recognizers (regex with context words, deny lists) built from a steward's JSON spec."""

from __future__ import annotations

import re as std_re
from typing import Any

import regex as re
from presidio_analyzer import Pattern, PatternRecognizer


class RecognizerSpecError(ValueError):
    """A custom recognizer spec that cannot be built; the message names the problem."""


ENTITY_NAME = std_re.compile(r"^[A-Z][A-Z0-9_]{1,49}$")


def recognizer_from_spec(spec: dict[str, Any], *, language: str = "en") -> PatternRecognizer:
    """Build one PatternRecognizer from ``{"entity_type", "name"?, "patterns"?: [{"name"?,
    "regex", "score"?}], "deny_list"?: [...], "context"?: [...], "score"?}``.

    Raises RecognizerSpecError with a message naming the bad field.
    """
    if not isinstance(spec, dict):
        raise RecognizerSpecError("a custom recognizer must be an object")
    entity = spec.get("entity_type")
    if not isinstance(entity, str) or not ENTITY_NAME.match(entity):
        raise RecognizerSpecError(f"entity_type must be UPPER_SNAKE_CASE, e.g. LOYALTY_CARD (got {entity!r})")
    unknown = set(spec) - {"entity_type", "name", "patterns", "deny_list", "context", "score"}
    if unknown:
        raise RecognizerSpecError(f"unknown field(s) in custom recognizer: {', '.join(sorted(unknown))}")
    score = spec.get("score", 0.6)
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 < score <= 1:
        raise RecognizerSpecError("score must be a number in (0, 1]")
    patterns: list[Pattern] = []
    raw_patterns = spec.get("patterns") or []
    if not isinstance(raw_patterns, list):
        raise RecognizerSpecError("patterns must be a list")
    for i, raw in enumerate(raw_patterns):
        if not isinstance(raw, dict) or not isinstance(raw.get("regex"), str) or not raw["regex"]:
            raise RecognizerSpecError(f"patterns[{i}].regex must be a non-empty string")
        if len(raw["regex"]) > 500:
            raise RecognizerSpecError(f"patterns[{i}].regex is longer than 500 characters")
        try:
            compiled = re.compile(raw["regex"])
        except re.error as exc:
            raise RecognizerSpecError(f"patterns[{i}].regex does not compile: {exc}") from exc
        if compiled.match(""):
            raise RecognizerSpecError(f"patterns[{i}].regex matches the empty string")
        p_score = raw.get("score", score)
        if not isinstance(p_score, (int, float)) or isinstance(p_score, bool) or not 0 < p_score <= 1:
            raise RecognizerSpecError(f"patterns[{i}].score must be a number in (0, 1]")
        patterns.append(Pattern(str(raw.get("name") or f"{entity.lower()}_{i}"), raw["regex"], float(p_score)))
    deny_list = spec.get("deny_list") or []
    if not isinstance(deny_list, list) or not all(isinstance(w, str) and w.strip() for w in deny_list):
        raise RecognizerSpecError("deny_list must be a list of non-empty strings")
    if not patterns and not deny_list:
        raise RecognizerSpecError("a custom recognizer needs at least one pattern or a deny_list")
    context = spec.get("context") or []
    if not isinstance(context, list) or not all(isinstance(w, str) and w.strip() for w in context):
        raise RecognizerSpecError("context must be a list of non-empty strings")
    name = spec.get("name") or f"Custom{entity.title().replace('_', '')}Recognizer"
    if not isinstance(name, str) or len(name) > 100:
        raise RecognizerSpecError("name must be a string of at most 100 characters")
    return PatternRecognizer(
        supported_entity=entity,
        name=name,
        supported_language=language,
        patterns=patterns or None,
        deny_list=[w.strip() for w in deny_list] or None,
        deny_list_score=float(score),
        context=[w.strip().lower() for w in context] or None,
    )
