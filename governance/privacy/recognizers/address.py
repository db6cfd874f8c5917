"""Street addresses: street lines in many languages, unit and post-box lines, "City, ST 12345"."""

from __future__ import annotations

import importlib
import re as std_re
from typing import ClassVar

import regex as re
from presidio_analyzer import Pattern

from governance.privacy.recognizers.patterns import GuardedPatternRecognizer, alternation

# Words that end a street name ("Clarke Avenue"). Curated from postal abbreviations; words that
# are also common surnames ("Hill", "Park", "Green") are left out on purpose.
STREET_SUFFIXES = (
    "Street",
    "St",
    "Avenue",
    "Ave",
    "Av",
    "Road",
    "Rd",
    "Drive",
    "Dr",
    "Lane",
    "Ln",
    "Boulevard",
    "Blvd",
    "Way",
    "Court",
    "Ct",
    "Terrace",
    "Terr",
    "Place",
    "Pl",
    "Square",
    "Sq",
    "Parkway",
    "Pkwy",
    "Highway",
    "Hwy",
    "Circle",
    "Cir",
    "Crescent",
    "Cres",
    "Close",
    "Crossroad",
    "Crossing",
    "Bypass",
    "Cove",
    "Coves",
    "Gateway",
    "Trail",
    "Trl",
    "Plaza",
    "Expressway",
    "Freeway",
    "Motorway",
    "Loop",
    "Row",
    "Walk",
    "Alley",
    "Mews",
    "Grove",
    "Gardens",
    "Route",
    "Pike",
    "Turnpike",
    "Ridge",
    "Heights",
    "Junction",
    "Landing",
    "Estates",
    "Esplanade",
    "Promenade",
    "Quay",
    "Wharf",
    "Causeway",
    "Mall",
    "Passage",
    "Pathway",
    "Path",
    "Track",
    "Underpass",
    "Overpass",
    "Viaduct",
    "Wynd",
    "Brae",
    "Rise",
    "Vale",
    "Mill",
    "Mills",
    "Meadows",
    "Orchard",
    "Manor",
    "Point",
    "Summit",
    "Ramp",
    "Center",
    "Centre",
    "Stravenue",
    "Throughway",
    "Tollway",
    "Trafficway",
    "Spur",
    "Bend",
)
# USPS suffixes (Faker's en_US list) are accepted after a house number only ("515 Pearson Inlet").
USPS_SUFFIXES = tuple(getattr(importlib.import_module("faker.providers.address.en_US").Provider, "street_suffixes", ()))

# Words that open a street name in other languages ("Rua Igreja 25", "ul. Grochowa 80").
STREET_PREFIXES = (
    "Rua",
    "Rue",
    "Via",
    "Viale",
    "Vicolo",
    "Corso",
    "Piazza",
    "Piazzale",
    "Largo",
    "Strada",
    "Calle",
    "C/",
    "Avenida",
    "Avda.",
    "Av.",
    "Paseo",
    "Camino",
    "Carrera",
    "Plaza",
    "Travessa",
    "Estrada",
    "Alameda",
    "Praça",
    "Chemin",
    "Allée",
    "Boulevard",
    "Quai",
    "Place",
    "Ul.",
    "ul.",
    "ulica",
    "Aleja",
    "al.",
    "Jalan",
    "Jln",
    "Strada",
    "Bulevardul",
    "Str.",
    "Calea",
    "Avinguda",
    "Carrer",
    "Rambla",
    "Rúa",
)

# Endings glued to a street word ("Koskikatu", "Augsburger Strasse", "Mellemvej").
STREET_ENDINGS = (
    "straße",
    "strasse",
    "str.",
    "weg",
    "gasse",
    "platz",
    "allee",
    "damm",
    "ring",
    "ufer",
    "laan",
    "straat",
    "dreef",
    "gracht",
    "plein",
    "steeg",
    "singel",
    "kade",
    "katu",
    "kuja",
    "tie",
    "polku",
    "raitti",
    "väylä",
    "kaari",
    "rinne",
    "mäki",
    "aukio",
    "vej",
    "vei",
    "veien",
    "veg",
    "vegen",
    "gade",
    "stræde",
    "gata",
    "gatan",
    "vägen",
    "väg",
    "gränd",
    "backe",
    "stig",
    "stien",
    "allé",
    "alléen",
    "svingen",
    "bakken",
    "torget",
    "utca",
    "út",
    "útja",
    "tér",
    "köz",
    "körút",
    "sor",
    "fasor",
    "ulice",
    "ulica",
    "cesta",
    "trieda",
    "nábřeží",
    "náměstí",
    "tee",
    "põik",
    "maantee",
    "puiestee",
    "iela",
    "gatvė",
    "vegur",
    "gata",
    "braut",
    "stígur",
    "vík",
    "bypass",
)

_CAP = r"[\p{Lu}\p{Lt}][\p{L}\p{M}'’.\-]*"
_WORD = r"[\p{L}\p{M}][\p{L}\p{M}'’.\-]*"
_NUM = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,4})?"
_PARTICLES = (
    r"(?:de|da|do|dos|das|del|della|delle|dei|di|du|des|la|le|les|van|von|der|den|ter|al|el|y|e|i|rue|gate|vei|vej)"
)
_STREET_WORD = rf"(?:{_CAP}|{_PARTICLES})"


