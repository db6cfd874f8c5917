"""The speed-ups of the analyzer and of masking change no result: each is checked against the
Presidio code path it replaces, on real components and small data."""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from faker import Faker
from presidio_analyzer import PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from governance.privacy.analyzer import PHONE_REGIONS, AnalyzerConfig, get_analyzer
from governance.privacy.masking import ColumnRule, MaskingSecrets, Pseudonymizer, _anonymizer, anonymize_text
from governance.privacy.recognizers.address import StreetAddressRecognizer
from governance.privacy.recognizers.phone import StewardPhoneRecognizer
from governance.privacy.refinement import refine_results

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "Delivered late to 1659 Hoog Street, Apt. 12. Call Maria Lopez on 212-555-0199 please.",
    "Write to jane.doe@example.co.uk or visit https://shop.example.com/help today",
    "Please block my card 4111 1111 1111 1111, my SSN is 078-05-1120.",
    "Born on Tuesday, 4/14/1962 in Paris; moved to Loeches in 2011.",
    "Mr. Alan Turing lives in London and his IBAN is GB82 WEST 1234 5698 7654 32.",
    "Server 192.168.0.12 logged in from 2001:db8::ff00:42:8329 at 10:45.",
    "Phone:\n+44 20 7946 0958\nAddress:\nRua Igreja 25\n4700-035 Braga\nPortugal",
    "I am Kristýna Nováková, tel. 777 123 456, Koskikatu 12 A, Espoo.",
    "The blender was great, setup took 5 minutes. Five stars.",
    "Honestly the kettle was fine. Meh.",
    "Ordered the lamp last Tuesday, it stopped working after 12 days.",
    "My neighbour Dr. Ann Lee-Brown DDS recommended this shop.",
    "Send the replacement to Jacob Henry, 8795 Sean Ports Suite 120.",
    "Contact me at j.smith12@gmail.com or (610)803-8764x549 about order 88213.",
    "",
    "   ",
]


def _as_tuples(results: list[RecognizerResult]) -> list[tuple[str, int, int, float]]:
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


@pytest.fixture(scope="module")
def full_analyzer():
    """Steward's analyzer without triage: every text gets every recognizer and NER in full."""
    return get_analyzer(AnalyzerConfig(triage=False))


def _customer_reviews(rows: int) -> tuple[list[str], list[bool]]:
    spec = importlib.util.spec_from_file_location("customer_table", ROOT / "bench" / "customer_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table, has_pii = module.generate(rows, seed=5)
    return table.column("review").to_pylist(), [bool(x) for x in has_pii]


def test_batch_analysis_gives_presidios_results_text_by_text(full_analyzer):
    """analyze_batch re-implements AnalyzerEngine.analyze (recognizers, context, threshold,
    de-duplication); with triage off it must equal Presidio's own call plus Steward's refinement."""
    engine = full_analyzer.engine
    threshold = full_analyzer.config.score_threshold
    for context in (None, ["telephone", "email"]):
        batch = full_analyzer.analyze_batch(TEXTS, context=context)
        for text, found in zip(TEXTS, batch, strict=True):
            if not text.strip():
                assert found == []
                continue
            artifacts = engine.nlp_engine.process_text(text, "en")
            raw = engine.analyze(
                text,
                "en",
                entities=full_analyzer.entities,
                context=list(context or []),
                nlp_artifacts=artifacts,
                score_threshold=threshold,
            )
            assert _as_tuples(found) == _as_tuples(refine_results(text, raw)), text


def test_triage_finds_every_review_with_personal_data(analyzer, full_analyzer):
    """Skipping NER where pattern detections cover the candidate words, and texts without any
    candidate, loses no review that carries personal data; the cells it leaves alone that full
    analysis flags are spaCy's false positives on ordinary words ("mug" as a PERSON)."""
    reviews, has_pii = _customer_reviews(400)
    fast = analyzer.analyze_batch(reviews)
    full = full_analyzer.analyze_batch(reviews)
    assert all(found for found, pii in zip(fast, has_pii, strict=True) if pii)
    assert all(f for f, g in zip(full, fast, strict=True) if g)
    only_full = [(text, r, pii) for text, r, g, pii in zip(reviews, full, fast, has_pii, strict=True) if r and not g]
    for text, results, pii in only_full:
        assert not pii, text
        assert {r.entity_type for r in results} <= {"PERSON", "LOCATION", "NRP", "DATE_TIME"}, text


def test_repeated_sentences_go_through_ner_once_per_batch(analyzer, monkeypatch):
    seen: list[str] = []
    nlp = analyzer._nlp

    class CountingNlp:
        def pipe(self, texts, **kwargs):
            texts = list(texts)
            seen.extend(texts)
            return nlp.pipe(texts, **kwargs)

        def __getattr__(self, name):
            return getattr(nlp, name)

    monkeypatch.setattr(analyzer, "_nlp", CountingNlp())
    texts = [f"The mug was fine, setup took {i} minutes. Meh." for i in range(30)]
    texts += ["The mug arrived on time. Paula Quist from support was very helpful."]
    analyzer.analyze_batch(texts)
    # "Meh." (not an English word) needs NER, once; "Paula Quist", covered by the first-name
    # recognizer, needs none.
    assert seen == ["Meh."]


def _phone_texts() -> list[str]:
    rng = random.Random(3)
    texts = []
    for locale in ("en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "pt_BR", "ja_JP", "da_DK", "hu_HU", "en_AU"):
        fake = Faker(locale)
        fake.seed_instance(7)
        for _ in range(6):
            texts.append(f"Call me on {fake.phone_number()} or {fake.phone_number()} after {rng.randint(1, 59)} min.")
    for _ in range(30):
        digits = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(4, 15)))
        texts.append(f"Order {digits[:3]}-{digits[3:]} shipped, ref 00{digits[:6]} or +{digits[:11]} x{digits[:3]}")
    return texts


