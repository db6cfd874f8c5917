"""Card numbers: Luhn-valid digit runs of any issuer, strong next to a word such as "card"."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class CardNumberRecognizer(PatternRecognizer):
    """12-19 digit Luhn-valid numbers: weak alone, strong next to "card" (context boost)."""

    CONTEXT: ClassVar[list[str]] = [
        "card",
        "credit",
        "debit",
        "visa",
        "mastercard",
        "amex",
        "discover",
        "jcb",
        "maestro",
        "diners",
        "cc",
        "payment",
        "charge",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="CardNumberRecognizer",
            supported_language=supported_language,
            patterns=[
                Pattern("digits", r"(?<![\d\-])\d{12,19}(?![\d\-])", 0.3),
                Pattern("grouped", r"(?<![\d\-])\d{4}(?:[ \-]\d{4}){2}[ \-]\d{1,7}(?![\d\-])", 0.3),
            ],
            context=self.CONTEXT,
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isdigit())
        return 12 <= len(digits) <= 19 and luhn_valid(digits)
