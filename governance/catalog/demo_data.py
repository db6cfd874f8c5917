"""Seeded generator of Steward's own demo e-commerce data (users, items, interactions).

Pure Python + Faker + pyarrow, no Django, so `make run`, tests and benchmarks can all call it.
The same seed gives byte-identical files: every random draw comes from one `random.Random(seed)`
or one Faker instance seeded with the same value, and no draw depends on today's date.

Behaviour is realistic enough to be learnable: each user prefers one to three categories, sees
items from them more often and clicks them far more often, so a CTR model beats random. About 15 %
of review texts carry personal data (an e-mail address, a phone number, a person's name or a
street address), which is what the PII scan and masking are demonstrated on.

CLI: ``python -m governance.catalog.demo_data OUT_DIR [--seed 7] [--users 500] ...``
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


_CATEGORIES: tuple[_Category, ...] = (
    _Category(
        "Electronics",
        (
            "headphones",
            "bluetooth speaker",
            "smartwatch",
            "phone charger",
            "webcam",
            "keyboard",
            "wireless mouse",
            "tablet case",
            "e-reader",
            "power bank",
        ),
        ("Voltix", "Sonaro", "Nexora", "Pixelon", "Ampere Labs"),
        (
            "Long battery life",
            "Fast USB-C charging",
            "Bluetooth 5.3 connectivity",
            "Lightweight and portable design",
            "Includes a two-year warranty",
        ),
        (15.0, 300.0),
    ),
    _Category(
        "Home & Kitchen",
        (
            "blender",
            "coffee maker",
            "chef's knife",
            "cutting board",
            "air fryer",
            "toaster",
            "saucepan",
            "kettle",
            "mixing bowl set",
            "food storage set",
        ),
        ("Kitchora", "Homely", "CasaVerde", "Brava", "Oakhearth"),
        ("Dishwasher safe", "BPA-free materials", "Stainless steel finish", "Easy to clean", "Fits small kitchens"),
        (10.0, 200.0),
    ),
    _Category(
        "Books",
        (
            "cookbook",
            "mystery novel",
            "travel guide",
            "biography",
            "science fiction novel",
            "children's picture book",
            "history book",
            "poetry collection",
            "self-help book",
            "graphic novel",
        ),
        ("Lantern Press", "Northwind Books", "Redleaf", "Bluequill", "Harborlight"),
        (
            "Paperback edition",
            "Bestselling author",
            "Illustrated throughout",
            "Perfect as a gift",
            "Includes a reading guide",
        ),
        (6.0, 40.0),
    ),
    _Category(
        "Sports & Outdoors",
        (
            "yoga mat",
            "running shoes",
            "water bottle",
            "camping tent",
            "hiking backpack",
            "resistance bands",
            "dumbbell set",
            "bike helmet",
            "sleeping bag",
            "jump rope",
        ),
        ("Trailpeak", "Stridex", "Summitco", "Flexa", "Northridge"),
        ("Weather resistant", "Breathable materials", "Built for daily training", "Packs down small", "Non-slip grip"),
        (8.0, 250.0),
    ),
    _Category(
        "Beauty",
        (
            "face moisturizer",
            "shampoo",
            "lip balm",
            "sunscreen",
            "hair dryer",
            "perfume",
            "nail polish set",
            "facial cleanser",
            "body lotion",
            "makeup brush set",
        ),
        ("Lumiere", "Velvetine", "Aurabloom", "Purely", "Glowra"),
        (
            "Dermatologist tested",
            "Fragrance free",
            "Cruelty free",
            "Suitable for sensitive skin",
            "Travel size available",
        ),
        (5.0, 90.0),
    ),
    _Category(
        "Toys & Games",
        (
            "building blocks set",
            "board game",
            "jigsaw puzzle",
            "plush bear",
            "remote control car",
            "card game",
            "doll house",
            "science kit",
            "water blaster",
            "wooden train set",
        ),
        ("Playwell", "Tinkertown", "Bricko", "Jollyjam", "Funforge"),
        (
            "Ages three and up",
            "Fun for the whole family",
            "Encourages creative play",
            "Batteries included",
            "Made from sustainable wood",
        ),
        (8.0, 120.0),
    ),
    _Category(
        "Clothing",
        (
            "t-shirt",
            "hoodie",
            "jeans",
            "rain jacket",
            "wool socks",
            "sneakers",
            "sun hat",
            "leggings",
            "flannel shirt",
            "winter scarf",
        ),
        ("Threadly", "Urbanfold", "Cottonway", "Northloom", "Basico"),
        ("Machine washable", "Organic cotton", "Relaxed fit", "Available in many colors", "True to size"),
        (8.0, 150.0),
    ),
    _Category(
        "Grocery",
        (
            "ground coffee",
            "green tea",
            "olive oil",
            "dark chocolate",
            "granola",
            "pasta sauce",
            "honey",
            "trail mix",
            "protein bars",
            "sparkling water",
        ),
        ("Farmstead", "GoodGrain", "Sunny Acres", "Pantry & Co", "Wildroot"),
        ("Certified organic", "No added sugar", "Family size pack", "Sourced from small farms", "Resealable packaging"),
        (3.0, 30.0),
    ),
    _Category(
        "Pet Supplies",
        (
            "dog food",
            "cat litter",
            "chew toy",
            "pet bed",
            "cat scratching post",
            "dog leash",
            "fish food",
            "bird feeder",
            "pet shampoo",
            "cat treats",
        ),
        ("Pawsome", "Furbrook", "Tailwind Pets", "Whiskerly", "Barkside"),
        (
            "Vet recommended",
            "Grain free recipe",
            "Durable for heavy chewers",
            "Machine washable cover",
            "Gentle on sensitive skin",
        ),
        (4.0, 80.0),
    ),
    _Category(
        "Garden",
        (
            "garden hose",
            "pruning shears",
            "seed starter kit",
            "planter pot",
            "watering can",
            "garden gloves",
            "compost bin",
            "solar path lights",
            "bird bath",
            "lawn sprinkler",
        ),
        ("Greenthumb", "Bloomfield", "Rootwise", "Petalworks", "Yardcraft"),
        ("Rust resistant", "UV protected", "Easy assembly", "Ergonomic handles", "Built for all seasons"),
        (6.0, 120.0),
    ),
)

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

USERS_COLUMNS = ("user_id", "name", "email", "phone", "street_address", "city", "zip_code", "birth_date", "signup_date")
ITEMS_COLUMNS = ("item_id", "title", "category", "brand", "price", "description")
INTERACTIONS_COLUMNS = (
    "event_id",
    "user_id",
    "item_id",
    "timestamp",
    "event",
    "clicked",
    "purchased",
    "rating",
    "review_text",
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

    users_table = pa.table(
        {
            "user_id": pa.array([u.user_id for u in users], pa.int64()),
            "name": [f"{u.first_name} {u.last_name}" for u in users],
            "email": [u.email for u in users],
            "phone": [u.phone for u in users],
            "street_address": [u.street_address for u in users],
            "city": [u.city for u in users],
            "zip_code": [u.zip_code for u in users],
            "birth_date": [u.birth_date.isoformat() for u in users],
            "signup_date": [u.signup_date.isoformat() for u in users],
        }
    )
    items_table = pa.table(
        {
            "item_id": pa.array([it.item_id for it in items], pa.int64()),
            "title": [it.title for it in items],
            "category": [_CATEGORIES[it.category].name for it in items],
            "brand": [it.brand for it in items],
            "price": pa.array([it.price for it in items], pa.float64()),
            "description": [it.description for it in items],
        }
    )
    interactions_table = pa.table(
        {
            "event_id": pa.array(range(1, len(rows) + 1), pa.int64()),
            "user_id": pa.array([r[1] for r in rows], pa.int64()),
            "item_id": pa.array([r[2] for r in rows], pa.int64()),
            "timestamp": [_iso_timestamp(r[0]) for r in rows],
            "event": [r[3] for r in rows],
            "clicked": pa.array([r[4] for r in rows], pa.int8()),
            "purchased": pa.array([r[5] for r in rows], pa.int8()),
            "rating": pa.array([r[6] for r in rows], pa.int8()),
            "review_text": pa.array([r[7] for r in rows], pa.string()),
        }
    )

    paths = {
        "users": out_dir / USERS_FILE,
        "items": out_dir / ITEMS_FILE,
        "interactions": out_dir / INTERACTIONS_FILE,
    }
    _write_csv(users_table, paths["users"])
    _write_csv(items_table, paths["items"])
    _write_csv(interactions_table, paths["interactions"])
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
        prog="python -m governance.catalog.demo_data",
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
