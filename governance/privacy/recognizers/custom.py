"""Per-dataset recognizers (regex with context words, deny lists) built from a steward's JSON spec.

A steward's regex is code that runs on every value: it is refused when it backtracks catastrophically on probe
strings, and at scan time it sees only the first STEWARD_PII_MAX_VALUE_CHARS characters of a value, each match
runs under STEWARD_PII_REGEX_TIMEOUT_S, and all custom recognizers of one scan (or masking chunk) share a budget
of STEWARD_PII_REGEX_BUDGET_S. A timeout or a spent budget fails the job with the recognizer's name (never a
value): nothing is reported clean, or left unmasked, because a regex gave up.
"""

from __future__ import annotations

import re as std_re
import time
from typing import Any

import regex as re
from django.conf import settings
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from core.errors import ServiceError


class RecognizerSpecError(ValueError):
    """A custom recognizer spec that cannot be built; the message names the problem."""


class RegexLimitExceeded(ServiceError):
    """A custom regex ran past its timeout or its scan's budget; the message names the recognizer and pattern.
    A ServiceError: a job fails with this message (no traceback), a request answers 400 with it."""


ENTITY_NAME = std_re.compile(r"^[A-Z][A-Z0-9_]{1,49}$")
# Presidio's flags for pattern recognizers: probes must backtrack exactly as scans will.
FLAGS = re.DOTALL | re.MULTILINE | re.IGNORECASE
PROBE_LENGTH = 3000


class RegexBudget:
    """Seconds of custom-regex time left to one scan or masking chunk, shared by its recognizers."""

    def __init__(self, seconds: float | None = None) -> None:
        self.left = float(settings.STEWARD_PII_REGEX_BUDGET_S if seconds is None else seconds)

    def spend(self, seconds: float, who: str) -> None:
        self.left -= seconds
        if self.left < 0:
            raise RegexLimitExceeded(
                f"custom recognizer {who!r}: the custom regexes used up this scan's time budget "
                f"(STEWARD_PII_REGEX_BUDGET_S={settings.STEWARD_PII_REGEX_BUDGET_S})"
            )


class BoundedPatternRecognizer(PatternRecognizer):
    """Presidio's PatternRecognizer with Steward's limits: a truncated value, a per-match timeout, a shared budget."""

    def __init__(self, *args: Any, budget: RegexBudget | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget or RegexBudget()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        text = text[: settings.STEWARD_PII_MAX_VALUE_CHARS]
        flags = regex_flags or self.global_regex_flags
        results: list[RecognizerResult] = []
        for pattern in self.patterns or []:
            if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
                pattern.compiled_with_flags = flags
                pattern.compiled_regex = re.compile(pattern.regex, flags=flags)
            timeout = max(0.001, min(settings.STEWARD_PII_REGEX_TIMEOUT_S, self.budget.left))
            started = time.monotonic()
            try:
                spans = [m.span() for m in pattern.compiled_regex.finditer(text, timeout=timeout)]
            except TimeoutError:
                raise RegexLimitExceeded(
                    f"custom recognizer {self.name!r}: pattern {pattern.name!r} ran longer than {timeout:g} s "
                    "on one value (STEWARD_PII_REGEX_TIMEOUT_S); simplify the regex"
                ) from None
            finally:
                self.budget.spend(time.monotonic() - started, self.name)
            for start, end in spans:
                if start == end:
                    continue
                results.append(
                    RecognizerResult(
                        entity_type=self.supported_entities[0],
                        start=start,
                        end=end,
                        score=pattern.score,
                        analysis_explanation=self.build_regex_explanation(
                            self.name, pattern.name, pattern.regex, pattern.score, None, flags
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return EntityRecognizer.remove_duplicates(results)


def _probes(regex: str) -> list[str]:
    """Strings that make a backtracking-prone regex explode: long runs of the characters it names (and of common
    ones), each spoiled at the end so the match must fail after trying every split."""
    chars = {c for c in regex if c.isalnum() or c in " .-_@"} | {"a", "0", " "}
    runs = [c * PROBE_LENGTH for c in sorted(chars)[:40]]
    runs += ["a " * (PROBE_LENGTH // 2), "a0" * (PROBE_LENGTH // 2), "a." * (PROBE_LENGTH // 2)]
    return [run + spoil for run in runs for spoil in ("!", "\x00")]


def _check_speed(compiled: Any, where: str) -> None:
    timeout = settings.STEWARD_PII_REGEX_TIMEOUT_S
    for probe in _probes(compiled.pattern):
        try:
            compiled.search(probe, timeout=timeout)
        except TimeoutError:
            raise RecognizerSpecError(
                f"{where} takes longer than {timeout:g} s on a {len(probe)}-character probe string "
                "(catastrophic backtracking, e.g. nested quantifiers like (a+)+): simplify it"
            ) from None


def recognizer_from_spec(
    spec: dict[str, Any], *, language: str = "en", budget: RegexBudget | None = None, check_speed: bool = False
) -> PatternRecognizer:
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
            compiled = re.compile(raw["regex"], flags=FLAGS)
        except re.error as exc:
            raise RecognizerSpecError(f"patterns[{i}].regex does not compile: {exc}") from exc
        if compiled.match(""):
            raise RecognizerSpecError(f"patterns[{i}].regex matches the empty string")
        if check_speed:
            _check_speed(compiled, f"patterns[{i}].regex")
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
    return BoundedPatternRecognizer(
        budget=budget,
        supported_entity=entity,
        name=name,
        supported_language=language,
        patterns=patterns or None,
        deny_list=[w.strip() for w in deny_list] or None,
        deny_list_score=float(score),
        context=[w.strip().lower() for w in context] or None,
    )
