"""Every use of presidio-analyzer's, phonenumbers' and tldextract's internals, in one place.

Steward's speed-ups re-implement parts of Presidio's AnalyzerEngine, PatternRecognizer and
PhoneRecognizer and of python-phonenumbers' PhoneNumberMatcher (tests/privacy/test_fast_paths.py
checks each against the code it replaces). That reaches past the libraries' public APIs: private
methods and constants, Pattern's compile cache, tldextract's module-level extractor. Any release
may change those, and a change would more likely alter what is detected than raise. So:
- the recognizers, the spaCy engine and the analyzer reach them only through this module;
- importing it checks the installed versions against ``SUPPORTED_VERSIONS`` and that every
  internal name it uses exists, and refuses to go on (UnsupportedLibraryVersion, naming the
  package, the version and what to do) otherwise. The analyzer imports it when it is built, so a
  worker or web process finds out when it loads the PII engine, before it scans anything.

Moving to a new release: install it, run tests/privacy (test_fast_paths compares every
re-implementation with the library's own code) and bench/pii_eval.py (span F1 unchanged), then
widen the range here.
"""

from __future__ import annotations

import importlib.metadata
import re as std_re
from collections.abc import Callable, Mapping
from typing import Any

# Package -> (oldest version this code was written and tested for, first version it refuses).
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {
    "presidio-analyzer": ("2.2.366", "2.3"),
    "phonenumbers": ("9.0.43", "10"),
    "tldextract": ("5.4.0", "6"),
}


