"""E-mail addresses are found on any domain (public suffix or not) and validated for shape."""

from __future__ import annotations

import pyarrow as pa
import pytest

from governance.privacy.classify import classify_column
from governance.privacy.recognizers.email import email_shape_valid

PRIVATE = ["jane.doe@corp.example", "john@corp.local", "x@corp.internal", "ops-team+alerts@intranet.acme.lan"]


@pytest.mark.parametrize("address", PRIVATE)
def test_addresses_on_private_domains_are_one_email_span_and_no_url(analyzer, address):
    text = f"Please write to {address} about the order."
    found = analyzer.analyze(text)
    assert [(r.entity_type, text[r.start : r.end]) for r in found] == [("EMAIL_ADDRESS", address)]


def test_public_suffix_scores_above_a_private_domain(analyzer):
    public = analyzer.analyze("reach jane.doe@example.co.uk")[0]
    private = analyzer.analyze("reach jane.doe@corp.local")[0]
    assert public.score == 1.0 and 0.5 < private.score < public.score


@pytest.mark.parametrize(
    "address",
    ["a@b", "bad@-corp.local", "foo@corp..local", "foo@corp.l0cal", "a" * 65 + "@corp.local"],
)
def test_badly_shaped_addresses_are_not_addresses(analyzer, address):
    assert not email_shape_valid(address)
    assert not [r for r in analyzer.analyze(f"write to {address} now") if r.entity_type == "EMAIL_ADDRESS"]


def test_shape_check_refuses_dots_at_the_ends_of_the_local_part():
    assert email_shape_valid("jane.doe@corp.local")
    assert not email_shape_valid(".jane@corp.local") and not email_shape_valid("jane.@corp.local")


def test_a_column_of_company_addresses_is_flagged_as_email(analyzer):
    values = [f"user{i}@corp.{tld}" for i, tld in enumerate(["example", "local", "internal", "lan"] * 5)]
    report = classify_column("contact", pa.string(), values, analyzer=analyzer)
    assert (report.kind, report.entity_type, report.share) == ("entity", "EMAIL_ADDRESS", 1.0)
    assert not any(v in s for v in values for s in report.snippets)