class StreetAddressRecognizer(GuardedPatternRecognizer):
    """Street lines, unit and post-box lines, military addresses and "City, ST 12345"."""

    CONTEXT: ClassVar[list[str]] = [
        "address",
        "street",
        "live",
        "lives",
        "located",
        "ship",
        "deliver",
        "billing",
        "mailing",
        "home",
        "office",
        "moved",
        "residence",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        suffixes = alternation(STREET_SUFFIXES + USPS_SUFFIXES)
        prefixes = alternation(STREET_PREFIXES)
        endings = alternation(STREET_ENDINGS)
        # A house number then a capitalised word or a particle ("12 Main", "4 de la").
        number_then_word = rf"\d[A-Za-z]?[ \t]+(?:[\p{{Lu}}\p{{Lt}}]|{_PARTICLES}[ \t])"
        patterns = [
            # 1659 Hoog St / 3369 24 Clarke Avenue / 11 Botley Road St.
            Pattern(
                "number street suffix",
                rf"\b{_NUM}(?:[ \t]+{_NUM})?[ \t]+(?:{_STREET_WORD}[ \t]+){{0,3}}(?:{suffixes})\b\.?"
                rf"(?:[ \t]+{_NUM}\b)?",
                0.6,
            ),
            # Rua Igreja 25 / ul. Grochowa 80 / Via delle Coste 41 / C/ Señores Curas 88
            Pattern(
                "prefix street number",
                rf"(?:\b{_NUM}[ \t]+)?(?<![\p{{L}}])(?i:{prefixes})[ \t]+(?:{_WORD}[ \t]+){{0,4}}{_NUM}\b",
                0.6,
            ),
            # 040 Snellmaninkatu 55 / Augsburger Strasse 36 / Király u. 15.
            Pattern(
                "street ending number",
                rf"(?:\b{_NUM}[ \t]+)?(?:{_CAP}[ \t]+){{0,2}}[\p{{L}}\p{{M}}]*(?:{endings})[ \t]+{_NUM}\b\.?",
                0.55,
            ),
            Pattern(
                "hungarian street",
                rf"(?:\b{_NUM}[ \t]+)?(?:{_CAP}[ \t]+){{1,3}}u\.[ \t]+{_NUM}\.?",
                0.55,
            ),
            # Apt. 864 / Suite 967 / P.O. Box 255 / PSC 7951, Box 9972 / Unit 8505 Box 9220
            Pattern(
                "unit or box",
                r"(?i:\b(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|P\.?[ \t]?O\.?[ \t]+Box|PO[ \t]+Box|Postbox"
                r"|Box|PSC|USNS|USNV|USS|USCGC)[ \t]+\d{1,6}\b"
                r"(?:,?[ \t]+(?:Box|Apt\.?|Suite)[ \t]+\d{1,6}\b)?)",
                0.5,
            ),
            # APO AE 90744 / FPO AA 65728
            Pattern("military", r"(?i:\b(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5}\b)", 0.6),
            # 92597 Jahu 80 / 353 Buerlia 227 / 2224 Trenerys gate 232 (house number last)
            Pattern(
                "number name number",
                rf"\b\d{{1,6}}[ \t]+{_CAP}(?:[ \t]+{_STREET_WORD}){{0,3}}[ \t]+\d{{1,5}}[A-Za-z]?\b",
                0.5,
            ),
            # Dusino San Michele, AT 31295 / SOUTH NEWDEGATE, WA 16469
            Pattern(
                "city state zip",
                rf"\b{_CAP}(?:[ \t]+{_CAP}){{0,2}},?[ \t]+[A-Z]{{2}}[ \t]+\d{{4,5}}(?:-\d{{3,4}})?\b",
                0.45,
            ),
        ]
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="StreetAddressRecognizer",
            supported_language=supported_language,
            patterns=patterns,
            context=self.CONTEXT,
            # Case matters here: capitalisation is most of what tells a street from prose.
            global_regex_flags=re.MULTILINE,
            # Necessary substrings of the patterns (the ending scan alone tries every letter).
            guards={
                "number street suffix": number_then_word,
                "number name number": number_then_word,
                "prefix street number": _has_prefix,
                "street ending number": _has_ending_before_number,
                "hungarian street": r"u\.[ \t]+\d",
                "city state zip": r"[A-Z]{2}[ \t]+\d{4}",
            },
        )


_STREET_PREFIXES_LOWER = tuple(sorted({p.lower() for p in STREET_PREFIXES}))
_STREET_ENDINGS = tuple(sorted(set(STREET_ENDINGS)))
_GAP_THEN_DIGIT = std_re.compile(r"[ \t]+\d")


def _has_ending_before_number(text: str) -> bool:
    """Some street ending ("katu", "straße") right before spacing and a digit."""
    return any(text.endswith(_STREET_ENDINGS, 0, m.start()) for m in _GAP_THEN_DIGIT.finditer(text))


def _has_prefix(text: str) -> bool:
    """Some street prefix ("Rua", "ul.") followed by spacing, in any case."""
    lower = text.lower()
    return any(p + " " in lower or p + "\t" in lower for p in _STREET_PREFIXES_LOWER)
