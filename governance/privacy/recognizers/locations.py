"""Places: country names (with a postcode) and capitalised place names after a travel cue."""

from __future__ import annotations

import functools

import regex as re
from presidio_analyzer import Pattern, PatternRecognizer

from governance.privacy.recognizers.names import NON_NAME_WORDS
from governance.privacy.recognizers.patterns import GroupRegexRecognizer, alternation


@functools.lru_cache(maxsize=1)
def country_names() -> tuple[str, ...]:
    """English country names (Faker's en_US list plus common short forms)."""
    from faker.providers.address.en_US import Provider

    extra = (
        "USA",
        "United States",
        "UK",
        "United Kingdom",
        "Czech Republic",
        "Czechia",
        "South Korea",
        "North Korea",
        "Russia",
        "Greenland",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "Taiwan",
        "Vietnam",
        "Iran",
        "Syria",
        "Laos",
        "Bolivia",
        "Venezuela",
        "Tanzania",
        "Moldova",
        "Macedonia",
        "North Macedonia",
    )
    names = {str(c).split(" (")[0] for c in Provider.countries} | set(extra)
    return tuple(sorted(names, key=len, reverse=True))


class CountryRecognizer(PatternRecognizer):
    """Country names, optionally followed by a postcode ("Iceland 72399")."""

    def __init__(self, supported_language: str = "en") -> None:
        countries = alternation(country_names())
        super().__init__(
            supported_entity="LOCATION",
            name="CountryRecognizer",
            supported_language=supported_language,
            patterns=[
                Pattern(
                    "country",
                    rf"(?<![\p{{L}}])(?:{countries})(?:[ \t]+\((?:Greek|Turkish)\))?"
                    rf"(?:[ \t]+\d{{3,6}}(?:-\d{{3,4}})?)?(?![\p{{L}}])",
                    0.6,
                )
            ],
            context=["country", "from", "in", "to", "live"],
            global_regex_flags=re.MULTILINE,
        )


class LocationCueRecognizer(GroupRegexRecognizer):
    """Capitalised place names after a travel or residence cue ("flew to Loeches")."""

    PATTERNS = (
        (
            "cue",
            r"(?i:\b(?:flew to|fly to|flying to|arrived at|arrived in|moved (?:here )?(?:from|to)|originally from"
            r"|comes? from|based in|lives? in|living in|located in|travel(?:l)?ing to|I am in|I'm in|born in"
            r"|grew up in|city of|town of|village of|visit(?:ed|ing)? to|trip to|returned to|relocat(?:ed|ing) to))"
            r"[ \t]+(?P<name>[\p{Lu}][\p{L}\p{M}'’\-]+(?:[ \t]+(?:[\p{Lu}][\p{L}\p{M}'’\-]+|de|del|da|do|di|nad|am|an)){0,3})",  # noqa: E501
            0.5,
        ),
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__("LOCATION", "LocationCueRecognizer", context=None, supported_language=supported_language)

    def accept(self, value: str) -> bool:
        return value.split()[0].lower() not in NON_NAME_WORDS or value.split()[0] in ("Park", "Lake")
