"""Column classification: which columns of a table hold personal data, and of what kind.

Per column: skip types that cannot hold PII, analyze a sample in one batched pass (distinct
values once, the column name as Presidio context), aggregate per entity type the share of
sampled values containing it, the mean score and the recognizers that fired, then decide
whether the values ARE an entity (an e-mail column) or free text that CONTAINS entities.
Evidence snippets are masked: no raw value leaves this module.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from governance.privacy.analyzer import StewardAnalyzer
from governance.privacy.recognizers.cards import luhn_valid
from governance.privacy.recognizers.zh import LANGUAGE as ZH
from governance.privacy.recognizers.zh import PROVINCES as ZH_PROVINCES
from governance.privacy.recognizers.zh import detect_language

# Column-name hints: token -> entity type. Tokens come from splitting the name on case changes,
# digits and separators ("EmailAddress" -> email, address; "cc_number" -> cc, number).
NAME_HINTS: dict[str, str] = {
    "name": "PERSON",
    "firstname": "PERSON",
    "first": "PERSON",
    "given": "PERSON",
    "givenname": "PERSON",
    "surname": "PERSON",
    "lastname": "PERSON",
    "last": "PERSON",
    "maiden": "PERSON",
    "fullname": "PERSON",
    "middlename": "PERSON",
    "forename": "PERSON",
    "email": "EMAIL_ADDRESS",
    "mail": "EMAIL_ADDRESS",
    "e-mail": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "telephone": "PHONE_NUMBER",
    "tel": "PHONE_NUMBER",
    "mobile": "PHONE_NUMBER",
    "cell": "PHONE_NUMBER",
    "fax": "PHONE_NUMBER",
    "address": "STREET_ADDRESS",
    "street": "STREET_ADDRESS",
    "addr": "STREET_ADDRESS",
    "birthday": "DATE_OF_BIRTH",
    "birth": "DATE_OF_BIRTH",
    "dob": "DATE_OF_BIRTH",
    "birthdate": "DATE_OF_BIRTH",
    "cc": "CREDIT_CARD",
    "card": "CREDIT_CARD",
    "ccnumber": "CREDIT_CARD",
    "creditcard": "CREDIT_CARD",
    "ssn": "NATIONAL_ID",
    "nationalid": "NATIONAL_ID",
    "national": "NATIONAL_ID",
    "passport": "NATIONAL_ID",
    "nin": "NATIONAL_ID",
    "taxid": "NATIONAL_ID",
    "iban": "IBAN_CODE",
    "ip": "IP_ADDRESS",
    "zip": "ZIP_CODE",
    "zipcode": "ZIP_CODE",
    "postcode": "ZIP_CODE",
    "postal": "ZIP_CODE",
    "username": "USERNAME",
    "login": "USERNAME",
    "userid": "USERNAME",
    "resident": "NATIONAL_ID",
    "idcard": "NATIONAL_ID",
    # Places: a column named like one, holding place-like values, is LOCATION (see _place_like).
    "city": "LOCATION",
    "town": "LOCATION",
    "state": "LOCATION",
    "statefull": "LOCATION",
    "country": "LOCATION",
    "countryfull": "LOCATION",
    "region": "LOCATION",
    "province": "LOCATION",
    "district": "LOCATION",
    "county": "LOCATION",
    "municipality": "LOCATION",
}
# Chinese column names ("手机号", "收货地址"): a hint when the name contains the word.
ZH_NAME_HINTS: tuple[tuple[str, str], ...] = (
    ("身份证", "NATIONAL_ID"),
    ("证件", "NATIONAL_ID"),
    ("邮箱", "EMAIL_ADDRESS"),
    ("邮件", "EMAIL_ADDRESS"),
    ("手机", "PHONE_NUMBER"),
    ("电话", "PHONE_NUMBER"),
    ("地址", "STREET_ADDRESS"),
    ("住址", "STREET_ADDRESS"),
    ("银行卡", "CREDIT_CARD"),
    ("卡号", "CREDIT_CARD"),
    ("生日", "DATE_OF_BIRTH"),
    ("出生", "DATE_OF_BIRTH"),
    ("邮编", "ZIP_CODE"),
    ("城市", "LOCATION"),
    ("省份", "LOCATION"),
    ("姓名", "PERSON"),
    ("名字", "PERSON"),
    ("收货人", "PERSON"),
    ("联系人", "PERSON"),
    ("用户名", "USERNAME"),
)
# A hint is borne out by these detected types too (a resident id number is a national id).
HINT_SATISFIED_BY: dict[str | None, set[str | None]] = {"NATIONAL_ID": {"NATIONAL_ID", "CN_RESIDENT_ID"}}
ZH_PLACE = re.compile(r"[\u4e00-\u9fff]{1,10}(?:省|市|县|区|州|盟|旗|自治区|特别行政区|镇|乡|村)")
# A column of few distinct values ("gold", "silver"; 金卡, 银卡) is a category, not names or places,
# unless its name says otherwise.
CATEGORICAL_MIN_SAMPLE = 20
CATEGORICAL_MAX_DISTINCT = 5
ZH_COLUMN_SHARE = 0.5  # a column is Chinese when this share of its values is mostly Chinese text
ZH_PROSE_MIN_CHARS = 12  # Chinese free text: values this long, punctuated like sentences
ZH_SENTENCE_PUNCTUATION = re.compile(r"[，。！？；、,.!?]")
# Hints about a place: the values must also look like place names (not "active"/"pending").
PLACE_HINT_TOKENS = frozenset(
    {
        "city",
        "town",
        "state",
        "statefull",
        "country",
        "countryfull",
        "region",
        "province",
        "district",
        "county",
        "municipality",
    }
)
# Names of identifier columns ("id", "user_id", "customerId", "order_no").
ID_NAME_TOKENS = frozenset({"id", "ids", "pk", "key", "uuid", "guid"})
# Columns whose name says they hold a thing's identity in an items/products table.
ITEM_KEY_NAMES = frozenset(
    {"itemid", "productid", "sku", "asin", "movieid", "goodsid", "spuid", "skuid", "listingid", "offerid"}
)
USER_KEY_NAMES = frozenset({"userid", "customerid", "memberid", "buyerid", "accountid", "visitorid", "clientid"})
ITEM_HINT_NAMES = frozenset({"price", "brand", "category", "sku", "stock", "inventory", "genre", "genres"})
# Product copy: in an items table these columns describe the product, and the NER types PERSON,
# LOCATION and NRP found in them are brand, product and model names ("Toy Story", "Gina Pro").
PRODUCT_TEXT_TOKENS = frozenset(
    {
        "title",
        "description",
        "desc",
        "summary",
        "details",
        "features",
        "headline",
        "subtitle",
        "tagline",
        "blurb",
        "copy",
        "overview",
        "bullets",
        "class",
        "genre",
        "genres",
        "tags",
        "keywords",
    }
)
NER_TYPES = frozenset({"PERSON", "LOCATION", "NRP"})
# Geographic coordinates: a column named like an axis, holding values precise to about 100 m.
COORDINATE_TOKENS = {"latitude": "latitude", "lat": "latitude", "longitude": "longitude", "lng": "longitude"}
COORDINATE_MIN_DECIMALS = 3
# Types an id-like column (numeric, named as an id or unique and increasing) is never given.
ID_EXCLUDED_TYPES = frozenset({"USERNAME", "PHONE_NUMBER"})
# Words a hint must not be combined with ("NameSet", "CCType", "CardType", "company name").
NAME_HINT_VETO = {
    "set",
    "type",
    "expires",
    "expiry",
    "company",
    "product",
    "item",
    "file",
    "host",
    "domain",
    "brand",
    "category",
    "server",
    "column",
    "field",
    "table",
    "nameset",
}

# Entity types that columns get from their name plus the shape of their values (Presidio has no
# recognizer that fires on an isolated "Marie" or "5706114632083").
SHAPES: dict[str, re.Pattern[str]] = {
    "PERSON": re.compile(r"^[^\W\d_][^\W\d_'’.\- ]*(?:[ '’.\-]+[^\W\d_][^\W\d_'’.\-]*){0,3}\.?$"),
    "NATIONAL_ID": re.compile(r"^(?=(?:\D*\d){5})[A-Za-z0-9][A-Za-z0-9 ./\-]{4,24}$"),
    "DATE_OF_BIRTH": re.compile(
        r"^(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{2}|\d{4})|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2})(?:[ T].*)?$"
    ),
    "ZIP_CODE": re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9 \-]{2,9}$"),
    "PHONE_NUMBER": re.compile(r"^(?=(?:\D*\d){6})\+?[\d ()./\-]{6,24}(?:\s*(?:x|ext\.?)\s*\d{1,5})?$"),
    "CREDIT_CARD": re.compile(r"^(?:\d[ \-]?){12,19}$"),
    # A user name has a letter: an all-digit value is an id, not a login.
    "USERNAME": re.compile(r"^(?=[\w.\-]*[^\W\d_])[\w.\-]{3,40}$"),
    # A place: capitalised words (or a short code such as "QE"), no digits.
    "LOCATION": re.compile(r"^[^\W\d_][^\W\d_'’.\- ()]*(?:[ '’.\-]+\(?[^\W\d_][^\W\d_'’.\-()]*){0,4}\.?$"),
    "STREET_ADDRESS": re.compile(r"^(?=.*\d)(?=.*[^\W\d_]{2}).{4,120}$"),
}

MIN_ENTITY_SHARE = 0.3  # an entity column: at least this share of values is the entity
MIN_SHAPE_SHARE = 0.8  # name-hinted columns: this share of values must have the shape
MIN_FREE_TEXT_SHARE = 0.01  # free text: entities in at least 1 % of values (2 values in big samples)
FREE_TEXT_MIN_WORDS = 5  # median words per value from which a column counts as prose
MIN_UNHINTED_SCORE = 0.5  # a bare-threshold guess (e.g. any 10-digit number as a phone) needs a name hint
MIN_ENTITY_COVERAGE = 0.5  # an entity column's detections cover most of each value
MIN_PROSE_WORDS = 0.6  # share of purely alphabetic words in prose (a user agent has fewer)
# In machine text (user agents, tracking numbers, log lines) only validated patterns count.
MACHINE_TEXT_ENTITIES = {"EMAIL_ADDRESS", "IP_ADDRESS", "IBAN_CODE", "CREDIT_CARD", "CRYPTO"}
SNIPPETS = 3


@dataclass
class EntityEvidence:
    entity_type: str
    count: int
    share: float
    score: float
    recognizers: list[str]
    coverage: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ColumnReport:
    name: str
    dtype: str
    sampled: int = 0
    non_empty: int = 0
    skipped: str | None = None
    kind: str | None = None
    entity_type: str | None = None
    share: float = 0.0
    score: float = 0.0
    recognizers: list[str] = field(default_factory=list)
    entities: list[EntityEvidence] = field(default_factory=list)
    snippets: list[str] = field(default_factory=list)
    name_hint: str | None = None
    # Why the verdict: the recognizers and share behind it, the name cue, and what was set aside.
    reasons: list[str] = field(default_factory=list)
    language: str = "en"

    @property
    def flagged(self) -> bool:
        return self.entity_type is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["entities"] = [e.to_dict() for e in self.entities]
        return data


def name_tokens(column: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)", " ", column)
    return [t for t in re.split(r"[\s_\-./:]+", spaced.lower()) if t]


def name_hint(column: str) -> str | None:
    tokens = name_tokens(column)
    joined = "".join(tokens)
    if any(t in NAME_HINT_VETO for t in tokens) or joined in NAME_HINT_VETO:
        return None
    if joined in NAME_HINTS:
        return NAME_HINTS[joined]
    for token in tokens:
        if token in NAME_HINTS:
            return NAME_HINTS[token]
    for word, hint in ZH_NAME_HINTS:
        if word in column:
            return hint
    return None


def skip_reason(dtype: pa.DataType, hint: str | None) -> str | None:
    """Why a column of this type cannot hold PII (None: analyze it)."""
    if pa.types.is_boolean(dtype) or pa.types.is_null(dtype):
        return "boolean or empty column"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "fractional numbers"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "binary data"
    if pa.types.is_nested(dtype):
        return "nested values"
    if (pa.types.is_temporal(dtype)) and hint != "DATE_OF_BIRTH":
        return "date or time without a birth-date name"
    return None


def sample_values(column: pa.ChunkedArray | pa.Array, n: int, *, seed: int = 0) -> list[Any]:
    """Up to n values spread over the column (all of it when it is small), nulls dropped."""
    length = len(column)
    if length <= n:
        picked = column
    else:
        import numpy as np

        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(length, size=n, replace=False))
        picked = column.take(pa.array(idx))
    return [v for v in picked.to_pylist() if v is not None]


def classify_table(
    table: pa.Table,
    *,
    analyzer: StewardAnalyzer,
    sample_rows: int = 500,
    seed: int = 0,
    ad_hoc_recognizers: Sequence[Any] | None = None,
) -> list[ColumnReport]:
    """Classify every column of ``table`` on a sample of ``sample_rows`` values (drawn with ``seed``)."""
    return [
        classify_column(
            name,
            table.schema.field(name).type,
            sample_values(table.column(name), sample_rows, seed=seed),
            analyzer=analyzer,
            ad_hoc_recognizers=ad_hoc_recognizers,
            table_columns=table.column_names,
        )
        for name in table.column_names
    ]


def classify_column(
    name: str,
    dtype: pa.DataType,
    values: Sequence[Any],
    *,
    analyzer: StewardAnalyzer,
    ad_hoc_recognizers: Sequence[Any] | None = None,
    table_columns: Sequence[str] | None = None,
) -> ColumnReport:
    """Classify one column from its values, its name and its profile (``table_columns``: the names of
    the table's columns, which tell an items table from others)."""
    hint = name_hint(name)
    report = ColumnReport(name=name, dtype=str(dtype), sampled=len(values), name_hint=hint)
    axis = _coordinate_axis(name)
    if axis and (pa.types.is_floating(dtype) or pa.types.is_decimal(dtype) or pa.types.is_string(dtype)):
        return _classify_coordinates(report, axis, values)
    report.skipped = skip_reason(dtype, hint)
    if report.skipped:
        return report
    texts = [_as_text(v) for v in values]
    texts = [t for t in texts if t.strip()]
    report.non_empty = len(texts)
    if not texts:
        report.skipped = "no non-empty values in the sample"
        return report

    counts = Counter(texts)
    distinct = list(counts)
    # The column's language from its values: mostly Chinese values get the Chinese recognizers.
    chinese = sum(counts[t] for t in distinct if detect_language(t) == ZH) / len(texts)
    report.language = ZH if chinese >= ZH_COLUMN_SHARE else "en"
    context = name_tokens(name) + ([hint.lower().replace("_", " ")] if hint else [])
    results = analyzer.analyze_batch(
        distinct,
        context=context,
        ad_hoc_recognizers=ad_hoc_recognizers,
        language=ZH if report.language == ZH else None,
    )

    if report.language == ZH:
        # Chinese has no spaces between words: prose is long or punctuated like a sentence.
        length = statistics.median(len(t.strip()) for t in texts)
        punctuated = sum(bool(ZH_SENTENCE_PUNCTUATION.search(t)) for t in texts) / len(texts)
        free_text = length >= ZH_PROSE_MIN_CHARS and (punctuated >= 0.3 or length >= 3 * ZH_PROSE_MIN_CHARS)
        machine_text = False
        reasons_language = [f"Chinese values ({chinese:.0%}): Chinese recognizers"]
    else:
        words = statistics.median(len(t.split()) for t in texts)
        free_text = words >= FREE_TEXT_MIN_WORDS
        machine_text = free_text and _alphabetic_share(texts) < MIN_PROSE_WORDS
        reasons_language = []
    per_type: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "score": 0.0, "recognizers": Counter(), "coverage": 0.0}
    )
    for text, found in zip(distinct, results, strict=True):
        weight = counts[text]
        by_type: dict[str, list[Any]] = defaultdict(list)
        for r in found:
            by_type[r.entity_type].append(r)
        for entity_type, rs in by_type.items():
            agg = per_type[entity_type]
            agg["count"] += weight
            agg["score"] += weight * max(r.score for r in rs)
            covered = sum(r.end - r.start for r in rs) / max(1, len(text.strip()))
            agg["coverage"] += weight * min(1.0, covered)
            for r in rs:
                agg["recognizers"][(r.recognition_metadata or {}).get("recognizer_name", "?")] += 1

    total = len(texts)
    evidence = [
        EntityEvidence(
            entity_type=t,
            count=a["count"],
            share=round(a["count"] / total, 4),
            score=round(a["score"] / a["count"], 4),
            recognizers=[n for n, _ in a["recognizers"].most_common()],
            coverage=round(a["coverage"] / a["count"], 4),
        )
        for t, a in per_type.items()
    ]
    custom = {r.name for r in ad_hoc_recognizers or []}
    reasons: list[str] = list(reasons_language)
    if hint:
        reasons.append(f"name cue: '{name}' suggests {hint}")
    id_like = _id_like(name, dtype, texts)
    if id_like:
        dropped = [e for e in evidence if e.entity_type in ID_EXCLUDED_TYPES and not custom & set(e.recognizers)]
        evidence = [e for e in evidence if e not in dropped]
        reasons.append(
            f"id-like column ({id_like}): values are identifiers"
            + (f", not {'/'.join(e.entity_type for e in dropped)}" if dropped else "")
        )
    product_text = _product_text(name, hint, table_columns, free_text)
    if product_text:
        dropped = [e for e in evidence if e.entity_type in NER_TYPES and not custom & set(e.recognizers)]
        evidence = [e for e in evidence if e not in dropped]
        if dropped:
            reasons.append(
                "product copy of an items table: "
                + ", ".join(f"{e.entity_type} (share {e.share:.2f})" for e in dropped)
                + " from brand and product names not counted"
            )
    if not hint and not free_text and len(texts) >= CATEGORICAL_MIN_SAMPLE and len(distinct) < CATEGORICAL_MAX_DISTINCT:
        dropped = [e for e in evidence if e.entity_type in NER_TYPES and not custom & set(e.recognizers)]
        evidence = [e for e in evidence if e not in dropped]
        if dropped:
            reasons.append(
                f"categorical column ({len(distinct)} distinct values): "
                + ", ".join(e.entity_type for e in dropped)
                + " not counted without a name cue"
            )
    shape = None
    if hint == "LOCATION" and not free_text:
        place_share = _place_like_share(texts, analyzer)
        if place_share >= MIN_SHAPE_SHARE:
            shape = EntityEvidence(
                "LOCATION", round(place_share * len(texts)), round(place_share, 4), 0.7, ["ColumnNameHint"], 1.0
            )
            others = [e for e in evidence if e.entity_type in ("PERSON", "NRP") and not custom & set(e.recognizers)]
            evidence = [e for e in evidence if e not in others]
            reasons.append(
                f"place-like values ({place_share:.0%})"
                + "".join(f"; {e.entity_type} (share {e.share:.2f}) read as place names" for e in others)
            )
        else:
            reasons.append(f"values not place-like ({place_share:.0%}): the name cue is not enough")
    elif hint and not free_text and not (id_like and hint in ID_EXCLUDED_TYPES):
        shape = _shape_evidence(hint, texts, dtype)
    if shape is not None:
        evidence = [e for e in evidence if e.entity_type != shape.entity_type] + [
            _combine(shape, next((e for e in evidence if e.entity_type == shape.entity_type), None))
        ]
    # The type the column name announces comes first when the values bear it out.
    evidence.sort(
        key=lambda e: (
            e.entity_type in HINT_SATISFIED_BY.get(hint, {hint}) and e.share >= MIN_ENTITY_SHARE,
            e.share * e.score,
            e.share,
        ),
        reverse=True,
    )
    report.entities = evidence

    if free_text:
        flagged = [
            e
            for e in evidence
            if e.share >= MIN_FREE_TEXT_SHARE
            and (e.count >= 2 or total < 100)
            and (not machine_text or e.entity_type in MACHINE_TEXT_ENTITIES or custom & set(e.recognizers))
        ]
        if flagged:
            report.kind = "free_text"
    else:
        flagged = [
            e
            for e in evidence
            if e.share >= MIN_ENTITY_SHARE
            and e.coverage >= MIN_ENTITY_COVERAGE
            and (e.score >= MIN_UNHINTED_SCORE or e.entity_type == hint)
        ]
        if flagged:
            report.kind = "entity"
    report.reasons = reasons
    if flagged:
        top = flagged[0]
        report.reasons = [
            f"{top.entity_type} in {top.share:.0%} of sampled values (mean score {top.score:.2f}) by "
            + ", ".join(top.recognizers[:4]),
            *reasons,
        ]
        report.entity_type = top.entity_type
        report.share = top.share
        report.score = top.score
        report.recognizers = top.recognizers
        if report.kind == "entity" and top.recognizers == ["ColumnNameHint"]:
            report.snippets = [mask_for_evidence(t) for t in distinct[:SNIPPETS]]
        else:
            report.snippets = _snippets(distinct, results, report.kind, texts_only_with=top.entity_type)
    return report


