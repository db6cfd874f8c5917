"""Masking operators over pyarrow columns, and validation of masking policies.

A policy maps columns to operators: ``{"columns": {"email": {"operator": "hash"}, ...}}``.
Entity columns (the value IS the entity) are masked value by value: each distinct value is
transformed once and the column rebuilt with ``take``, so a 100k-row column with 20k distinct
values costs 20k operator calls. Free-text columns get span-level anonymization: every distinct
text is analyzed (batched) and its entity spans are rewritten as Presidio's AnonymizerEngine
does (same merging of same-type spans separated by spaces, same operators), by a direct
replacement when the spans do not overlap (the analyzer's never do), else by the engine.
Presidio's operators do the work where they exist (Replace, Redact, Mask, Hash, Encrypt); they
are imported on first use so that importing this module (the policy editor's constants) stays
light.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

OPERATORS = ("redact", "replace", "mask", "hash", "encrypt", "pseudonymize", "generalize", "drop")
SPAN_OPERATORS = ("redact", "replace", "mask", "hash", "encrypt", "pseudonymize")  # generalize, drop: whole values
SCOPES = ("value", "spans")
PSEUDONYM_KINDS = (
    "auto",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "zip",
    "credit_card",
    "date",
    "company",
    "username",
    "id",
)
GENERALIZE_KINDS = ("auto", "zip", "age", "date")

# Allowed params per operator (anything else is a typo the steward should hear about).
_PARAMS: dict[str, set[str]] = {
    "redact": set(),
    "replace": {"new_value"},
    "mask": {"chars_to_keep", "masking_char"},
    "hash": set(),
    "encrypt": {"key"},
    "pseudonymize": {"kind"},
    "generalize": {"kind", "digits", "band", "granularity"},
    "drop": set(),
}
_COMMON_PARAMS = {"scope", "entities"}

_ENTITY_TO_PSEUDONYM = {
    "PERSON": "name",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "STREET_ADDRESS": "address",
    "LOCATION": "city",
    "ZIP_CODE": "zip",
    "CREDIT_CARD": "credit_card",
    "DATE_TIME": "date",
    "DATE_OF_BIRTH": "date",
    "USERNAME": "username",
    "NRP": "id",
    "CN_RESIDENT_ID": "id",
}


class PolicyError(ValueError):
    """A policy that cannot be applied; ``field`` names the offending part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class MaskingSecrets:
    hash_salt: str
    encryption_key: str = ""


