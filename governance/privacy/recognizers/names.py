"""Person names: after a title or a label, "First Last" pairs, and lone first names (weak)."""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re as std_re
from typing import Any

import regex as re
from presidio_analyzer import RecognizerResult

from governance.privacy.recognizers.address import STREET_SUFFIXES
from governance.privacy.recognizers.patterns import GroupRegexRecognizer

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

# Titles that announce a name ("Mrs. Baker"); the analyzer also reads "Dr." before a name as no sentence end.
TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Madam", "Mme", "Mlle", "Herr", "Frau")

_LATIN_NAME = std_re.compile(r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿĀ-ž'’-]+")


def _faker_person_names(attributes: tuple[str, ...]) -> set[str]:
    """The Latin-script names in these attributes of every Faker person locale."""
    import faker.providers.person as person_providers

    names: set[str] = set()
    for module in pkgutil.iter_modules(person_providers.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attr in attributes:
            value = getattr(provider, attr, None)
            if isinstance(value, dict):
                value = value.keys()
            if isinstance(value, (list, tuple, set, frozenset, type({}.keys()))):
                names.update(v for v in value if isinstance(v, str) and _LATIN_NAME.fullmatch(v))
    return names


@functools.lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """First names from every Faker person locale written in Latin script (about 20k)."""
    names = _faker_person_names(("first_names", "first_names_male", "first_names_female"))
    return frozenset(n for n in names if n.lower() not in NON_NAME_WORDS and len(n) > 2)


@functools.lru_cache(maxsize=1)
def last_names() -> frozenset[str]:
    """Surnames from every Faker person locale written in Latin script."""
    return frozenset(_faker_person_names(("last_names",)))


_NAME_TOKEN = r"[\p{Lu}][\p{Ll}\p{M}'’\-]+(?:-[\p{Lu}][\p{Ll}\p{M}'’\-]+)?"
_PERSON_NAME = rf"{_NAME_TOKEN}(?:[ \t]+[\p{{Lu}}]\.?)?(?:[ \t]+{_NAME_TOKEN}){{0,2}}"


class LabelledPersonRecognizer(GroupRegexRecognizer):
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


class FirstNameSurnameRecognizer(GroupRegexRecognizer):
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
                results.append(self.result(match.start("name"), match.end("name"), score, "first last", None))
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


class SingleFirstNameRecognizer(GroupRegexRecognizer):
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
