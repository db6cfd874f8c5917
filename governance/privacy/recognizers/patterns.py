"""Building blocks of Steward's regex recognizers: guarded Presidio patterns and named-group regexes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import regex as re
from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    LocalRecognizer,
    PatternRecognizer,
    RecognizerResult,
)

from governance.privacy.internals import REGEX_TIMEOUT_SECONDS, compiled_pattern


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first (so "Street" wins over "St")."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def recognizer_result(
    recognizer: EntityRecognizer, start: int, end: int, score: float, explanation: AnalysisExplanation
) -> RecognizerResult:
    """A result of ``recognizer``'s first entity, named and identified as Presidio's recognizers do
    (context enhancement looks recognizers up by that id)."""
    return RecognizerResult(
        entity_type=recognizer.supported_entities[0],
        start=start,
        end=end,
        score=score,
        analysis_explanation=explanation,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
        },
    )


class GuardedPatternRecognizer(PatternRecognizer):
    """A PatternRecognizer that tries a costly pattern only when a cheap guard regex matches.

    ``guards`` maps a pattern name to a regex that occurs inside every match of that pattern (a
    necessary condition), so skipping the pattern when the guard is absent changes no result.
    The matching itself is Presidio's: same scores, validation, explanation and de-duplication.
    """

    def __init__(self, *args: Any, guards: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guards = {
            name: g if callable(g) else re.compile(g, self.global_regex_flags).search
            for name, g in (guards or {}).items()
        }

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        flags = regex_flags if regex_flags else self.global_regex_flags
        if not self._guards or flags != self.global_regex_flags:
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        results: list[RecognizerResult] = []
        for pattern in self.patterns:
            guard = self._guards.get(pattern.name)
            if guard is not None and not guard(text):
                continue
            for match in compiled_pattern(pattern, flags).finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
                start, end = match.span()
                if start == end:
                    continue
                current = text[start:end]
                validation = self.validate_result(current)
                explanation = self.build_regex_explanation(
                    self.name, pattern.name, pattern.regex, pattern.score, validation, flags
                )
                result = recognizer_result(self, start, end, pattern.score, explanation)
                if validation is not None:
                    result.score = EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
                if self.invalidate_result(current):
                    result.score = EntityRecognizer.MIN_SCORE
                if result.score > EntityRecognizer.MIN_SCORE:
                    results.append(result)
                explanation.score = result.score
        return EntityRecognizer.remove_duplicates(results)


class GroupRegexRecognizer(LocalRecognizer):
    """A regex recognizer that reports the span of a named group (``name``), not the match.

    It reads only the text (never NLP artifacts), which the analyzer relies on to run it before NER.
    """

    PATTERNS: Sequence[tuple[str, str, float]] = ()
    FLAGS = re.MULTILINE

    def __init__(
        self, supported_entity: str, name: str, context: list[str] | None = None, supported_language: str = "en"
    ) -> None:
        self._compiled = [(n, re.compile(p, self.FLAGS), s) for n, p, s in self.PATTERNS]
        super().__init__(
            supported_entities=[supported_entity], name=name, supported_language=supported_language, context=context
        )

    def load(self) -> None:
        pass

    def accept(self, value: str) -> bool:
        return True

    def result(self, start: int, end: int, score: float, pattern_name: str, pattern: str | None) -> RecognizerResult:
        explanation = AnalysisExplanation(
            recognizer=self.name, original_score=score, pattern_name=pattern_name, pattern=pattern
        )
        return recognizer_result(self, start, end, score, explanation)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for pattern_name, pattern, score in self._compiled:
            for match in pattern.finditer(text):
                start, end = match.span("name")
                if start < 0 or not self.accept(text[start:end]):
                    continue
                results.append(self.result(start, end, score, pattern_name, pattern.pattern))
        return results
