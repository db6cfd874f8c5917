"""Span-level precision / recall / F1 for PII detection (used by bench/pii_eval.py and tests).

A predicted span counts as correct when a gold span of the same (mapped) type overlaps it;
a gold span counts as found when a predicted span of the same type overlaps it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The synthetic dataset (presidio-research) names some types differently from Presidio.
# Types mapped to None are not scored: a prediction that only overlaps such a span is neither
# right nor wrong (ORGANIZATION is ignored by Presidio's default spaCy configuration and by
# Steward alike; TITLE, AGE and ZIP_CODE have no recognizer in either engine).
DATASET_TO_EVAL: dict[str, str | None] = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "LOCATION",
    "GPE": "LOCATION",
    "CREDIT_CARD": "CREDIT_CARD",
    "DATE_TIME": "DATE_TIME",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "NRP": "NRP",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "DOMAIN_NAME": "URL",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "ORGANIZATION": None,
    "TITLE": None,
    "AGE": None,
    "ZIP_CODE": None,
}

# Presidio / Steward output types onto the evaluation types. STREET_ADDRESS is Steward's own
# type; Presidio's closest is LOCATION, which the dataset uses for both streets and places.
PREDICTION_TO_EVAL: dict[str, str] = {"STREET_ADDRESS": "LOCATION"}


@dataclass(frozen=True)
class Span:
    entity_type: str
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass
class Scores:
    tp_pred: Counter = field(default_factory=Counter)
    n_pred: Counter = field(default_factory=Counter)
    tp_gold: Counter = field(default_factory=Counter)
    n_gold: Counter = field(default_factory=Counter)

    def prf(self, entity_type: str | None = None) -> tuple[float, float, float]:
        if entity_type is None:
            a, b = sum(self.tp_pred.values()), sum(self.n_pred.values())
            c, d = sum(self.tp_gold.values()), sum(self.n_gold.values())
        else:
            a, b = self.tp_pred[entity_type], self.n_pred[entity_type]
            c, d = self.tp_gold[entity_type], self.n_gold[entity_type]
        precision = a / b if b else 0.0
        recall = c / d if d else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    @property
    def entity_types(self) -> list[str]:
        return sorted(set(self.n_gold) | set(self.n_pred))


def score_spans(
    gold: Iterable[Sequence[Span]],
    predicted: Iterable[Sequence[Span]],
    *,
    ignored: Iterable[Sequence[Span]] | None = None,
) -> Scores:
    """Score per document lists of gold and predicted spans (types already mapped).

    ``ignored`` holds per document the spans of unscored types; predictions overlapping only
    those are dropped rather than counted as false positives.
    """
    scores = Scores()
    ignored_docs = list(ignored) if ignored is not None else None
    for i, (gold_spans, pred_spans) in enumerate(zip(gold, predicted, strict=True)):
        skip = ignored_docs[i] if ignored_docs is not None else ()
        eval_types = set(DATASET_TO_EVAL.values()) - {None}
        preds = []
        for p in pred_spans:
            if p.entity_type not in eval_types:
                continue
            hits_gold = any(g.entity_type == p.entity_type and g.overlaps(p) for g in gold_spans)
            if not hits_gold and any(s.overlaps(p) for s in skip):
                continue
            preds.append(p)
            scores.n_pred[p.entity_type] += 1
            if hits_gold:
                scores.tp_pred[p.entity_type] += 1
        for g in gold_spans:
            scores.n_gold[g.entity_type] += 1
            if any(p.entity_type == g.entity_type and p.overlaps(g) for p in preds):
                scores.tp_gold[g.entity_type] += 1
    return scores


def gold_spans(record: Mapping) -> tuple[list[Span], list[Span]]:
    """(scored gold spans, ignored spans) of one synth_dataset record, types mapped."""
    scored, ignored = [], []
    for s in record["spans"]:
        mapped = DATASET_TO_EVAL.get(s["entity_type"])
        span = Span(mapped or s["entity_type"], s["start_position"], s["end_position"])
        (scored if mapped else ignored).append(span)
    return scored, ignored


def predicted_spans(results: Iterable) -> list[Span]:
    return [Span(PREDICTION_TO_EVAL.get(r.entity_type, r.entity_type), r.start, r.end) for r in results]