class UnsupportedLibraryVersion(RuntimeError):
    """An installed library is outside the versions whose internals this module was written for."""


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string ("2.2.366rc1" -> (2, 2, 366))."""
    match = std_re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def check_library_versions(installed: Mapping[str, str | None] | None = None) -> None:
    """Raise UnsupportedLibraryVersion when a library is missing or outside SUPPORTED_VERSIONS.

    ``installed`` maps package names to versions (None: not installed); by default the versions
    installed in this environment.
    """
    problems = []
    for package, (oldest, refused) in SUPPORTED_VERSIONS.items():
        if installed is not None:
            version = installed.get(package)
        else:
            try:
                version = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                version = None
        if version is None:
            problems.append(f"{package} is not installed (Steward needs >={oldest},<{refused})")
        elif not _release(oldest) <= _release(version) < _release(refused):
            problems.append(
                f"{package} {version} is installed; Steward's privacy code was written for >={oldest},<{refused}"
            )
    if problems:
        raise UnsupportedLibraryVersion(
            "; ".join(problems) + ". Install a supported version (requirements.txt), or port "
            "governance/privacy/internals.py to the new release and widen SUPPORTED_VERSIONS."
        )


check_library_versions()

# Imported after the check: an unsupported release should fail with the message above, not with
# whatever its internals raise.
import phonenumbers  # noqa: E402
import regex  # noqa: E402
import tldextract  # noqa: E402
from phonenumbers import phonenumbermatcher, phonenumberutil  # noqa: E402
from presidio_analyzer import AnalyzerEngine, Pattern, RecognizerResult  # noqa: E402
from presidio_analyzer import pattern_recognizer as _pattern_recognizer  # noqa: E402
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import PhoneRecognizer  # noqa: E402


def _internal(owner: Any, name: str) -> Any:
    """``owner.name``, or UnsupportedLibraryVersion naming what went missing."""
    try:
        return getattr(owner, name)
    except AttributeError:
        label = getattr(owner, "__name__", type(owner).__name__)
        raise UnsupportedLibraryVersion(
            f"{label}.{name} is gone from the installed release; port governance/privacy/internals.py to it"
        ) from None


# ---------------------------------------------------------------------------------------------
# tldextract
# ---------------------------------------------------------------------------------------------

_internal(tldextract.tldextract, "TLD_EXTRACTOR")


def tldextract_use_extractor(extractor: Any) -> None:
    """Make ``tldextract.extract`` (which Presidio's stock EmailRecognizer calls) use ``extractor``."""
    tldextract.tldextract.TLD_EXTRACTOR = extractor


# ---------------------------------------------------------------------------------------------
# phonenumbers
# ---------------------------------------------------------------------------------------------

# Characters python-phonenumbers reads as a leading "+" (it has full-width forms too).
PLUS_SIGNS: str = _internal(phonenumberutil, "_PLUS_CHARS")
# The matcher's own candidate regex, and where a second number starts inside a candidate.
PHONE_CANDIDATE_PATTERN: Any = _internal(phonenumbermatcher, "_PATTERN")
PHONE_SECOND_NUMBER_START: Any = _internal(phonenumbermatcher, "_SECOND_NUMBER_START_PATTERN")
_extract_possible_number = _internal(phonenumberutil, "_extract_possible_number")
_maybe_strip_extension = _internal(phonenumberutil, "_maybe_strip_extension")
_internal(phonenumbers.PhoneNumberMatcher, "_parse_and_verify")


def national_part(candidate: str) -> str:
    """The part of a candidate text phonenumbers parses as a number, without its extension."""
    _, number = _maybe_strip_extension(_extract_possible_number(candidate))
    return number


class FilteredPhoneNumberMatcher(phonenumbers.PhoneNumberMatcher):
    """PhoneNumberMatcher that parses a candidate only when ``admits(candidate, region)``; same
    matches otherwise (``admits`` must only refuse candidates that cannot give a valid number)."""

    def __init__(self, text: str, region: str, *, leniency: Any, admits: Callable[[str, str], bool]) -> None:
        super().__init__(text, region, leniency=leniency)
        self._admits = admits

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        if not self._admits(candidate, self.preferred_region):
            return None
        return super()._parse_and_verify(candidate, offset)


# ---------------------------------------------------------------------------------------------
# presidio-analyzer: recognizers
# ---------------------------------------------------------------------------------------------

REGEX_TIMEOUT_SECONDS: int = _internal(_pattern_recognizer, "REGEX_TIMEOUT_SECONDS")
_internal(PhoneRecognizer, "_get_recognizer_result")
for _name in ("compiled_regex", "compiled_with_flags"):
    _internal(Pattern("probe", "probe", 0.5), _name)


def compiled_pattern(pattern: Pattern, flags: int) -> Any:
    """The pattern's regex compiled with ``flags``, through the cache PatternRecognizer keeps on it."""
    if not pattern.compiled_regex or pattern.compiled_with_flags != flags:
        pattern.compiled_with_flags = flags
        pattern.compiled_regex = regex.compile(pattern.regex, flags=flags)
    return pattern.compiled_regex


def phone_result(
    recognizer: PhoneRecognizer, match: Any, text: str, region: str, nlp_artifacts: Any
) -> RecognizerResult:
    """The result PhoneRecognizer makes of a phonenumbers match (score, explanation, metadata)."""
    return recognizer._get_recognizer_result(match, text, region, nlp_artifacts)


# ---------------------------------------------------------------------------------------------
# presidio-analyzer: NLP engine and context
# ---------------------------------------------------------------------------------------------

for _name in (
    "_validate_model_params",
    "_doc_to_nlp_artifact",
    "_get_entities",
    "_get_scores_for_entities",
    "_get_updated_entities",
):
    _internal(SpacyNlpEngine, _name)
_internal(AnalyzerEngine, "_enhance_using_context")


class HookedSpacyNlpEngine(SpacyNlpEngine):
    """SpacyNlpEngine with its private steps under public names, for a subclass to use or change."""

    def validate_model(self, model: dict[str, Any]) -> None:
        self._validate_model_params(model)

    def entities_and_scores(self, doc: Any) -> tuple[list[Any], list[float]]:
        """The doc's entities with Presidio's labels (ignored labels dropped) and their scores."""
        return self._get_updated_entities(list(self._get_entities(doc)), self._get_scores_for_entities(doc))

    def doc_to_artifacts(self, doc: Any, language: str) -> NlpArtifacts:
        """What process_text and process_batch return for a doc (Presidio's own by default)."""
        return super()._doc_to_nlp_artifact(doc, language)

    def _doc_to_nlp_artifact(self, doc: Any, language: str) -> NlpArtifacts:
        return self.doc_to_artifacts(doc, language)


def enhance_using_context(
    engine: AnalyzerEngine,
    text: str,
    results: list[RecognizerResult],
    artifacts: NlpArtifacts,
    recognizers: list[Any],
    context: list[str],
) -> list[RecognizerResult]:
    """AnalyzerEngine.analyze's context step: each recognizer's context words lift its results' scores."""
    return engine._enhance_using_context(text, results, artifacts, recognizers, context)


def _loaded(attribute: str) -> property:
    def get(self: LazyNlpArtifacts) -> Any:
        self.load()
        return getattr(self, attribute)

    return property(get)


class LazyNlpArtifacts(NlpArtifacts):
    """NlpArtifacts with NER entities given and tokens, their offsets, lemmas and keywords made on
    first use, by ``load() -> (tokens, offsets, lemmas, keywords)``.

    Presidio's recognizers and context enhancement read only these attributes, and most texts are
    never asked for the tokens: making them is most of the cost of an NlpArtifacts.
    """

    def __init__(
        self,
        entities: list[Any],
        scores: list[float],
        nlp_engine: Any,
        load: Callable[[], tuple[list[str], list[int], list[str], list[str]]],
    ) -> None:
        # NlpArtifacts.__init__ would compute every field now: set what it sets, less the lazy ones.
        self.entities = entities
        self.scores = scores
        self.nlp_engine = nlp_engine
        self._load = load
        self._fields: tuple[list[str], list[int], list[str], list[str]] | None = None

    def load(self) -> None:
        if self._fields is None:
            self._fields = self._load()
            self._tokens, self._indices, self._lemmas, self._keywords = self._fields

    tokens = _loaded("_tokens")
    tokens_indices = _loaded("_indices")
    lemmas = _loaded("_lemmas")
    keywords = _loaded("_keywords")
