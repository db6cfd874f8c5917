from __future__ import annotations

from governance.privacy.evaluation import Span, gold_spans, score_spans


def test_overlapping_span_of_the_same_type_counts_and_ignored_types_are_not_false_positives():
    gold = [[Span("PERSON", 0, 10), Span("LOCATION", 20, 30)]]
    ignored = [[Span("ORGANIZATION", 40, 50)]]
    predicted = [[Span("PERSON", 5, 8), Span("PERSON", 20, 25), Span("LOCATION", 45, 48)]]
    scores = score_spans(gold, predicted, ignored=ignored)
    # PERSON 5-8 hits; PERSON 20-25 overlaps a LOCATION (wrong type); LOCATION 45-48 only
    # overlaps an unscored ORGANIZATION span and is dropped.
    assert scores.prf("PERSON") == (0.5, 1.0, 2 / 3)
    assert scores.prf("LOCATION") == (0.0, 0.0, 0.0)
    precision, recall, _ = scores.prf()
    assert (precision, recall) == (0.5, 0.5)


def test_dataset_types_are_mapped_to_presidio_names():
    record = {
        "spans": [
            {"entity_type": "STREET_ADDRESS", "start_position": 0, "end_position": 5},
            {"entity_type": "DOMAIN_NAME", "start_position": 6, "end_position": 9},
            {"entity_type": "TITLE", "start_position": 10, "end_position": 12},
        ]
    }
    scored, ignored = gold_spans(record)
    assert [s.entity_type for s in scored] == ["LOCATION", "URL"]
    assert [s.entity_type for s in ignored] == ["TITLE"]