def _coordinate_axis(name: str) -> str | None:
    """ "latitude" or "longitude" for a column named like one ("Latitude", "geo_lng"), else None."""
    for token in name_tokens(name):
        if token in COORDINATE_TOKENS:
            return COORDINATE_TOKENS[token]
    return None


def _classify_coordinates(report: ColumnReport, axis: str, values: Sequence[Any]) -> ColumnReport:
    """A latitude or longitude column: LOCATION when its values are coordinates precise enough to place a
    person (at least COORDINATE_MIN_DECIMALS decimals, about 100 m, inside the axis's range)."""
    limit = 90.0 if axis == "latitude" else 180.0
    numbers = []
    for value in values:
        text = _as_text(value).strip()
        try:
            number = float(text)
        except ValueError:
            continue
        decimals = len(text.split(".", 1)[1]) if "." in text else 0
        numbers.append(-limit <= number <= limit and decimals >= COORDINATE_MIN_DECIMALS)
    report.non_empty = len(numbers)
    if not numbers:
        report.skipped = "no numeric values in the sample"
        return report
    share = sum(numbers) / len(numbers)
    cue = f"name cue: '{report.name}' is a {axis}"
    if share < MIN_SHAPE_SHARE:
        report.reasons = [cue, f"values not precise coordinates ({share:.0%})"]
        return report
    report.kind, report.entity_type = "entity", "LOCATION"
    report.share, report.score, report.recognizers = round(share, 4), 0.7, ["ColumnNameHint"]
    report.entities = [EntityEvidence("LOCATION", sum(numbers), report.share, 0.7, ["ColumnNameHint"], 1.0)]
    report.reasons = [
        f"LOCATION: {share:.0%} of sampled values are {axis}s with {COORDINATE_MIN_DECIMALS}+ decimals",
        cue,
    ]
    report.snippets = [mask_for_evidence(_as_text(v)) for v in list(values)[:SNIPPETS]]
    return report