def _merged(results: list[RecognizerResult]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted((r.start, r.end) for r in results):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def test_phone_recognizer_finds_what_presidios_finds_with_every_region():
    presidio = PhoneRecognizer(supported_regions=PHONE_REGIONS)
    steward = StewardPhoneRecognizer(supported_regions=PHONE_REGIONS)
    assert steward.name == "PhoneRecognizer"
    texts = _phone_texts()
    found = 0
    for text in texts:
        expected = _merged(presidio.analyze(text, ["PHONE_NUMBER"]))
        assert _merged(steward.analyze(text, ["PHONE_NUMBER"])) == expected, text
        found += bool(expected)
    assert found > len(texts) // 2


def test_guarded_street_patterns_match_like_the_plain_patterns():
    guarded = StreetAddressRecognizer()
    plain = PatternRecognizer(
        supported_entity="STREET_ADDRESS",
        name="plain",
        patterns=guarded.patterns,
        context=guarded.context,
        global_regex_flags=guarded.global_regex_flags,
    )
    texts = list(TEXTS)
    for locale in ("en_US", "de_DE", "fi_FI", "pt_PT", "pl_PL", "hu_HU", "it_IT", "es_ES", "nl_NL", "da_DK"):
        fake = Faker(locale)
        fake.seed_instance(11)
        texts += [f"Ship it to {fake.address()} please" for _ in range(5)]
    hits = 0
    for text in texts:
        expected = sorted((r.start, r.end, r.score) for r in plain.analyze(text, ["STREET_ADDRESS"]))
        assert sorted((r.start, r.end, r.score) for r in guarded.analyze(text, ["STREET_ADDRESS"])) == expected
        hits += bool(expected)
    assert hits > 30


SECRETS = MaskingSecrets(hash_salt="a-test-salt-that-is-long-enough", encryption_key="0123456789abcdef")


@pytest.mark.parametrize(
    "operator, params",
    [
        ("replace", {}),
        ("replace", {"new_value": "[X]"}),
        ("redact", {}),
        ("mask", {"chars_to_keep": 2}),
        ("hash", {}),
        ("pseudonymize", {}),
    ],
)
def test_direct_span_rewrite_equals_presidios_anonymizer(analyzer, operator, params):
    rule = ColumnRule("review", operator, {"scope": "spans", **params})
    cases = [(t, r) for t, r in zip(TEXTS, analyzer.analyze_batch(TEXTS), strict=True) if r]
    # Same-type neighbours separated by spaces are merged by the engine: "Ann" "Lee" -> one span.
    text = "Ann Lee  and Bob"
    cases.append(
        (
            text,
            [
                RecognizerResult("PERSON", 0, 3, 0.9),
                RecognizerResult("PERSON", 4, 7, 0.9),
                RecognizerResult("PERSON", 13, 16, 0.9),
            ],
        )
    )
    assert len(cases) > 8
    engine = _anonymizer()
    for text, results in cases:
        assert anonymize_text(text, results, rule, secrets=SECRETS) == anonymize_text(
            text, results, rule, secrets=SECRETS, engine=engine
        )


def test_overlapping_spans_are_left_to_the_anonymizer_engine():
    rule = ColumnRule("review", "replace", {"scope": "spans"})
    text = "Call 212-555-0199 now"
    results = [RecognizerResult("PHONE_NUMBER", 5, 17, 0.9), RecognizerResult("US_BANK_NUMBER", 9, 17, 0.5)]
    assert anonymize_text(text, results, rule, secrets=SECRETS) == "Call <PHONE_NUMBER> now"


def test_pseudonyms_do_not_depend_on_the_cache(monkeypatch):
    from governance.privacy import masking

    fake = Pseudonymizer("name", SECRETS.hash_salt)
    first = [fake(n) for n in ("Ann Lee", "Bob Stone", "Ann Lee")]
    monkeypatch.setattr(masking, "_pseudonyms", masking.OrderedDict())
    again = [Pseudonymizer("name", SECRETS.hash_salt)(n) for n in ("Ann Lee", "Bob Stone", "Ann Lee")]
    assert first == again and first[0] == first[2] and first[0] != first[1]
    assert "Ann Lee" not in masking._pseudonyms  # remembered by salted digest only


def test_importing_the_privacy_urls_loads_neither_presidio_nor_spacy(tmp_path):
    code = (
        "import sys, django; django.setup(); import governance.privacy.urls; "
        "heavy = [m for m in ('presidio_analyzer', 'presidio_anonymizer', 'spacy', 'transformers', 'torch') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", STEWARD_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
