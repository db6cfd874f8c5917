"""Steward's analyzer: offline construction, tuned recognizers, refinement and custom recognizers."""

from __future__ import annotations

import socket

import pytest

from governance.privacy.analyzer import AnalyzerConfig, StewardAnalyzer
from governance.privacy.recognizers.custom import RecognizerSpecError, recognizer_from_spec


def _found(results, text):
    return {(r.entity_type, text[r.start : r.end]) for r in results}


def test_analyzer_builds_and_detects_emails_with_the_network_blocked(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # A fresh engine (not the cached one): loading spaCy, registering recognizers and the first
    # e-mail validation (tldextract) must all work offline.
    analyzer = StewardAnalyzer(AnalyzerConfig(phone_regions=("US",)))
    text = "Write to jane.doe@example.co.uk or visit https://shop.example.com/help"
    found = _found(analyzer.analyze(text), text)
    assert ("EMAIL_ADDRESS", "jane.doe@example.co.uk") in found
    assert not any(t == "URL" and "jane.doe" in v for t, v in found)


def test_review_with_phone_address_and_name_is_fully_detected(analyzer):
    text = "Delivered late to 1659 Hoog Street, Apt. 12. Call Maria Lopez on 212-555-0199 please."
    found = _found(analyzer.analyze(text), text)
    assert ("STREET_ADDRESS", "1659 Hoog Street, Apt. 12") in found
    assert ("PHONE_NUMBER", "212-555-0199") in found
    assert ("PERSON", "Maria Lopez") in found


def test_card_number_next_to_the_word_card_is_found_even_outside_presidios_prefixes(analyzer):
    text = "Please block my card 213176828496175 today"
    found = _found(analyzer.analyze(text), text)
    assert found == {("CREDIT_CARD", "213176828496175")}


def test_bare_numbers_and_vague_dates_are_not_reported_as_dates(analyzer):
    text = "I ordered 3 times in the last few months, order 88213 arrived next week."
    assert not [r for r in analyzer.analyze(text) if r.entity_type == "DATE_TIME"]
    dated = "Born on Tuesday, 4/14/1962."
    assert any(r.entity_type == "DATE_TIME" for r in analyzer.analyze(dated))


def test_low_confidence_guesses_are_dropped_by_the_score_threshold(analyzer):
    text = "My order number is A1234567 and it shipped."
    assert all(r.score >= analyzer.config.score_threshold for r in analyzer.analyze(text))
    assert not [r for r in analyzer.analyze(text) if r.entity_type == "US_DRIVER_LICENSE"]


def test_batch_analysis_matches_one_by_one_analysis(analyzer):
    texts = ["Email bob@example.org now", "", "nothing here", "Mr. Alan Turing lives in London"]
    batch = analyzer.analyze_batch(texts)
    single = [analyzer.analyze(t) for t in texts]
    as_tuples = lambda rs: [(r.entity_type, r.start, r.end) for r in rs]  # noqa: E731
    assert [as_tuples(b) for b in batch] == [as_tuples(s) for s in single]
    assert batch[1] == []


def test_column_name_context_raises_the_score_of_a_bare_phone_number(analyzer):
    plain = analyzer.analyze("212-555-0199")
    with_context = analyzer.analyze("212-555-0199", context=["telephone"])
    assert max(r.score for r in with_context) > max(r.score for r in plain)


def test_custom_regex_recognizer_with_context_and_deny_list(analyzer):
    recognizers = [
        recognizer_from_spec(
            {
                "entity_type": "LOYALTY_CARD",
                "patterns": [{"regex": r"\bLC-\d{6}\b", "score": 0.5}],
                "context": ["loyalty"],
            }
        ),
        recognizer_from_spec({"entity_type": "VIP_CUSTOMER", "deny_list": ["Goldmember"]}),
    ]
    text = "Loyalty number LC-123456 belongs to Goldmember."
    results = analyzer.analyze(text, ad_hoc_recognizers=recognizers)
    found = _found(results, text)
    assert ("LOYALTY_CARD", "LC-123456") in found
    assert ("VIP_CUSTOMER", "Goldmember") in found
    loyalty = next(r for r in results if r.entity_type == "LOYALTY_CARD")
    assert loyalty.score > 0.5  # boosted by the context word


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"entity_type": "lower"}, "UPPER_SNAKE_CASE"),
        ({"entity_type": "ORDER_ID"}, "at least one pattern"),
        ({"entity_type": "ORDER_ID", "patterns": [{"regex": "("}]}, "does not compile"),
        ({"entity_type": "ORDER_ID", "patterns": [{"regex": "a*"}]}, "empty string"),
        ({"entity_type": "ORDER_ID", "deny_list": ["x"], "colour": 1}, "unknown field"),
        ({"entity_type": "ORDER_ID", "deny_list": ["x"], "score": 2}, "score"),
    ],
)
def test_bad_custom_recognizer_specs_are_rejected_with_a_message(spec, message):
    with pytest.raises(RecognizerSpecError, match=message):
        recognizer_from_spec(spec)