@dataclass(frozen=True)
class ColumnRule:
    column: str
    operator: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return self.params.get("scope", "value")

    def public(self) -> dict[str, Any]:
        """The rule as recorded in lineage and audit: never a key."""
        params = {k: v for k, v in self.params.items() if k != "key"}
        return {"operator": self.operator, "params": params}


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def validate_policy(
    raw: Any,
    *,
    schema: pa.Schema,
    secrets: MaskingSecrets,
    column_kinds: Mapping[str, str] | None = None,
    entity_types: Mapping[str, str | None] | None = None,
) -> list[ColumnRule]:
    """Check a policy against a table schema; return one rule per column or raise PolicyError.

    ``column_kinds`` (from the scan: "entity" or "free_text") sets each rule's default scope.
    """
    kinds = dict(column_kinds or {})
    types = dict(entity_types or {})
    if not isinstance(raw, Mapping):
        raise PolicyError("the policy must be an object with a 'columns' mapping", "columns")
    columns = raw.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise PolicyError("'columns' must map at least one column name to {operator, params}", "columns")
    if len(columns) > len(schema.names) * 2 + 10:
        raise PolicyError("too many columns in the policy", "columns")
    rules: list[ColumnRule] = []
    for name, spec in columns.items():
        where = f"columns.{name}"
        if name not in schema.names:
            raise PolicyError(f"unknown column {name!r}; the version has: {', '.join(schema.names)}", where)
        if isinstance(spec, str):
            spec = {"operator": spec}
        if not isinstance(spec, Mapping):
            raise PolicyError(f"{where} must be an object {{operator, params}}", where)
        extra = set(spec) - {"operator", "params"}
        if extra:
            raise PolicyError(f"{where} has unknown field(s): {', '.join(sorted(extra))}", where)
        operator = spec.get("operator")
        if operator not in OPERATORS:
            raise PolicyError(
                f"unknown operator {operator!r} for column {name!r}; use one of: {', '.join(OPERATORS)}",
                f"{where}.operator",
            )
        params = dict(spec.get("params") or {})
        if not isinstance(spec.get("params") or {}, Mapping):
            raise PolicyError(f"{where}.params must be an object", f"{where}.params")
        unknown = set(params) - _PARAMS[operator] - _COMMON_PARAMS
        if unknown:
            raise PolicyError(
                f"unknown parameter(s) for {operator} on {name!r}: {', '.join(sorted(unknown))}",
                f"{where}.params",
            )
        scope = params.get("scope", "spans" if kinds.get(name) == "free_text" else "value")
        if scope not in SCOPES:
            raise PolicyError(f"{where}.params.scope must be 'value' or 'spans'", f"{where}.params.scope")
        dtype = schema.field(name).type
        if scope == "spans":
            if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
                raise PolicyError(f"span masking needs a text column; {name!r} is {dtype}", where)
            if operator == "generalize":
                raise PolicyError(f"generalize applies to whole values, not to free text ({name!r})", where)
        if operator != "drop":
            params["scope"] = scope
        entities = params.get("entities")
        if entities is not None and (
            not isinstance(entities, list) or not all(isinstance(e, str) and e for e in entities)
        ):
            raise PolicyError(f"{where}.params.entities must be a list of entity names", f"{where}.params.entities")
        _validate_operator_params(name, operator, params, dtype, secrets, types.get(name))
        rules.append(ColumnRule(column=name, operator=operator, params=params))
    return rules


def _validate_operator_params(
    name: str,
    operator: str,
    params: dict[str, Any],
    dtype: pa.DataType,
    secrets: MaskingSecrets,
    entity_type: str | None,
) -> None:
    where = f"columns.{name}.params"
    if operator == "replace":
        value = params.get("new_value")
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise PolicyError(f"{where}.new_value must be a string of at most 200 characters", f"{where}.new_value")
    elif operator == "mask":
        keep = params.get("chars_to_keep", 4)
        if not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= 64:
            raise PolicyError(f"{where}.chars_to_keep must be an integer between 0 and 64", f"{where}.chars_to_keep")
        char = params.get("masking_char", "*")
        if not isinstance(char, str) or len(char) != 1:
            raise PolicyError(f"{where}.masking_char must be exactly one character", f"{where}.masking_char")
    elif operator == "hash":
        if len(secrets.hash_salt.encode()) < 16:
            raise PolicyError("the hash salt in settings (STEWARD_PII_HASH_SALT) must be at least 16 bytes", where)
    elif operator == "encrypt":
        key = params.get("key", secrets.encryption_key)
        if not key:
            raise PolicyError("encrypt needs a key: set STEWARD_PII_ENCRYPTION_KEY (16, 24 or 32 characters)", where)
        if not isinstance(key, str) or not _valid_key(key):
            raise PolicyError("the encryption key must be 16, 24 or 32 bytes long (AES-128/192/256)", f"{where}.key")
    elif operator == "pseudonymize":
        kind = params.get("kind", "auto")
        if kind not in PSEUDONYM_KINDS:
            raise PolicyError(f"{where}.kind must be one of: {', '.join(PSEUDONYM_KINDS)}", f"{where}.kind")
    elif operator == "generalize":
        kind = params.get("kind", "auto")
        if kind not in GENERALIZE_KINDS:
            raise PolicyError(f"{where}.kind must be one of: {', '.join(GENERALIZE_KINDS)}", f"{where}.kind")
        if kind == "auto":
            kind = _generalize_kind(name, dtype, entity_type)
            if kind is None:
                raise PolicyError(
                    f"cannot tell how to generalize {name!r}: give params.kind zip, age or date", f"{where}.kind"
                )
            params["kind"] = kind
        digits = params.get("digits", 3)
        if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 10:
            raise PolicyError(f"{where}.digits must be an integer between 1 and 10", f"{where}.digits")
        band = params.get("band", 10)
        if not isinstance(band, int) or isinstance(band, bool) or not 2 <= band <= 100:
            raise PolicyError(f"{where}.band must be an integer between 2 and 100", f"{where}.band")
        granularity = params.get("granularity", "month")
        if granularity not in ("month", "year"):
            raise PolicyError(f"{where}.granularity must be 'month' or 'year'", f"{where}.granularity")
        if kind == "age" and not (
            pa.types.is_integer(dtype)
            or pa.types.is_floating(dtype)
            or pa.types.is_string(dtype)
            or pa.types.is_large_string(dtype)
        ):
            raise PolicyError(f"age bands need numbers; {name!r} is {dtype}", where)


