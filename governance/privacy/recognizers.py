"""Recognizers Steward adds to (or swaps into) Presidio's default registry.

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
out (StewardPhoneRecognizer).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re as std_re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import phonenumbers
import regex as re
import tldextract
from phonenumbers import PhoneMetadata, phonenumbermatcher
from phonenumbers.phonenumberutil import _PLUS_CHARS as _PLUS_SIGNS
from phonenumbers.phonenumberutil import _extract_possible_number
from phonenumbers.phonenumberutil import _maybe_strip_extension as _strip_extension
from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    LocalRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.pattern_recognizer import REGEX_TIMEOUT_SECONDS
from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer

# One extractor for the process: suffix_list_urls=() forbids the HTTP fetch of the public
# suffix list, cache_dir=None forbids writing a cache; the snapshot shipped in the wheel is used.
OFFLINE_TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def make_tldextract_offline() -> None:
    """Point tldextract's module-level extractor at the offline one.

    Any code that calls ``tldextract.extract`` (Presidio's stock EmailRecognizer does) would
    otherwise try to download the suffix list on first use.
    """
    tldextract.tldextract.TLD_EXTRACTOR = OFFLINE_TLD_EXTRACTOR


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with the domain validated against the bundled suffix list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("context", ["email", "e-mail", "mail", "contact"])
        super().__init__(**kwargs)

    def validate_result(self, pattern_text: str) -> bool:
        return OFFLINE_TLD_EXTRACTOR(pattern_text).fqdn != ""


class GuardedPatternRecognizer(PatternRecognizer):
    """A PatternRecognizer that tries a costly pattern only when a cheap guard regex matches.

    ``guards`` maps a pattern name to a regex that occurs inside every match of that pattern (a
    necessary condition), so skipping the pattern when the guard is absent changes no result.
    The matching itself is Presidio's: same scores, validation, explanation and de-duplication.
    """

    def __init__(self, *args: Any, guards: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guards = {
            name: g if callable(g) else re.compile(g, self.global_regex_flags).search
            for name, g in (guards or {}).items()
        }

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        flags = regex_flags if regex_flags else self.global_regex_flags
        if not self._guards or flags != self.global_regex_flags:
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        results: list[RecognizerResult] = []
        for pattern in self.patterns:
            guard = self._guards.get(pattern.name)
            if guard is not None and not guard(text):
                continue
            if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
                pattern.compiled_with_flags = flags
                pattern.compiled_regex = re.compile(pattern.regex, flags=flags)
            for match in pattern.compiled_regex.finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
                start, end = match.span()
                if start == end:
                    continue
                current = text[start:end]
                validation = self.validate_result(current)
                explanation = self.build_regex_explanation(
                    self.name, pattern.name, pattern.regex, pattern.score, validation, flags
                )
                result = RecognizerResult(
                    entity_type=self.supported_entities[0],
                    start=start,
                    end=end,
                    score=pattern.score,
                    analysis_explanation=explanation,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
                if validation is not None:
                    result.score = EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
                if self.invalidate_result(current):
                    result.score = EntityRecognizer.MIN_SCORE
                if result.score > EntityRecognizer.MIN_SCORE:
                    results.append(result)
                explanation.score = result.score
        return EntityRecognizer.remove_duplicates(results)


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
            for match in _RegionMatcher(text, region, leniency=self.leniency):
                results.append(self._get_recognizer_result(match, text, region, nlp_artifacts))
            if results and _all_covered(candidates, [(r.start, r.end) for r in results]):
                break
        return EntityRecognizer.remove_duplicates(results)


class _RegionMatcher(phonenumbers.PhoneNumberMatcher):
    """PhoneNumberMatcher that skips parsing a piece of text that cannot be a valid number of
    its region by length alone (a 10-digit national number is no Danish number): most of the
    time spent on invalid numbers tried against many regions. Same matches otherwise."""

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        if not _may_be_valid(candidate, self.preferred_region):
            return None
        return super()._parse_and_verify(candidate, offset)


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
    if rules is None or any(c in candidate for c in _PLUS_SIGNS):
        return True  # "+": the country comes from the number itself
    code, shortest, longest, prefixes, idd = rules
    digits = phonenumbers.normalize_digits_only(candidate)
    if len(digits) + 1 < shortest:  # +1: Argentina's prefix rule inserts a 9
        return False
    if prefixes is None or sum(c.isascii() and c.isalpha() for c in candidate) >= 3:
        return True  # prefix patterns with carrier codes, or a vanity number ("1-800-FLOWERS")
    if idd is not None and idd.match(digits):
        return True  # an international number dialled from the region: any country
    _, national = _strip_extension(_extract_possible_number(candidate))
    national = phonenumbers.normalize_digits_only(national)
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
    pattern = phonenumbermatcher._PATTERN
    second = phonenumbermatcher._SECOND_NUMBER_START_PATTERN
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


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

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

# Tokens that never start or end a person name even when capitalised.
NON_NAME_WORDS = frozenset(
    w.lower()
    for w in (
        *STREET_SUFFIXES,
        "The",
        "A",
        "An",
        "And",
        "Or",
        "Of",
        "In",
        "On",
        "At",
        "To",
        "For",
        "By",
        "With",
        "From",
        "My",
        "Your",
        "His",
        "Her",
        "Our",
        "Their",
        "This",
        "That",
        "These",
        "Those",
        "Is",
        "Are",
        "Was",
        "Were",
        "Be",
        "Has",
        "Have",
        "Had",
        "Do",
        "Does",
        "Did",
        "Not",
        "No",
        "Yes",
        "Hi",
        "Hello",
        "Dear",
        "Thanks",
        "Thank",
        "Please",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Inc",
        "Ltd",
        "LLC",
        "Corp",
        "Co",
        "Company",
        "Group",
        "Bank",
        "University",
        "Street",
        "Apt",
        "Suite",
        "Unit",
        "Box",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Phone",
        "Mobile",
        "Email",
        "Address",
        "Name",
        "Fax",
        "Desk",
        "Office",
        "Website",
        "City",
        "State",
        "Country",
        "Zip",
        "Card",
        "Account",
        "Order",
        "Customer",
        "Service",
        "Support",
        "Team",
        "Department",
        "Manager",
        "Director",
        "Engineer",
        "Officer",
        "Limited",
        "Sons",
        "Brothers",
        "Partners",
        "Associates",
        "Foundation",
        "Orchestra",
        "Band",
        "Club",
        "Hotel",
        "Restaurant",
        "Cafe",
        "Airport",
        "Station",
        "Hospital",
        "School",
        "College",
        "Church",
        "Museum",
        "Park",
        "River",
        "Lake",
    )
)

TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Madam", "Mme", "Mlle", "Herr", "Frau")


@functools.lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """First names from every Faker person locale written in Latin script (about 20k)."""
    import faker.providers.person as person_providers

    names: set[str] = set()
    for module in pkgutil.iter_modules(person_providers.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            value = getattr(provider, attr, None)
            if isinstance(value, dict):
                value = value.keys()
            if isinstance(value, (list, tuple, set, frozenset, type({}.keys()))):
                names.update(v for v in value if isinstance(v, str) and _LATIN_NAME.fullmatch(v))
    return frozenset(n for n in names if n.lower() not in NON_NAME_WORDS and len(n) > 2)


@functools.lru_cache(maxsize=1)
def last_names() -> frozenset[str]:
    """Surnames from every Faker person locale written in Latin script."""
    import faker.providers.person as person_providers

    names: set[str] = set()
    for module in pkgutil.iter_modules(person_providers.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        value = getattr(provider, "last_names", None)
        if isinstance(value, dict):
            value = value.keys()
        if isinstance(value, (list, tuple, set, frozenset, type({}.keys()))):
            names.update(v for v in value if isinstance(v, str) and _LATIN_NAME.fullmatch(v))
    return frozenset(names)


_LATIN_NAME = std_re.compile(r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿĀ-ž'’-]+")


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


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


# ---------------------------------------------------------------------------------------------
# Street addresses
# ---------------------------------------------------------------------------------------------

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
        suffixes = _alternation(STREET_SUFFIXES + USPS_SUFFIXES)
        prefixes = _alternation(STREET_PREFIXES)
        endings = _alternation(STREET_ENDINGS)
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


class CountryRecognizer(PatternRecognizer):
    """Country names, optionally followed by a postcode ("Iceland 72399")."""

    def __init__(self, supported_language: str = "en") -> None:
        countries = _alternation(country_names())
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


# ---------------------------------------------------------------------------------------------
# Person names
# ---------------------------------------------------------------------------------------------


class _GroupRegexRecognizer(LocalRecognizer):
    """A regex recognizer that reports the span of a named group (``name``), not the match."""

    PATTERNS: Sequence[tuple[str, str, float]] = ()
    FLAGS = re.MULTILINE

    def __init__(
        self, supported_entity: str, name: str, context: list[str] | None = None, supported_language: str = "en"
    ) -> None:
        self._compiled = [(n, re.compile(p, self.FLAGS), s) for n, p, s in self.PATTERNS]
        super().__init__(
            supported_entities=[supported_entity], name=name, supported_language=supported_language, context=context
        )

    def load(self) -> None:
        pass

    def accept(self, value: str) -> bool:
        return True

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for pattern_name, pattern, score in self._compiled:
            for match in pattern.finditer(text):
                start, end = match.span("name")
                if start < 0 or not self.accept(text[start:end]):
                    continue
                results.append(
                    RecognizerResult(
                        entity_type=self.supported_entities[0],
                        start=start,
                        end=end,
                        score=score,
                        analysis_explanation=AnalysisExplanation(
                            recognizer=self.name,
                            original_score=score,
                            pattern_name=pattern_name,
                            pattern=pattern.pattern,
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return results


_NAME_TOKEN = r"[\p{Lu}][\p{Ll}\p{M}'’\-]+(?:-[\p{Lu}][\p{Ll}\p{M}'’\-]+)?"
_PERSON_NAME = rf"{_NAME_TOKEN}(?:[ \t]+[\p{{Lu}}]\.?)?(?:[ \t]+{_NAME_TOKEN}){{0,2}}"


class LabelledPersonRecognizer(_GroupRegexRecognizer):
    """Names after a title ("Mrs. Baker") or a label ("Name: Martim A Pereira", "named Luís")."""

    FLAGS = re.MULTILINE
    PATTERNS = (
        ("title", rf"(?i:\b(?:{'|'.join(TITLES)}))\.?[ \t]+(?P<name>{_PERSON_NAME})", 0.7),
        (
            "label",
            rf"(?i:\b(?:name|named|called|surname|last name|first name|full name|signed|sincerely|regards)"
            rf"\b[ \t]*(?:is|was|:|\?|-)?)[ \t]+(?P<name>{_PERSON_NAME})",
            0.65,
        ),
        ("my name", rf"(?i:\b(?:I am|I'm|this is|it's|it is)\b)[ \t]+(?P<name>{_NAME_TOKEN}[ \t]+{_NAME_TOKEN})", 0.45),
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__("PERSON", "LabelledPersonRecognizer", context=["name"], supported_language=supported_language)

    def accept(self, value: str) -> bool:
        first = value.split()[0].strip(".").lower()
        return first not in NON_NAME_WORDS


class FirstNameSurnameRecognizer(_GroupRegexRecognizer):
    """ "First [M.] Last" where First is a known first name and Last a capitalised word."""

    PATTERNS = (
        (
            "first last",
            rf"(?<![\p{{L}}\p{{M}}])(?P<name>{_NAME_TOKEN}(?:[ \t]+[\p{{Lu}}]\.?)?[ \t]+{_NAME_TOKEN})"
            rf"(?![\p{{L}}\p{{M}}])",
            0.55,
        ),
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            "PERSON", "FirstNameSurnameRecognizer", context=["name"], supported_language=supported_language
        )
        self._first_names = first_names()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        # Overlapping "A B C" candidates are found by restarting after each first token.
        results: list[RecognizerResult] = []
        _, pattern, score = self._compiled[0]
        pos = 0
        while True:
            match = pattern.search(text, pos)
            if not match:
                break
            tokens = match.group("name").split()
            if self.accept(match.group("name")):
                results.append(
                    RecognizerResult(
                        entity_type="PERSON",
                        start=match.start("name"),
                        end=match.end("name"),
                        score=score,
                        analysis_explanation=AnalysisExplanation(
                            recognizer=self.name,
                            original_score=score,
                            pattern_name="first last",
                            pattern=None,
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
                pos = match.end("name")
            else:
                pos = match.start("name") + len(tokens[0])
        return results

    def accept(self, value: str) -> bool:
        tokens = value.split()
        if tokens[0] not in self._first_names:
            return False
        last = tokens[-1].rstrip(".")
        return last.lower() not in NON_NAME_WORDS and not any(
            last.lower().endswith(e) for e in ("straße", "strasse", "katu", "vej", "gatan", "vägen", "veien")
        )


class SingleFirstNameRecognizer(_GroupRegexRecognizer):
    """A lone capitalised first name ("Megan lives on ...", "my kid Florence"): weak evidence.

    Names that are also everyday English words ("Will", "May", "Grant") are left out.
    """

    PATTERNS = (
        (
            "first name",
            r"(?<![\p{L}\p{M}'’.\-])(?P<name>[\p{Lu}][\p{Ll}\p{M}'’]{2,})(?![\p{L}\p{M}\-])"
            r"(?![ \t]+(?:Ltd|Inc|LLC|Corp|Co|Group|Bank|Orchestra|Band)\b)",
            0.45,
        ),
    )
    COMMON_WORDS = frozenset(
        [
            "will",
            "may",
            "mark",
            "grant",
            "bill",
            "hill",
            "park",
            "young",
            "lane",
            "page",
            "rose",
            "china",
            "paris",
            "victoria",
            "faith",
            "hope",
            "joy",
            "summer",
            "april",
            "june",
            "august",
            "art",
            "rich",
            "chase",
            "guy",
            "jack",
            "sky",
            "star",
            "amber",
            "ruby",
            "pearl",
            "crystal",
            "dawn",
            "eve",
            "holly",
            "ivy",
            "iris",
            "jade",
            "autumn",
            "winter",
            "sunny",
            "mercy",
            "grace",
            "honor",
            "patience",
            "prince",
            "king",
            "queen",
            "angel",
            "bishop",
            "carter",
            "cash",
            "christian",
            "cliff",
            "dale",
            "dean",
            "drew",
            "earl",
            "frank",
            "gene",
            "gil",
            "glen",
            "harley",
            "hunter",
            "ken",
            "lance",
            "lee",
            "lou",
            "major",
            "mason",
            "max",
            "miles",
            "nick",
            "norman",
            "pat",
            "ray",
            "reed",
            "rod",
            "royal",
            "sandy",
            "sterling",
            "tank",
            "terry",
            "tod",
            "troy",
            "van",
            "wade",
            "ward",
            "warren",
            "wayne",
            "willow",
            "brook",
            "brooks",
            "river",
            "storm",
            "heather",
            "daisy",
            "lily",
            "poppy",
            "violet",
            "misty",
            "destiny",
            "harmony",
            "melody",
            "liberty",
            "justice",
            "trinity",
            "alexa",
            "siri",
            "echo",
            "kindle",
            "nova",
            "apple",
            "cherry",
            "ginger",
            "olive",
            "sage",
            "berry",
            "coral",
            "candy",
            "penny",
            "florida",
            "georgia",
            "virginia",
            "carolina",
            "dakota",
            "montana",
            "jordan",
            "israel",
            "india",
            "kenya",
            "chad",
            "lincoln",
            "houston",
            "dallas",
            "austin",
            "denver",
            "phoenix",
            "orlando",
            "aurora",
            "sydney",
            "adelaide",
            "charlotte",
            "princess",
            "london",
            "berlin",
            "roma",
            "milan",
            "vienna",
            "florence",
            "bern",
            "genoa",
            "can",
            "baby",
            "love",
            "carry",
            "hate",
            "happy",
            "lucky",
            "sugar",
            "honey",
            "bunny",
            "buddy",
            "doll",
            "dolly",
            "kitty",
            "bambi",
            "chance",
            "constance",
            "harmony",
            "mayo",
            "shepherd",
            "butler",
            "baker",
            "cook",
            "marshall",
            "miller",
            "taylor",
            "smith",
            "porter",
            "fisher",
            "hope",
        ]
    )

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            "PERSON",
            "SingleFirstNameRecognizer",
            context=[
                "name",
                "kid",
                "son",
                "daughter",
                "wife",
                "husband",
                "friend",
                "mr",
                "mrs",
                "ms",
                "dear",
                "hi",
                "hello",
                "thanks",
                "signed",
            ],
            supported_language=supported_language,
        )
        self._first_names = first_names()

    def accept(self, value: str) -> bool:
        return value in self._first_names and value.lower() not in self.COMMON_WORDS


class LocationCueRecognizer(_GroupRegexRecognizer):
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


# ---------------------------------------------------------------------------------------------
# Numbers announced by a label
# ---------------------------------------------------------------------------------------------


class LabelledPhoneRecognizer(_GroupRegexRecognizer):
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


# ---------------------------------------------------------------------------------------------
# Per-dataset recognizers from a JSON-able spec
# ---------------------------------------------------------------------------------------------


class RecognizerSpecError(ValueError):
    """A custom recognizer spec that cannot be built; the message names the problem."""


ENTITY_NAME = std_re.compile(r"^[A-Z][A-Z0-9_]{1,49}$")


def recognizer_from_spec(spec: dict[str, Any], *, language: str = "en") -> PatternRecognizer:
    """Build one PatternRecognizer from ``{"entity_type", "name"?, "patterns"?: [{"name"?,
    "regex", "score"?}], "deny_list"?: [...], "context"?: [...], "score"?}``.

    Raises RecognizerSpecError with a message naming the bad field.
    """
    if not isinstance(spec, dict):
        raise RecognizerSpecError("a custom recognizer must be an object")
    entity = spec.get("entity_type")
    if not isinstance(entity, str) or not ENTITY_NAME.match(entity):
        raise RecognizerSpecError(f"entity_type must be UPPER_SNAKE_CASE, e.g. LOYALTY_CARD (got {entity!r})")
    unknown = set(spec) - {"entity_type", "name", "patterns", "deny_list", "context", "score"}
    if unknown:
        raise RecognizerSpecError(f"unknown field(s) in custom recognizer: {', '.join(sorted(unknown))}")
    score = spec.get("score", 0.6)
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 < score <= 1:
        raise RecognizerSpecError("score must be a number in (0, 1]")
    patterns: list[Pattern] = []
    raw_patterns = spec.get("patterns") or []
    if not isinstance(raw_patterns, list):
        raise RecognizerSpecError("patterns must be a list")
    for i, raw in enumerate(raw_patterns):
        if not isinstance(raw, dict) or not isinstance(raw.get("regex"), str) or not raw["regex"]:
            raise RecognizerSpecError(f"patterns[{i}].regex must be a non-empty string")
        if len(raw["regex"]) > 500:
            raise RecognizerSpecError(f"patterns[{i}].regex is longer than 500 characters")
        try:
            compiled = re.compile(raw["regex"])
        except re.error as exc:
            raise RecognizerSpecError(f"patterns[{i}].regex does not compile: {exc}") from exc
        if compiled.match(""):
            raise RecognizerSpecError(f"patterns[{i}].regex matches the empty string")
        p_score = raw.get("score", score)
        if not isinstance(p_score, (int, float)) or isinstance(p_score, bool) or not 0 < p_score <= 1:
            raise RecognizerSpecError(f"patterns[{i}].score must be a number in (0, 1]")
        patterns.append(Pattern(str(raw.get("name") or f"{entity.lower()}_{i}"), raw["regex"], float(p_score)))
    deny_list = spec.get("deny_list") or []
    if not isinstance(deny_list, list) or not all(isinstance(w, str) and w.strip() for w in deny_list):
        raise RecognizerSpecError("deny_list must be a list of non-empty strings")
    if not patterns and not deny_list:
        raise RecognizerSpecError("a custom recognizer needs at least one pattern or a deny_list")
    context = spec.get("context") or []
    if not isinstance(context, list) or not all(isinstance(w, str) and w.strip() for w in context):
        raise RecognizerSpecError("context must be a list of non-empty strings")
    name = spec.get("name") or f"Custom{entity.title().replace('_', '')}Recognizer"
    if not isinstance(name, str) or len(name) > 100:
        raise RecognizerSpecError("name must be a string of at most 100 characters")
    return PatternRecognizer(
        supported_entity=entity,
        name=name,
        supported_language=language,
        patterns=patterns or None,
        deny_list=[w.strip() for w in deny_list] or None,
        deny_list_score=float(score),
        context=[w.strip().lower() for w in context] or None,
    )


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
    ]
