"""Phone numbers: Presidio's PhoneRecognizer made faster, and numbers announced by a label."""

from __future__ import annotations

import functools
import re as std_re
from typing import Any

import phonenumbers
import regex as re
from phonenumbers import PhoneMetadata
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from governance.privacy.internals import (
    PHONE_CANDIDATE_PATTERN,
    PHONE_SECOND_NUMBER_START,
    PLUS_SIGNS,
    FilteredPhoneNumberMatcher,
    national_part,
    phone_result,
)
from governance.privacy.recognizers.patterns import GroupRegexRecognizer


class StewardPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer (same name, score and matches) that stops trying regions early.

    python-phonenumbers finds number candidates with one region-independent regex and then, per
    region, parses each candidate (or a part of it). Once the matches found so far cover every
    candidate, further regions can only report spans inside them, which the analyzer merges into
    the same spans; so the remaining regions are skipped. A text without any candidate skips all
    of them. With many regions configured this is most of the recognizer's time.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "PhoneRecognizer")
        super().__init__(**kwargs)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        candidates = phone_candidates(text)
        if not candidates:
            return []
        results: list[RecognizerResult] = []
        for region in self.supported_regions:
            # Parsing a piece of text that cannot be a valid number of the region by length alone (a
            # 10-digit national number is no Danish number) is skipped: most of the time spent on
            # invalid numbers tried against many regions. Same matches otherwise.
            matcher = FilteredPhoneNumberMatcher(text, region, leniency=self.leniency, admits=_may_be_valid)
            for match in matcher:
                results.append(phone_result(self, match, text, region, nlp_artifacts))
            if results and _all_covered(candidates, [(r.start, r.end) for r in results]):
                break
        return EntityRecognizer.remove_duplicates(results)


@functools.lru_cache(maxsize=512)
def _region_rules(region: str) -> tuple[str, int, int, tuple[str, ...] | None, Any] | None:
    """(country code, shortest and longest national number, literal national prefixes or None
    when they are patterns, international-prefix regex) of a region."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    lengths = set()
    for other in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code, (region,)):
        other_metadata = PhoneMetadata.metadata_for_region(other)
        if other_metadata is not None:
            lengths.update(n for n in other_metadata.general_desc.possible_length or () if n > 0)
    if not lengths:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and (metadata.national_prefix_transform_rule or not std_re.fullmatch(r"\d+(?:\|\d+)*", prefix)):
        prefixes = None
    else:
        prefixes = tuple(prefix.split("|")) if prefix else ()
    idd = std_re.compile(metadata.international_prefix) if metadata.international_prefix else None
    return str(metadata.country_code), min(lengths), max(lengths), prefixes, idd


def _may_be_valid(candidate: str, region: str) -> bool:
    """False only when no parse of ``candidate`` for ``region`` can give a valid number: its
    national significant number would be shorter or longer than any of the country's."""
    rules = _region_rules(region)
    if rules is None or any(c in candidate for c in PLUS_SIGNS):
        return True  # "+": the country comes from the number itself
    code, shortest, longest, prefixes, idd = rules
    digits = phonenumbers.normalize_digits_only(candidate)
    if len(digits) + 1 < shortest:  # +1: Argentina's prefix rule inserts a 9
        return False
    if prefixes is None or sum(c.isascii() and c.isalpha() for c in candidate) >= 3:
        return True  # prefix patterns with carrier codes, or a vanity number ("1-800-FLOWERS")
    if idd is not None and idd.match(digits):
        return True  # an international number dialled from the region: any country
    national = phonenumbers.normalize_digits_only(national_part(candidate))
    strip = len(code) if national.startswith(code) else 0
    strip += max((len(p) for p in prefixes if national.startswith(p) or national[strip:].startswith(p)), default=0)
    return len(national) - strip <= longest


# No valid number has fewer digits: the shortest national significant numbers of any region
# have 4 digits and national-prefix rules add at most one (Argentina's "9").
MIN_PHONE_DIGITS = 3


def phone_candidates(text: str) -> list[tuple[int, int]]:
    """The spans python-phonenumbers' matcher considers, whatever the region (its own regexes),
    less those too short to be any valid number ("5 minutes")."""
    spans: list[tuple[int, int]] = []
    pattern = PHONE_CANDIDATE_PATTERN
    second = PHONE_SECOND_NUMBER_START
    match = pattern.search(text)
    while match is not None:
        start = match.start()
        candidate = text[start : match.end()]
        trailing = second.search(candidate)
        end = start + (trailing.start() if trailing else len(candidate))
        if sum(c.isdigit() for c in text[start:end]) >= MIN_PHONE_DIGITS:
            spans.append((start, end))
        match = pattern.search(text, max(end, start + 1))
    return spans


def _all_covered(candidates: list[tuple[int, int]], spans: list[tuple[int, int]]) -> bool:
    ordered = sorted(spans)
    for start, end in candidates:
        reach = start
        for s, e in ordered:
            if s <= reach < e:
                reach = e
            if reach >= end:
                break
        if reach < end:
            return False
    return True


class LabelledPhoneRecognizer(GroupRegexRecognizer):
    """Phone numbers after "Phone:", "Mobile:", "call me at" or before "-Office"/" fax"."""

    _NUMBER = r"\+?\(?\d[\d \t().\-]{4,18}\d(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,5})?"
    PATTERNS = (
        (
            "label before",
            rf"(?i:\b(?:phone|telephone|tel|mobile|cell|cellphone|fax|desk|office|call me at"
            rf"|call me on|answering at|messages to|reach me at|text me at|whatsapp))\b[ \t]*[:#.]?[ \t\n]*"
            rf"(?P<name>{_NUMBER})",
            0.6,
        ),
        (
            "label after",
            rf"(?<![\d+])(?P<name>{_NUMBER})[ \t]*-?[ \t]*(?i:(?:office|fax|mobile|cell|home|work|desk))\b",
            0.6,
        ),
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            "PHONE_NUMBER", "LabelledPhoneRecognizer", context=["phone"], supported_language=supported_language
        )

    def accept(self, value: str) -> bool:
        number = re.split(r"[ \t]?(?:x|ext\.?)[ \t]?(?=\d)", value, maxsplit=1)[0]
        digits = sum(c.isdigit() for c in number)
        return 6 <= digits <= 15
