"""Masking operators and policy validation over pyarrow columns."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from governance.privacy.masking import (
    MaskingSecrets,
    PolicyError,
    decrypt_value,
    mask_table,
    public_policy,
    validate_policy,
)

KEY = "0123456789abcdef0123456789abcdef"
SECRETS = MaskingSecrets(hash_salt="a-secret-salt-of-32-characters!!", encryption_key=KEY)


def _table():
    return pa.table(
        {
            "email": ["ann@example.com", "bob@example.org", None, "ann@example.com"],
            "card": pa.array([4111111111111111, 5500000000000004, None, 4111111111111111]),
            "zip": ["80098", "5000-047", "123", None],
            "age": pa.array([37, 62, None, 5]),
            "birthday": pa.array([dt.date(1982, 3, 29), None, dt.date(1999, 1, 1), dt.date(2001, 12, 31)]),
            "review": ["Call Maria Lopez at 212-555-0199", "great product", None, "great product"],
        }
    )


def _apply(policy, analyzer=None, kinds=None):
    table = _table()
    rules = validate_policy(
        {"columns": policy}, schema=table.schema, secrets=SECRETS, column_kinds=kinds or {"review": "free_text"}
    )
    find = (lambda texts, entities: analyzer.analyze_batch(texts, entities=entities)) if analyzer else None
    return mask_table(
        table, rules, secrets=SECRETS, find_spans=find, entity_types={"email": "EMAIL_ADDRESS", "zip": "ZIP_CODE"}
    ), rules


def test_hash_is_salted_sha256_so_equal_values_still_join_across_tables():
    out, _ = _apply({"email": {"operator": "hash"}})
    hashed = out["email"].to_pylist()
    assert hashed[0] == hashed[3] != hashed[1] and hashed[2] is None
    assert len(hashed[0]) == 64 and "ann" not in hashed[0]
    other = pa.table({"email": ["ann@example.com"]})
    rules = validate_policy({"columns": {"email": "hash"}}, schema=other.schema, secrets=SECRETS)
    assert mask_table(other, rules, secrets=SECRETS)["email"][0].as_py() == hashed[0]


def test_mask_keeps_the_last_characters_and_replace_names_the_entity():
    out, _ = _apply({"card": {"operator": "mask", "params": {"chars_to_keep": 4}}, "email": {"operator": "replace"}})
    assert out["card"].to_pylist()[:2] == ["************1111", "************0004"]
    assert out["email"].to_pylist() == ["<EMAIL_ADDRESS>", "<EMAIL_ADDRESS>", None, "<EMAIL_ADDRESS>"]


def test_encrypt_round_trips_with_the_key_and_fails_with_another():
    out, rules = _apply({"card": {"operator": "encrypt"}})
    token = out["card"][0].as_py()
    assert "4111" not in token and decrypt_value(token, KEY) == "4111111111111111"
    with pytest.raises(PolicyError):
        decrypt_value(token, "another-key-of-16")
    assert "key" not in str(public_policy(rules)) and KEY not in str(public_policy(rules))


def test_pseudonyms_are_realistic_and_consistent_per_original():
    out, _ = _apply({"email": {"operator": "pseudonymize"}})
    fake = out["email"].to_pylist()
    assert fake[0] == fake[3] != fake[1] and "@" in fake[0] and "ann@" not in fake[0]


def test_generalize_zip_age_and_date():
    out, _ = _apply(
        {
            "zip": {"operator": "generalize"},
            "age": {"operator": "generalize", "params": {"kind": "age"}},
            "birthday": {"operator": "generalize"},
        }
    )
    assert out["zip"].to_pylist() == ["800", "500", "123", None]
    assert out["age"].to_pylist() == ["30-39", "60-69", None, "0-9"]
    assert out["birthday"].to_pylist() == ["1982-03", None, "1999-01", "2001-12"]


def test_drop_removes_the_column_and_redact_empties_it():
    out, _ = _apply({"card": "drop", "email": "redact"})
    assert "card" not in out.column_names
    assert out["email"].to_pylist() == ["", "", None, ""]


def test_free_text_gets_span_level_anonymization(analyzer):
    out, _ = _apply({"review": {"operator": "replace"}}, analyzer=analyzer)
    masked = out["review"].to_pylist()
    assert masked[0] == "Call <PERSON> at <PHONE_NUMBER>"
    assert masked[1] == masked[3] == "great product" and masked[2] is None


@pytest.mark.parametrize(
    "policy, field, message",
    [
        ({"nope": "hash"}, "columns.nope", "unknown column"),
        ({"email": "explode"}, "columns.email.operator", "unknown operator"),
        ({"email": {"operator": "encrypt", "params": {"key": "short"}}}, "columns.email.params.key", "16, 24 or 32"),
        (
            {"email": {"operator": "mask", "params": {"chars_to_keep": -1}}},
            "columns.email.params.chars_to_keep",
            "between",
        ),
        ({"email": {"operator": "mask", "params": {"colour": "red"}}}, "columns.email.params", "unknown parameter"),
        ({"email": {"operator": "generalize"}}, "columns.email.params.kind", "cannot tell"),
        ({"review": {"operator": "generalize", "params": {"kind": "zip"}}}, "columns.review", "free text"),
    ],
)
def test_bad_policies_are_rejected_with_a_message_naming_the_problem(policy, field, message):
    table = _table()
    with pytest.raises(PolicyError) as err:
        validate_policy({"columns": policy}, schema=table.schema, secrets=SECRETS, column_kinds={"review": "free_text"})
    assert err.value.field == field and message in err.value.message


def test_encrypt_without_a_configured_key_is_rejected():
    table = _table()
    with pytest.raises(PolicyError, match="STEWARD_PII_ENCRYPTION_KEY"):
        validate_policy(
            {"columns": {"email": "encrypt"}}, schema=table.schema, secrets=MaskingSecrets(hash_salt=SECRETS.hash_salt)
        )