def _id_like(name: str, dtype: pa.DataType, texts: list[str]) -> str | None:
    """Why the column holds identifiers (numeric, and named as an id or unique and increasing), or None."""
    if not (pa.types.is_integer(dtype) or all(t.strip().isdigit() for t in texts)):
        return None
    tokens = name_tokens(name)
    joined = "".join(tokens)
    why = []
    if tokens and (tokens[-1] in ID_NAME_TOKENS or joined in USER_KEY_NAMES | ITEM_KEY_NAMES):
        why.append(f"named '{name}'")
    numbers = [int(t) for t in texts]
    if len(numbers) >= 5 and len(set(numbers)) == len(numbers) and numbers == sorted(numbers):
        why.append("unique and increasing")
    if not why:
        return None
    return ", ".join(["numeric", *why])


def _product_text(name: str, hint: str | None, table_columns: Sequence[str] | None, free_text: bool) -> bool:
    """Whether the column is product copy (a title, a description) of an items table."""
    if hint is not None or not table_columns:
        return False
    if not set(name_tokens(name)) & PRODUCT_TEXT_TOKENS:
        return False
    joined = {"".join(name_tokens(c)) for c in table_columns}
    tokens = {t for c in table_columns for t in name_tokens(c)}
    items = bool(joined & ITEM_KEY_NAMES) or len(tokens & ITEM_HINT_NAMES) >= 2
    return items and not joined & USER_KEY_NAMES


