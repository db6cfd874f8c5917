"""E-mail addresses: Presidio's recognizer with a domain check that never touches the network."""

from __future__ import annotations

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


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with the domain validated against the bundled suffix list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("context", ["email", "e-mail", "mail", "contact"])
        super().__init__(**kwargs)

    def validate_result(self, pattern_text: str) -> bool:
        return OFFLINE_TLD_EXTRACTOR(pattern_text).fqdn != ""
