"""Seeded generator of Steward's own demo e-commerce data (users, items, interactions).

Pure Python + Faker + pyarrow, no Django, so `make run`, tests and benchmarks can all call it.
The same seed gives byte-identical files: every random draw comes from one `random.Random(seed)`
or one Faker instance seeded with the same value, and no draw depends on today's date.

Behaviour is realistic enough to be learnable: each user prefers one to three categories, sees
items from them more often and clicks them far more often, so a CTR model beats random. About 15 %
of review texts carry personal data (an e-mail address, a phone number, a person's name or a
street address), which is what the PII scan and masking are demonstrated on.

CLI: ``python -m home.demo_data OUT_DIR [--seed 7] [--users 500] ...``
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import math
import os
import random
import string
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
from faker import Faker

USERS_FILE = "users.csv"
ITEMS_FILE = "items.csv"
INTERACTIONS_FILE = "interactions.csv"

# Fixed calendar so the output never depends on the day the generator runs.
_BIRTH_RANGE = (dt.date(1950, 1, 1), dt.date(2006, 12, 31))
_SIGNUP_RANGE = (dt.date(2021, 1, 1), dt.date(2023, 12, 31))
_EVENTS_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_EVENTS_SECONDS = 91 * 24 * 3600  # Q1 2024

PII_REVIEW_SHARE = 0.15


@dataclass(frozen=True)
class _Category:
    name: str
    products: tuple[str, ...]
    brands: tuple[str, ...]
    features: tuple[str, ...]
    price_range: tuple[float, float]


def _load_categories(path: Path) -> tuple[_Category, ...]:
    with path.open("rb") as fh:
        entries = tomllib.load(fh)["category"]
    return tuple(
        _Category(
            name=e["name"],
            products=tuple(e["products"]),
            brands=tuple(e["brands"]),
            features=tuple(e["features"]),
            price_range=(float(e["price_range"][0]), float(e["price_range"][1])),
        )
        for e in entries
    )


# The shop's catalogue is data: categories with their products, brands, selling points and price range.
_CATEGORIES = _load_categories(Path(__file__).with_name("demo_catalogue.toml"))

_TITLE_WORDS = (
    "Classic",
    "Essential",
    "Premium",
    "Everyday",
    "Deluxe",
    "Signature",
    "Original",
    "Select",
    "Plus",
    "Pro",
)
_VARIANTS = ("Black", "White", "Blue", "Grey", "Large", "Small", "2-Pack", "Family Size")

# Non-PII review sentences contain no digits and no '@', so a simple e-mail / phone check on the
# review column finds exactly the PII that was planted.
_REVIEWS_BY_RATING: dict[int, tuple[str, ...]] = {
    5: (
        "Love this {p}!",
        "Excellent {p}, exactly as described.",
        "Best {p} I have owned.",
        "Great quality {p}, would buy again.",
    ),
    4: ("Really good {p} for the price.", "Nice {p}, works well.", "Happy with this {p} overall."),
    3: ("The {p} is okay, nothing special.", "Decent {p} but shipping was slow.", "Average {p}, does the job."),
    2: ("The {p} feels cheap.", "Not impressed with this {p}.", "The {p} stopped working after a week."),
    1: ("Terrible {p}, returning it.", "Do not buy this {p}.", "The {p} arrived broken."),
}

# (kind, weight, template); e-mail and phone dominate, as they do in real support-leaking reviews.
_PII_TEMPLATES: tuple[tuple[str, float, str], ...] = (
    ("email", 0.35, "Email me at {email} if the {p} is back in stock."),
    ("phone", 0.35, "Call me at {phone} about the {p}."),
    ("name", 0.10, "My name is {name} and I use this {p} every day."),
    ("name", 0.10, "Bought the {p} for my friend {other_name}, who loves it."),
    ("address", 0.10, "It was delivered to {street_address}, {city} two days late."),
)

# The three files' columns, in order, with their Arrow types: the one place the files' layout is written.
USERS_SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("street_address", pa.string()),
        ("city", pa.string()),
        ("zip_code", pa.string()),
        ("birth_date", pa.string()),
        ("signup_date", pa.string()),
    ]
)
ITEMS_SCHEMA = pa.schema(
    [
        ("item_id", pa.int64()),
        ("title", pa.string()),
        ("category", pa.string()),
        ("brand", pa.string()),
        ("price", pa.float64()),
        ("description", pa.string()),
    ]
)
INTERACTIONS_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("user_id", pa.int64()),
        ("item_id", pa.int64()),
        ("timestamp", pa.string()),
        ("event", pa.string()),
        ("clicked", pa.int8()),
        ("purchased", pa.int8()),
        ("rating", pa.int8()),
        ("review_text", pa.string()),
    ]
)


@dataclass(frozen=True)
class _User:
    user_id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    street_address: str
    city: str
    zip_code: str
    birth_date: dt.date
    signup_date: dt.date
    affinity: tuple[float, ...]  # per category, added to the click logit
    price_sensitivity: float
    activity: float


@dataclass(frozen=True)
class _Item:
    item_id: int
    title: str
    category: int
    brand: str
    price: float
    description: str
    product: str
    quality: float
    popularity: float


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _email_local(first: str, last: str) -> str:
    keep = set(string.ascii_lowercase)
    return "".join(c for c in f"{first}.{last}".lower() if c in keep or c == ".")


def _make_users(fake: Faker, rng: random.Random, n_users: int) -> list[_User]:
    users: list[_User] = []
    seen_emails: set[str] = set()
    n_categories = len(_CATEGORIES)
    for user_id in range(1, n_users + 1):
        first, last = fake.first_name(), fake.last_name()
        email = f"{_email_local(first, last)}@{fake.free_email_domain()}"
        if email in seen_emails:
            local, domain = email.split("@")
            email = f"{local}{user_id}@{domain}"
        seen_emails.add(email)

        n_preferred = rng.choices((1, 2, 3), weights=(0.3, 0.45, 0.25))[0]
        preferred = rng.sample(range(n_categories), n_preferred)
        affinity = [rng.gauss(-0.6, 0.25) for _ in range(n_categories)]
        for rank, category in enumerate(preferred):
            affinity[category] = rng.gauss(1.5 - 0.3 * rank, 0.25)

        users.append(
            _User(
                user_id=user_id,
                first_name=first,
                last_name=last,
                email=email,
                phone=fake.phone_number(),
                street_address=fake.street_address(),
                city=fake.city(),
                zip_code=fake.zipcode(),
                birth_date=fake.date_between_dates(*_BIRTH_RANGE),
                signup_date=fake.date_between_dates(*_SIGNUP_RANGE),
                affinity=tuple(affinity),
                price_sensitivity=rng.uniform(0.0, 0.6),
                activity=rng.lognormvariate(0.0, 0.8),
            )
        )
    return users


def _make_items(rng: random.Random, n_items: int) -> list[_Item]:
    items: list[_Item] = []
    # Zipf-like popularity over a shuffled rank order, so popular items spread over categories.
    ranks = list(range(1, n_items + 1))
    rng.shuffle(ranks)
    for item_id, rank in zip(range(1, n_items + 1), ranks, strict=True):
        category_index = rng.randrange(len(_CATEGORIES))
        category = _CATEGORIES[category_index]
        product = rng.choice(category.products)
        brand = rng.choice(category.brands)
        title = f"{brand} {rng.choice(_TITLE_WORDS)} {string.capwords(product)}"
        if rng.random() < 0.4:
            title += f", {rng.choice(_VARIANTS)}"
        low, high = category.price_range
        # Log-uniform prices with the familiar .99 ending.
        whole = max(low, round(math.exp(rng.uniform(math.log(low), math.log(high)))))
        price = round(whole - 0.01, 2)
        features = rng.sample(category.features, 2)
        description = f"{string.capwords(product)} from {brand}. {features[0]}. {features[1]}."
        items.append(
            _Item(
                item_id=item_id,
                title=title,
                category=category_index,
                brand=brand,
                price=price,
                description=description,
                product=product,
                quality=rng.gauss(0.0, 0.5),
                popularity=1.0 / rank**0.8,
            )
        )
    return items


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _review_text(rng: random.Random, fake: Faker, user: _User, item: _Item, rating: int) -> str:
    text = rng.choice(_REVIEWS_BY_RATING[rating]).format(p=item.product)
    if rng.random() >= PII_REVIEW_SHARE:
        return text
    weights = [w for _, w, _ in _PII_TEMPLATES]
    _, _, template = rng.choices(_PII_TEMPLATES, weights=weights)[0]
    pii = template.format(
        p=item.product,
        email=user.email,
        phone=user.phone,
        name=f"{user.first_name} {user.last_name}",
        other_name=fake.name(),
        street_address=user.street_address,
        city=user.city,
    )
    return f"{text} {pii}"


def _make_interactions(
    fake: Faker,
    rng: random.Random,
    users: list[_User],
    items: list[_Item],
    n_interactions: int,
) -> list[tuple]:
    n_categories = len(_CATEGORIES)
    by_category: list[list[_Item]] = [[] for _ in range(n_categories)]
    for item in items:
        by_category[item.category].append(item)
    category_cum = [_cumulative([it.popularity for it in pool]) for pool in by_category]
    all_cum = _cumulative([it.popularity for it in items])
    user_cum = _cumulative([u.activity for u in users])
    median_log_price = sorted(math.log(it.price) for it in items)[len(items) // 2]

    rows: list[tuple] = []
    for _ in range(n_interactions):
        user = users[bisect.bisect_left(user_cum, rng.random() * user_cum[-1])]
        # Recommenders and browsing both skew exposure toward what the user already likes.
        if rng.random() < 0.5:
            category_weights = [math.exp(a) if by_category[c] else 0.0 for c, a in enumerate(user.affinity)]
            category = rng.choices(range(n_categories), weights=category_weights)[0]
            pool, cum = by_category[category], category_cum[category]
        else:
            pool, cum = items, all_cum
        item = pool[min(bisect.bisect_left(cum, rng.random() * cum[-1]), len(pool) - 1)]

        price_term = -user.price_sensitivity * (math.log(item.price) - median_log_price)
        affinity = user.affinity[item.category]
        clicked = rng.random() < _sigmoid(-2.0 + affinity + item.quality + price_term)
        purchased = clicked and rng.random() < _sigmoid(-1.2 + 0.5 * affinity + item.quality + 2.0 * price_term)
        rating: int | None = None
        review: str | None = None
        if purchased and rng.random() < 0.75:
            score = 3.1 + 1.4 * item.quality + 0.4 * affinity + rng.gauss(0.0, 0.9)
            rating = min(5, max(1, round(score)))
            if rng.random() < 0.7:
                review = _review_text(rng, fake, user, item, rating)
        event = "purchase" if purchased else "click" if clicked else "view"
        seconds = rng.randrange(_EVENTS_SECONDS)
        rows.append((seconds, user.user_id, item.item_id, event, int(clicked), int(purchased), rating, review))

    # Sorted by time (ties by draw order, which is deterministic) so event ids follow the clock.
    rows.sort(key=lambda r: r[0])
    return rows


def _iso_timestamp(seconds: int) -> str:
    return (_EVENTS_START + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(schema: pa.Schema, rows: list[tuple]) -> pa.Table:
    """Rows (one tuple a row, in the schema's column order) as a table of that schema."""
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, field.type) for col, field in zip(columns, schema, strict=True)], schema=schema
    )


