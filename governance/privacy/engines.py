"""The PII engines as configured in settings: the process's analyzer, the masking secrets, and ad-hoc
analysis of texts (``POST /api/v1/pii/analyze/``).

Presidio and spaCy (and through them torch) take seconds to import: they are loaded where the
analyzer is first needed, never when the URL configuration imports the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from core.errors import ServiceError

if TYPE_CHECKING:
    from governance.privacy.analyzer import StewardAnalyzer
    from governance.privacy.masking import MaskingSecrets

MAX_ANALYZE_TEXTS = 1000
MAX_ANALYZE_CHARS = 10_000  # per text
MAX_ANALYZE_TOTAL_CHARS = 1_000_000


def analyzer() -> StewardAnalyzer:
    """The process-wide analyzer for the configured spaCy model and entities."""
    from governance.privacy.analyzer import DEFAULT_ENTITIES, AnalyzerConfig, get_analyzer

    entities = tuple(settings.STEWARD_PII_ENTITIES) or DEFAULT_ENTITIES
    return get_analyzer(AnalyzerConfig(spacy_model=settings.STEWARD_SPACY_MODEL, entities=entities))


def masking_secrets() -> MaskingSecrets:
    from governance.privacy.masking import MaskingSecrets

    return MaskingSecrets(
        hash_salt=settings.STEWARD_PII_HASH_SALT, encryption_key=settings.STEWARD_PII_ENCRYPTION_KEY or ""
    )


def analyze_texts(
    *, texts: list[str], language: str = "en", entities: list[str] | None = None, score_threshold: float | None = None
) -> list[list[dict[str, Any]]]:
    """Entity spans per text; ServiceError (400) names a limit or an unknown language or entity."""
    engine = analyzer()
    if len(texts) > MAX_ANALYZE_TEXTS:
        raise ServiceError(f"at most {MAX_ANALYZE_TEXTS} texts per call (got {len(texts)})", field="texts")
    for i, text in enumerate(texts):
        if len(text) > MAX_ANALYZE_CHARS:
            raise ServiceError(
                f"texts[{i}] is {len(text)} characters long; the limit is {MAX_ANALYZE_CHARS}", field="texts"
            )
    if sum(len(t) for t in texts) > MAX_ANALYZE_TOTAL_CHARS:
        raise ServiceError(f"the texts exceed {MAX_ANALYZE_TOTAL_CHARS} characters in all", field="texts")
    languages = (engine.config.language, "zh", "auto")
    if language not in languages:
        raise ServiceError(
            f"language {language!r} is not supported; use one of {', '.join(repr(x) for x in languages)}",
            field="language",
        )
    if entities:
        unknown = sorted(set(entities) - set(engine.supported_entities_for(language)))
        if unknown:
            raise ServiceError(f"unknown entities for language {language!r}: {', '.join(unknown)}", field="entities")
    results = engine.analyze_batch(texts, entities=entities or None, score_threshold=score_threshold, language=language)
    return [
        [{"entity_type": r.entity_type, "start": r.start, "end": r.end, "score": round(r.score, 4)} for r in found]
        for found in results
    ]
