"""The analyzer for Chinese text: Presidio's AnalyzerEngine with ``zh`` as its language.

Its recognizers are governance/privacy/recognizers/zh.py; its NLP engine is spaCy's blank Chinese
pipeline with jieba as the segmenter (tokens for Presidio's context enhancement: a phone number
next to 手机, an id next to 身份证). There is no Chinese NER model: names come from jieba's
part-of-speech tags and a surname list. Results are refined like the English analyzer's
(refinement.py): overlaps resolved by entity precedence.

StewardAnalyzer sends Chinese texts here (``language="zh"``, or ``"auto"``/None per text).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterable, Sequence

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc

from governance.privacy.internals import HookedSpacyNlpEngine
from governance.privacy.recognizers.zh import LANGUAGE, zh_recognizers
from governance.privacy.refinement import refine_results


class JiebaNlpEngine(HookedSpacyNlpEngine):
    """spaCy's blank ``zh`` pipeline segmented by jieba: tokens and lemmas, no entities."""

    engine_name = "spacy"

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": LANGUAGE, "model_name": "blank:zh"}])

    def load(self) -> None:
        import spacy

        from governance.privacy.recognizers.zh import _posseg

        _posseg()  # jieba's dictionary, once, quietly
        self.nlp = {LANGUAGE: spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})}

    def doc_to_artifacts(self, doc: Doc, language: str) -> NlpArtifacts:
        # The blank pipeline has no lemmatizer: the token itself is its lemma (context words match it).
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lemma_ or t.lower_ for t in doc],
            nlp_engine=self,
            language=language,
            scores=[],
        )


class ChineseAnalyzer:
    """analyze / analyze_batch as StewardAnalyzer's, for Chinese text."""

    def __init__(self, score_threshold: float = 0.4) -> None:
        self.score_threshold = score_threshold
        nlp_engine = JiebaNlpEngine()
        nlp_engine.load()
        registry = RecognizerRegistry(supported_languages=[LANGUAGE])
        for recognizer in zh_recognizers():
            registry.add_recognizer(recognizer)
        self.engine = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=[LANGUAGE],
            default_score_threshold=score_threshold,
        )
        self._lock = threading.RLock()

    @property
    def supported_entities(self) -> list[str]:
        return sorted(self.engine.get_supported_entities(LANGUAGE))

    def analyze_batch(
        self,
        texts: Iterable[str],
        *,
        entities: Sequence[str] | None = None,
        context: Sequence[str] | None = None,
        score_threshold: float | None = None,
        ad_hoc_recognizers: Sequence[EntityRecognizer] | None = None,
    ) -> list[list[RecognizerResult]]:
        supported = set(self.supported_entities)
        ad_hoc = [_for_chinese(r) for r in ad_hoc_recognizers or []]
        wanted = [e for e in entities if e in supported] if entities else sorted(supported)
        wanted += [e for r in ad_hoc for e in r.supported_entities if e not in wanted]
        threshold = self.score_threshold if score_threshold is None else score_threshold
        custom = {r.name for r in ad_hoc}
        out: list[list[RecognizerResult]] = []
        with self._lock:
            for text in texts:
                text = "" if text is None else str(text)
                if not text.strip() or not wanted:
                    out.append([])
                    continue
                found = self.engine.analyze(
                    text=text,
                    language=LANGUAGE,
                    entities=wanted,
                    context=list(context or []) or None,
                    score_threshold=threshold,
                    ad_hoc_recognizers=ad_hoc or None,
                )
                for result in found:
                    result.analysis_explanation = None
                out.append(refine_results(text, found, custom_recognizers=custom))
        return out


def _for_chinese(recognizer: EntityRecognizer) -> EntityRecognizer:
    """A steward's custom recognizer (built for English) applied to Chinese text too: the same patterns."""
    if recognizer.supported_language == LANGUAGE:
        return recognizer
    clone = copy.copy(recognizer)
    clone.supported_language = LANGUAGE
    return clone


@functools.lru_cache(maxsize=4)
def get_chinese_analyzer(score_threshold: float = 0.4) -> ChineseAnalyzer:
    """The process-wide Chinese analyzer (jieba's dictionary loads once)."""
    return ChineseAnalyzer(score_threshold)
