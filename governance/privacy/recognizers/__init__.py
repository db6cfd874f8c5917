"""Recognizers Steward adds to (or swaps into) Presidio's default registry, one module per kind of entity.

Each one closes a gap measured by bench/pii_eval.py against a plain AnalyzerEngine:
street addresses (spaCy only sees some cities), names introduced by a title or a label,
"First Last" pairs from Faker's multi-locale first-name lists, phone numbers announced by a
label in formats phonenumbers does not know, card numbers of issuers missing from Presidio's
regex, and an e-mail recognizer whose domain check never touches the network.
Per-dataset recognizers (regex with context words, deny lists) are built from a JSON-able spec.

Two are about speed, not coverage, and find exactly what the code they replace finds (tests in
tests/privacy/test_fast_paths.py): the street-address patterns run only where a cheap necessary
substring occurs (GuardedPatternRecognizer), and the phone recognizer stops trying regions once
every number-like candidate is matched and skips regions whose number lengths rule a candidate
out (StewardPhoneRecognizer). What they need of Presidio's and phonenumbers' internals goes
through governance/privacy/internals.py.

- address: street lines, units and post boxes, "City, ST 12345"
- cards: Luhn-valid card numbers
- custom: a steward's per-dataset recognizers from a JSON spec
- email: e-mail addresses, validated offline
- locations: countries and places after a travel cue
- names: person names
- patterns: the building blocks (guarded patterns, named-group regexes)
- phone: phone numbers
- zh: Chinese PII for the ``zh`` analyzer (analyzer_zh.py): mobiles, resident ids, bank cards, names,
  addresses, e-mails and IPs; its resident-id recognizer also serves English text
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from governance.privacy.recognizers.address import StreetAddressRecognizer
from governance.privacy.recognizers.cards import CardNumberRecognizer
from governance.privacy.recognizers.locations import CountryRecognizer, LocationCueRecognizer
from governance.privacy.recognizers.names import (
    FirstNameSurnameRecognizer,
    LabelledPersonRecognizer,
    SingleFirstNameRecognizer,
)
from governance.privacy.recognizers.phone import LabelledPhoneRecognizer
from governance.privacy.recognizers.zh import ZhResidentIdRecognizer


def steward_recognizers(language: str = "en") -> list[EntityRecognizer]:
    """The recognizers Steward registers beside Presidio's predefined ones."""
    return [
        StreetAddressRecognizer(language),
        CountryRecognizer(language),
        LabelledPersonRecognizer(language),
        FirstNameSurnameRecognizer(language),
        SingleFirstNameRecognizer(language),
        LocationCueRecognizer(language),
        LabelledPhoneRecognizer(language),
        CardNumberRecognizer(language),
        # Chinese resident id numbers (check character and birth date) turn up in English tables too.
        ZhResidentIdRecognizer(language),
    ]