def _generalize_kind(name: str, dtype: pa.DataType, entity_type: str | None) -> str | None:
    lowered = name.lower()
    if entity_type == "ZIP_CODE" or any(w in lowered for w in ("zip", "postcode", "postal")):
        return "zip"
    if (
        pa.types.is_temporal(dtype)
        or entity_type in ("DATE_TIME", "DATE_OF_BIRTH")
        or any(w in lowered for w in ("date", "birth", "dob"))
    ):
        return "date"
    if "age" in re.split(r"[^a-z]+", lowered):
        return "age"
    return None


def public_policy(rules: Sequence[ColumnRule]) -> dict[str, Any]:
    """The policy as recorded in lineage edges and audit rows (no key; the salt is never in it)."""
    return {"columns": {r.column: r.public() for r in rules}}


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------

SpanFinder = Callable[[list[str], Sequence[str] | None], list[list[Any]]]


def mask_table(
    table: pa.Table,
    rules: Sequence[ColumnRule],
    *,
    secrets: MaskingSecrets,
    find_spans: SpanFinder | None = None,
    entity_types: Mapping[str, str | None] | None = None,
) -> pa.Table:
    """Apply the rules; ``find_spans(texts, entities)`` returns analyzer results per text and is
    needed when a rule masks spans of free text."""
    types = dict(entity_types or {})
    by_column = {r.column: r for r in rules}
    arrays, fields = [], []
    for schema_field in table.schema:
        rule = by_column.get(schema_field.name)
        column = table.column(schema_field.name)
        if rule is None:
            arrays.append(column)
            fields.append(schema_field)
            continue
        if rule.operator == "drop":
            continue
        if rule.scope == "spans":
            if find_spans is None:
                raise PolicyError(f"masking spans of {rule.column!r} needs an analyzer")
            masked = mask_spans(column, rule, secrets=secrets, find_spans=find_spans)
        else:
            masked = mask_values(column, rule, secrets=secrets, entity_type=types.get(rule.column))
        arrays.append(masked)
        fields.append(pa.field(schema_field.name, masked.type, nullable=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def mask_values(
    column: pa.ChunkedArray | pa.Array,
    rule: ColumnRule,
    *,
    secrets: MaskingSecrets,
    entity_type: str | None = None,
) -> pa.Array:
    """Transform each distinct value once and rebuild the column (nulls stay null)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if rule.operator == "generalize" and pa.types.is_temporal(array.type):
        return _generalize_temporal(array, rule.params)
    if rule.operator == "redact" and not _is_text(array.type):
        return pa.nulls(len(array), type=array.type)
    encoded = pc.dictionary_encode(array)
    distinct = encoded.dictionary.to_pylist()
    fn = value_operator(rule, secrets=secrets, entity_type=entity_type)
    new_values = [None if v is None else fn(_text(v)) for v in distinct]
    return pa.array(new_values, type=pa.string()).take(encoded.indices)


def value_operator(
    rule: ColumnRule, *, secrets: MaskingSecrets, entity_type: str | None = None, span: bool = False
) -> Callable[[str], str | None]:
    """A function original text -> masked text for one rule: a whole value, or with ``span`` one entity span of
    free text (``mask`` keeps no characters there unless told; a whole value keeps its last 4: "****1111")."""
    from presidio_anonymizer.operators import AESCipher, Hash, Mask

    op, params = rule.operator, rule.params
    if span and op not in SPAN_OPERATORS:
        raise PolicyError(f"operator {op!r} has no span form")
    if op == "redact":
        return lambda text: ""
    if op == "replace":
        new_value = params.get("new_value") or f"<{entity_type or 'REDACTED'}>"
        return lambda text: new_value
    if op == "mask":
        mask, char = Mask(), params.get("masking_char", "*")
        keep = params.get("chars_to_keep", 0 if span else 4)

        def _mask(text: str) -> str:
            return mask.operate(
                text, {"masking_char": char, "chars_to_mask": max(0, len(text) - keep), "from_end": False}
            )

        return _mask
    if op == "hash":
        hasher, salt = Hash(), secrets.hash_salt
        return lambda text: hasher.operate(text, {"hash_type": "sha256", "salt": salt})
    if op == "encrypt":
        key = (params.get("key") or secrets.encryption_key).encode("utf8")
        return lambda text: AESCipher.encrypt(key, text)
    if op == "pseudonymize":
        kind = params.get("kind", "auto")
        if kind == "auto":
            kind = _ENTITY_TO_PSEUDONYM.get(entity_type or "", "id")
        return Pseudonymizer(kind, secrets.hash_salt)
    if op == "generalize":
        return _generalizer(params)
    raise PolicyError(f"operator {op!r} cannot transform values")


def mask_spans(
    column: pa.ChunkedArray | pa.Array,
    rule: ColumnRule,
    *,
    secrets: MaskingSecrets,
    find_spans: SpanFinder,
) -> pa.Array:
    """Anonymize the entity spans inside each distinct text of a free-text column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if rule.operator == "drop":
        raise PolicyError("drop removes the column; it has no span form")
    encoded = pc.dictionary_encode(array)
    distinct = encoded.dictionary.to_pylist()
    texts = [v if isinstance(v, str) else "" for v in distinct]
    entities = rule.params.get("entities")
    results = find_spans(texts, entities)
    functions: dict[str, Callable[[str], str]] = {}
    new_values: list[str | None] = []
    for original, text, found in zip(distinct, texts, results, strict=True):
        if original is None:
            new_values.append(None)
        elif not found:
            new_values.append(text)
        else:
            new_values.append(anonymize_text(text, found, rule, secrets=secrets, functions=functions))
    return pa.array(new_values, type=pa.string()).take(encoded.indices)


def anonymize_text(
    text: str,
    results: Sequence[Any],
    rule: ColumnRule,
    *,
    secrets: MaskingSecrets,
    engine: AnonymizerEngine | None = None,
    functions: dict[str, Callable[[str], str]] | None = None,
) -> str:
    """Rewrite the entity spans of ``text`` as AnonymizerEngine.anonymize would (the engine
    itself runs when one is given or when spans overlap)."""
    spans = sorted(((r.start, r.end, r.entity_type) for r in results), key=lambda s: (s[0], s[1]))
    if engine is None and all(a[1] <= b[0] for a, b in itertools.pairwise(spans)):
        functions = {} if functions is None else functions
        return _replace_spans(text, spans, lambda t: _span_function(rule, t, secrets, functions))
    engine = engine or _anonymizer()
    operators = {}
    for entity_type in {r.entity_type for r in results}:
        operators[entity_type] = _span_operator(rule, entity_type, secrets)
    return engine.anonymize(text=text, analyzer_results=list(results), operators=operators).text


def _replace_spans(
    text: str, spans: list[tuple[int, int, str]], function_for: Callable[[str], Callable[[str], str]]
) -> str:
    # The engine's merge_entities_with_spaces: same-type neighbours with only spaces between
    # become one span ("John Smith" found as two names is replaced once).
    merged: list[list[Any]] = []
    for start, end, entity_type in spans:
        if merged and merged[-1][2] == entity_type and _only_spaces(text[merged[-1][1] : start]):
            merged[-1][1] = end
        else:
            merged.append([start, end, entity_type])
    pieces: list[str] = []
    position = 0
    for start, end, entity_type in merged:
        pieces.append(text[position:start])
        pieces.append(function_for(entity_type)(text[start:end]))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _only_spaces(gap: str) -> bool:
    return bool(gap) and gap.strip(" ") == ""


def _span_function(
    rule: ColumnRule, entity_type: str, secrets: MaskingSecrets, cache: dict[str, Callable[[str], str]]
) -> Callable[[str], str]:
    """The transformation _span_operator configures, as a plain function (one per entity type)."""
    function = cache.get(entity_type)
    if function is None:
        function = cache[entity_type] = value_operator(rule, secrets=secrets, entity_type=entity_type, span=True)
    return function


def _span_operator(rule: ColumnRule, entity_type: str, secrets: MaskingSecrets) -> OperatorConfig:
    """The rule as AnonymizerEngine's operator: Presidio's own where it has one (the reference the direct
    rewrite is tested against), Steward's function as a custom operator for mask and pseudonymize."""
    from presidio_anonymizer.entities import OperatorConfig

    op, params = rule.operator, rule.params
    if op == "redact":
        return OperatorConfig("redact", {})
    if op == "replace":
        return OperatorConfig("replace", {"new_value": params.get("new_value") or f"<{entity_type}>"})
    if op == "hash":
        return OperatorConfig("hash", {"hash_type": "sha256", "salt": secrets.hash_salt})
    if op == "encrypt":
        return OperatorConfig("encrypt", {"key": params.get("key") or secrets.encryption_key})
    return OperatorConfig(
        "custom", {"lambda": value_operator(rule, secrets=secrets, entity_type=entity_type, span=True)}
    )


_local = threading.local()


def _anonymizer() -> AnonymizerEngine:
    from presidio_anonymizer import AnonymizerEngine

    if not hasattr(_local, "anonymizer"):
        _local.anonymizer = AnonymizerEngine()
    return _local.anonymizer


def _valid_key(key: str) -> bool:
    from presidio_anonymizer.operators import AESCipher

    return AESCipher.is_valid_key_size(key.encode("utf8"))


def decrypt_value(token: str, key: str) -> str:
    """Undo ``encrypt`` for one value (stewards only, audited: the caller's job)."""
    from presidio_anonymizer.entities import InvalidParamError
    from presidio_anonymizer.operators import AESCipher

    if not _valid_key(key):
        raise PolicyError("the encryption key must be 16, 24 or 32 bytes long")
    try:
        return AESCipher.decrypt(key.encode("utf8"), token)
    except (ValueError, InvalidParamError) as exc:
        raise PolicyError("this value was not encrypted with the configured key") from exc


# ---------------------------------------------------------------------------------------------
# Pseudonyms and generalization
# ---------------------------------------------------------------------------------------------


# Faker takes ~150 us per fake value, and a masking job meets the same originals in every
# chunk: fakes are remembered per process by salted digest (never by original value), bounded.
_PSEUDONYM_CACHE_SIZE = 200_000
_pseudonyms: OrderedDict[bytes, str] = OrderedDict()
_pseudonyms_lock = threading.Lock()


# Pseudonym kinds that one Faker method makes (Pseudonymizer._fake makes the others).
_FAKER_METHODS = {
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone": "phone_number",
    "address": "street_address",
    "city": "city",
    "zip": "postcode",
    "credit_card": "credit_card_number",
    "company": "company",
}


# Chinese fakes for Chinese originals (zh_CN has no street-level "street_address" with a number).
_FAKER_METHODS_ZH: dict[str, Callable[[Any], str]] = {
    "name": lambda f: f.name(),
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "address": lambda f: f"{f.province()}{f.city()}{f.district()}区{f.street_name()}{f.random_int(1, 999)}号",
    "phone": lambda f: f.phone_number(),
    "city": lambda f: f.city(),
    "company": lambda f: f.company(),
}


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CN_MOBILE = re.compile(r"(?:(?:\+|00)86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}")


class Pseudonymizer:
    """Consistent realistic fake values: Faker seeded by a salted hash of the original."""

    def __init__(self, kind: str, salt: str) -> None:
        from faker import Faker

        self.kind = kind
        self.salt = salt.encode()
        self.faker = Faker("en_US")
        self._faker_zh: Any = None

    def __call__(self, text: str) -> str:
        digest = hashlib.sha256(self.salt + self.kind.encode() + b"\0" + text.encode()).digest()
        with _pseudonyms_lock:
            fake = _pseudonyms.get(digest)
        if fake is None:
            fake = self._fake(digest, text)
            with _pseudonyms_lock:
                _pseudonyms[digest] = fake
                if len(_pseudonyms) > _PSEUDONYM_CACHE_SIZE:
                    _pseudonyms.popitem(last=False)
        return fake

    def _chinese(self) -> Any:
        if self._faker_zh is None:
            from faker import Faker

            self._faker_zh = Faker("zh_CN")
        return self._faker_zh

    def _fake(self, digest: bytes, text: str = "") -> str:
        # A Chinese original gets a Chinese fake (Faker zh_CN): 张伟 -> 李娜, 北京市朝阳区... -> 江苏省...
        chinese = self.kind in _FAKER_METHODS_ZH and (
            _HAN.search(text) is not None if self.kind != "phone" else _CN_MOBILE.fullmatch(text.strip()) is not None
        )
        f = self._chinese() if chinese else self.faker
        f.seed_instance(int.from_bytes(digest[:8], "big"))
        if chinese:
            return _FAKER_METHODS_ZH[self.kind](f)
        if self.kind in _FAKER_METHODS:
            return getattr(f, _FAKER_METHODS[self.kind])()
        if self.kind == "email":
            return f"{f.user_name()}{digest[8] % 100}@{f.free_email_domain()}"
        if self.kind == "date":
            return f.date_of_birth(minimum_age=18, maximum_age=90).isoformat()
        if self.kind == "username":
            return f"{f.user_name()}{digest[9]}"
        return "ID-" + digest[:6].hex()


_DATE_FORMATS = (
    "%m/%d/%Y",
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%y",
    "%Y/%m/%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


def parse_date(text: str) -> dt.date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        return None


def _generalizer(params: Mapping[str, Any]) -> Callable[[str], str | None]:
    kind = params.get("kind")
    if kind == "zip":
        digits = params.get("digits", 3)

        def _zip(text: str) -> str | None:
            clean = re.sub(r"[^0-9A-Za-z]", "", text)
            return clean[:digits] or None

        return _zip
    if kind == "age":
        band = params.get("band", 10)

        def _age(text: str) -> str | None:
            try:
                age = int(float(text))
            except ValueError:
                return None
            low = (age // band) * band
            return f"{low}-{low + band - 1}"

        return _age
    if kind == "date":
        year_only = params.get("granularity", "month") == "year"

        def _date(text: str) -> str | None:
            parsed = parse_date(text)
            if parsed is None:
                return None
            return f"{parsed.year:04d}" if year_only else f"{parsed.year:04d}-{parsed.month:02d}"

        return _date
    raise PolicyError(f"unknown generalization {kind!r}")


def _generalize_temporal(array: pa.Array, params: Mapping[str, Any]) -> pa.Array:
    unit = "year" if params.get("granularity", "month") == "year" else "month"
    return pc.strftime(pc.floor_temporal(array, unit=unit), format="%Y" if unit == "year" else "%Y-%m")


def _is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)