def _place_like_share(texts: list[str], analyzer: StewardAnalyzer) -> float:
    """Share of values shaped like a place name: capitalised words that are not all ordinary English
    words ("Lake Jamesburgh", "Vila Real"), a short upper-case code ("QE", "PT"), or a Chinese place
    with its unit (杭州市, 朝阳区, 广西壮族自治区) or a province's name."""
    common = analyzer.common_words
    ok = 0
    for text in texts:
        value = text.strip()
        if ZH_PLACE.fullmatch(value) or value in ZH_PROVINCES:
            ok += 1
            continue
        if re.fullmatch(r"[A-Z]{2,3}", value):
            ok += 1
            continue
        if not SHAPES["LOCATION"].match(value) or not value[0].isupper():
            continue
        words = [w.lower() for w in re.split(r"[\s'’.\-()]+", value) if w]
        if not words or not all(w in common for w in words):
            ok += 1
    return ok / max(1, len(texts))


def _alphabetic_share(texts: list[str]) -> float:
    words = [w.strip(".,;:!?\"'()[]") for t in texts[:200] for w in t.split()]
    words = [w for w in words if w]
    return sum(w.isalpha() for w in words) / max(1, len(words))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _shape_evidence(hint: str, texts: list[str], dtype: pa.DataType) -> EntityEvidence | None:
    if hint == "DATE_OF_BIRTH" and pa.types.is_temporal(dtype):
        return EntityEvidence("DATE_OF_BIRTH", len(texts), 1.0, 0.7, ["ColumnNameHint"], 1.0)
    pattern = SHAPES.get(hint)
    if pattern is None:
        return None
    ok = [t for t in texts if pattern.match(t.strip())]
    if hint == "CREDIT_CARD":
        ok = [t for t in ok if luhn_valid("".join(c for c in t if c.isdigit()))]
    share = len(ok) / len(texts)
    if share < MIN_SHAPE_SHARE:
        return None
    return EntityEvidence(hint, len(ok), round(share, 4), 0.7, ["ColumnNameHint"], 1.0)