def _write_csv(table: pa.Table, path: Path) -> None:
    # Write beside the target and rename, so a reader never sees a half-written file.
    tmp = path.with_name(f".{path.name}.tmp")
    pa_csv.write_csv(table, tmp, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    os.replace(tmp, path)


def write_demo_data(
    out_dir: Path,
    *,
    seed: int = 7,
    n_users: int = 500,
    n_items: int = 300,
    n_interactions: int = 20000,
) -> dict[str, Path]:
    """Write users.csv, items.csv and interactions.csv into out_dir; return their paths by kind."""
    for label, value in (("n_users", n_users), ("n_items", n_items), ("n_interactions", n_interactions)):
        if value < 1:
            raise ValueError(f"{label} must be at least 1, got {value}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)

    users = _make_users(fake, rng, n_users)
    items = _make_items(rng, n_items)
    rows = _make_interactions(fake, rng, users, items, n_interactions)

    users_table = _table(
        USERS_SCHEMA,
        [
            (
                u.user_id,
                f"{u.first_name} {u.last_name}",
                u.email,
                u.phone,
                u.street_address,
                u.city,
                u.zip_code,
                u.birth_date.isoformat(),
                u.signup_date.isoformat(),
            )
            for u in users
        ],
    )
    items_table = _table(
        ITEMS_SCHEMA,
        [(it.item_id, it.title, _CATEGORIES[it.category].name, it.brand, it.price, it.description) for it in items],
    )
    interactions_table = _table(
        INTERACTIONS_SCHEMA,
        [(event_id, r[1], r[2], _iso_timestamp(r[0]), *r[3:]) for event_id, r in enumerate(rows, start=1)],
    )

    paths = {}
    for kind, name, table in (
        ("users", USERS_FILE, users_table),
        ("items", ITEMS_FILE, items_table),
        ("interactions", INTERACTIONS_FILE, interactions_table),
    ):
        paths[kind] = out_dir / name
        _write_csv(table, paths[kind])
    return paths


SEARCH_LOG_FILE = "search_log.csv"
SEARCH_LOG_COLUMNS = ("search_id", "timestamp", "query", "item_id", "title", "position", "clicked")
_QUERY_TEMPLATES = (
    (0.35, "{product}"),
    (0.15, "{brand} {product}"),
    (0.10, "cheap {product}"),
    (0.10, "best {product}"),
    (0.08, "{product} {variant}"),
    (0.07, "{feature} {product}"),
    (0.08, "{category}"),
    (0.07, "gift {category}"),
)


def write_search_log(
    out_dir: Path,
    *,
    seed: int = 7,
    n_users: int = 500,
    n_items: int = 300,
    n_searches: int = 3000,
    page_size: int = 10,
) -> Path:
    """Write search_log.csv: one row per item shown for a query (query text, item, position 1..page_size, clicked,
    timestamp), over the same catalogue as write_demo_data with the same seed and sizes.

    A search looks for one product (or a category); the engine ranks the catalogue by a noisy match score, so most
    results fit the query and some do not. Clicks follow relevance and fall with position (position bias), so the
    log holds real query-item pairs worth judging for relevance. Draws for the log come from their own random
    stream, so the other three files are byte-identical with or without it.
    """
    if n_searches < 1 or page_size < 1:
        raise ValueError("n_searches and page_size must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    _make_users(fake, rng, n_users)  # the same draws as write_demo_data, so the items below are the demo's
    items = _make_items(rng, n_items)
    srng = random.Random(f"search-log-{seed}")
    popularity = _cumulative([it.popularity for it in items])
    weights = [w for w, _ in _QUERY_TEMPLATES]
    rows: list[tuple] = []
    for search_id in range(1, n_searches + 1):
        target = items[min(bisect.bisect_left(popularity, srng.random() * popularity[-1]), len(items) - 1)]
        category = _CATEGORIES[target.category]
        template = srng.choices(_QUERY_TEMPLATES, weights=weights)[0][1]
        query = template.format(
            product=target.product,
            brand=target.brand,
            variant=srng.choice(_VARIANTS).lower(),
            feature=srng.choice(("wireless", "large", "small", "portable", "organic", "durable")),
            category=category.name.lower(),
        )
        by_category = "{category}" in template

        def grade(item: _Item, by_category: bool = by_category, target: _Item = target) -> int:
            if item.category != target.category:
                return 0
            if by_category or item.product == target.product:
                return 3 if item.brand == target.brand or by_category else 2
            return 1

        ranked = sorted(items, key=lambda it: -(grade(it) + srng.gauss(0.0, 0.9) + 0.3 * it.quality))[:page_size]
        seconds = srng.randrange(_EVENTS_SECONDS)
        for position, item in enumerate(ranked, start=1):
            p_click = _sigmoid(-2.6 + 1.1 * grade(item) + item.quality) / math.log2(position + 1)
            rows.append((seconds, search_id, query, item.item_id, item.title, position, int(srng.random() < p_click)))
    rows.sort(key=lambda r: (r[0], r[1], r[5]))
    # Search ids follow the clock, as event ids do in the interactions file.
    renumber: dict[int, int] = {}
    for r in rows:
        renumber.setdefault(r[1], len(renumber) + 1)
    table = pa.table(
        {
            "search_id": pa.array([renumber[r[1]] for r in rows], pa.int64()),
            "timestamp": [_iso_timestamp(r[0]) for r in rows],
            "query": [r[2] for r in rows],
            "item_id": pa.array([r[3] for r in rows], pa.int64()),
            "title": [r[4] for r in rows],
            "position": pa.array([r[5] for r in rows], pa.int8()),
            "clicked": pa.array([r[6] for r in rows], pa.int8()),
        }
    )
    path = out_dir / SEARCH_LOG_FILE
    _write_csv(table, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m home.demo_data",
        description="Write Steward's seeded demo e-commerce data as three CSV files.",
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--interactions", type=int, default=20000)
    args = parser.parse_args(argv)
    try:
        paths = write_demo_data(
            args.out_dir,
            seed=args.seed,
            n_users=args.users,
            n_items=args.items,
            n_interactions=args.interactions,
        )
    except ValueError as exc:
        parser.error(str(exc))
    for kind, path in paths.items():
        print(f"{kind}: {path}")  # noqa: T201  (command-line use)
    return 0


if __name__ == "__main__":
    sys.exit(main())
