"""Refinement of the analyzer's merged detections, text by text.

Presidio reports what each recognizer found; several recognizers (and spaCy's NER) often find
overlapping pieces of one thing. Refinement makes one answer of them:
- spaCy DATE spans that are bare numbers or vague ("next week") are dropped, and so are URL spans
  cut out of a longer word or touching an "@" (the local part of an e-mail address);
- overlapping spans of one type become their union;
- a street line and the unit, city and country pieces next to it become one address span;
- remaining overlaps are resolved by precedence (a card number is not also a date, a street is
  not also a person; a steward's own recognizer wins).
"""

from __future__ import annotations

from collections.abc import Sequence

import regex as re
from presidio_analyzer import RecognizerResult

# When two detections overlap, the one of the higher rank survives. Validated patterns first
# (checksums, fixed shapes), then labelled or shaped text, then NER guesses.
ENTITY_PRECEDENCE: dict[str, int] = {
    "EMAIL_ADDRESS": 100,
    "IBAN_CODE": 95,
    # A resident id with a valid check character and birth date is not also a bank card (62... ids).
    "CN_RESIDENT_ID": 92,
    "CREDIT_CARD": 90,
    "US_SSN": 90,
    "IP_ADDRESS": 90,
    "URL": 85,
    "CRYPTO": 85,
    "US_ITIN": 80,
    "US_PASSPORT": 70,
    "UK_NHS": 55,
    "STREET_ADDRESS": 65,
    "PHONE_NUMBER": 60,
    "MEDICAL_LICENSE": 55,
    "US_DRIVER_LICENSE": 50,
    "US_BANK_NUMBER": 50,
    "PERSON": 40,
    "LOCATION": 35,
    "NRP": 30,
    "DATE_TIME": 20,
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


def _recognizer(result: RecognizerResult) -> str:
    return (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "")


def rank(result: RecognizerResult, custom: set[str]) -> int:
    """Precedence of a detection (``custom``: names of the steward's own recognizers)."""
    name = _recognizer(result)
    if name in custom:
        return CUSTOM_PRECEDENCE
    if name in RECOGNIZER_PRECEDENCE:
        return RECOGNIZER_PRECEDENCE[name]
    return ENTITY_PRECEDENCE.get(result.entity_type, 45)


def refine_results(
    text: str, results: Sequence[RecognizerResult], *, custom_recognizers: set[str] | None = None
) -> list[RecognizerResult]:
    """One answer from overlapping detections in ``text``, ordered by position (see the module docstring)."""
    custom = custom_recognizers or set()
    kept = [r for r in results if not _vague_date(text, r) and not _partial_url(text, r)]
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
    return not _SPECIFIC_DATE.search(text[result.start : result.end])


def _partial_url(text: str, result: RecognizerResult) -> bool:
    # A "URL" cut out of a longer word or touching an "@" is a piece of an e-mail address or of a
    # token ("jane.do" of "jane.doe@corp.example", "corp.int" of "x@corp.internal"), not a link.
    if result.entity_type != "URL":
        return False
    after = text[result.end : result.end + 1]
    before = text[result.start - 1 : result.start] if result.start else ""
    return after == "@" or before == "@" or after.isalnum() or after == "_"


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
        if (
            last is not None
            and piece.start >= last.end
            and (last.entity_type == "STREET_ADDRESS" or piece.entity_type == "STREET_ADDRESS")
        ):
            gap = text[last.end : piece.start]
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
    ordered = sorted(results, key=lambda r: (-rank(r, custom), -r.score, r.start))
    kept: list[RecognizerResult] = []
    for result in ordered:
        if any(result.start < k.end and k.start < result.end for k in kept):
            continue
        kept.append(result)
    return kept