def _combine(shape: EntityEvidence, detected: EntityEvidence | None) -> EntityEvidence:
    if detected is None:
        return shape
    return EntityEvidence(
        shape.entity_type,
        max(shape.count, detected.count),
        max(shape.share, detected.share),
        round(max(shape.score, detected.score), 4),
        detected.recognizers + [r for r in shape.recognizers if r not in detected.recognizers],
        max(shape.coverage, detected.coverage),
    )


def mask_for_evidence(value: str, limit: int = 40) -> str:
    """Keep the first character of each word and punctuation; letters and digits become * and #."""
    out = []
    for word in re.split(r"(\s+)", value[:limit]):
        if not word or word.isspace():
            out.append(word)
            continue
        out.append(word[0] if word[0].isalpha() else ("#" if word[0].isdigit() else word[0]))
        out.append("".join("#" if c.isdigit() else ("*" if c.isalnum() else c) for c in word[1:]))
    masked = "".join(out)
    return masked + ("…" if len(value) > limit else "")


def _snippets(texts: list[str], results: list[list[Any]], kind: str, *, texts_only_with: str) -> list[str]:
    snippets: list[str] = []
    for text, found in zip(texts, results, strict=True):
        spans = [r for r in found if r.entity_type == texts_only_with]
        if not spans:
            continue
        if kind == "entity":
            snippets.append(mask_for_evidence(text))
        else:
            first = min(spans, key=lambda r: r.start)
            lo, hi = max(0, first.start - 30), min(len(text), first.end + 30)
            pieces, pos = [], lo
            for r in sorted(found, key=lambda r: r.start):
                if r.end <= lo or r.start >= hi:
                    continue
                pieces.append(_mask_plain(text[pos : max(pos, r.start)]))
                pieces.append(f"<{r.entity_type}>")
                pos = max(pos, r.end)
            pieces.append(_mask_plain(text[pos:hi]))
            snippets.append(("…" if lo else "") + "".join(pieces) + ("…" if hi < len(text) else ""))
        if len(snippets) >= SNIPPETS:
            break
    return snippets


def _mask_plain(text: str) -> str:
    # Undetected PII may hide in the surrounding words: digits and capitalised words are masked.
    text = re.sub(r"\d", "#", text)
    return re.sub(r"\b([A-Z])[\w'’-]+", lambda m: m.group(1) + "*" * (len(m.group(0)) - 1), text)
