"""E-mail addresses: Presidio's recognizer with a shape check of the address that never touches the network.

Any domain counts, public suffix or not: company mail lives on ``corp.local``, ``corp.internal`` or
``example`` domains that no suffix list holds, and a column of them is as personal as one of gmail
addresses. What is checked is the shape (RFC 5321 lengths, dot-atom local part, host-name labels,
an alphabetic top-level label); an address on a known public suffix scores higher.
"""

from __future__ import annotations

import re
from typing import Any

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from governance.privacy.internals import tldextract_use_extractor

# One extractor for the process: suffix_list_urls=() forbids the HTTP fetch of the public
# suffix list, cache_dir=None forbids writing a cache; the snapshot shipped in the wheel is used.
OFFLINE_TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def make_tldextract_offline() -> None:
    """Point tldextract's module-level extractor at the offline one.

    Any code that calls ``tldextract.extract`` (Presidio's stock EmailRecognizer does) would
    otherwise try to download the suffix list on first use.
    """
    tldextract_use_extractor(OFFLINE_TLD_EXTRACTOR)


_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
_TOP_LABEL = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9\-]{1,59}")
# An address whose domain is not on the public suffix list (corp.local) is still an address, with
# a little less certainty than one on a public suffix.
PRIVATE_DOMAIN_SCORE = 0.9


def email_shape_valid(address: str) -> bool:
    """Whether ``address`` has the shape of an e-mail address (any domain, public suffix or not)."""
    if len(address) > 254 or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if not 0 < len(local) <= 64 or not _LOCAL_PART.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        return False
    return all(_LABEL.fullmatch(label) for label in labels) and bool(_TOP_LABEL.fullmatch(labels[-1]))


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer: any well-shaped address, scored higher on a public suffix (checked
    against the bundled suffix list, never the network)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("context", ["email", "e-mail", "mail", "contact"])
        super().__init__(**kwargs)

    def validate_result(self, pattern_text: str) -> bool | None:
        # True: the top score; None: the pattern's own score (raised in analyze below); False: dropped.
        if not email_shape_valid(pattern_text):
            return False
        return True if OFFLINE_TLD_EXTRACTOR(pattern_text).fqdn != "" else None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None):
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            if result.score < PRIVATE_DOMAIN_SCORE:
                result.score = PRIVATE_DOMAIN_SCORE
        return results
