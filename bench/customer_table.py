"""A seeded synthetic customer table for the PII benchmarks (the project's own data).

Columns: name, email, phone, street_address, review (free text; about 20 % of reviews mention
a name, an e-mail, a phone number or an address), price, category. ``truth`` says, per review,
whether it carries PII, so detection can be scored cell by cell.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

CATEGORIES = ["kitchen", "garden", "toys", "books", "electronics", "beauty", "sports", "home", "pets", "office"]
PRODUCTS = [
    "blender",
    "kettle",
    "toaster",
    "lamp",
    "backpack",
    "drill",
    "novel",
    "headphones",
    "mixer",
    "vacuum",
    "phone case",
    "yoga mat",
    "desk chair",
    "water bottle",
    "board game",
    "scarf",
    "coffee grinder",
    "air fryer",
    "monitor",
    "keyboard",
    "tent",
    "dog bed",
    "candle",
    "mug",
]
OPENERS = [
    "I bought this {p} for my {who}",
    "Ordered the {p} last {when}",
    "This {p} is {adj}",
    "Honestly the {p} was {adj}",
    "We use the {p} every day",
    "Got the {p} as a gift",
    "After two weeks with this {p}",
    "The {p} arrived {speed}",
    "Second {p} from this shop",
]
MIDDLES = [
    "and it works {adv} well",
    "but the lid feels {adj2}",
    "the colour is exactly as pictured",
    "setup took {n} minutes",
    "the battery lasts about {n} hours",
    "packaging was {adj2}",
    "it is a bit louder than expected",
    "customer service answered within a day",
    "the instructions could be clearer",
    "quality is {adj} for the price",
    "it stopped working after {n} days",
    "my {who} loves it",
    "would buy again",
    "not worth {n} dollars",
]
CLOSERS = [
    "Five stars.",
    "Recommended.",
    "Would not buy again.",
    "Three stars for now.",
    "Happy overall.",
    "Returning it.",
    "Great value.",
    "Meh.",
    "Love it!",
    "Solid purchase.",
]
WORDS = {
    "who": ["son", "daughter", "wife", "husband", "mother", "father", "office", "kitchen", "friend", "team"],
    "when": ["week", "month", "Tuesday", "spring", "year", "weekend"],
    "adj": ["great", "fine", "excellent", "disappointing", "okay", "sturdy", "flimsy", "perfect", "decent"],
    "adj2": ["cheap", "solid", "fragile", "nice", "damaged", "premium", "thin"],
    "adv": ["really", "surprisingly", "pretty", "very", "quite"],
    "speed": ["quickly", "late", "on time", "a day early", "damaged"],
}
PII_SENTENCES = [
    "Please contact me at {email} about the refund.",
    "Call me on {phone} if there is a problem with the delivery.",
    "It was delivered to {address} instead of my home.",
    "My neighbour {name} recommended this shop.",
    "Send the replacement to {name}, {address}.",
    "{name} from support was very helpful, thanks!",
    "You can reach me at {phone} or {email}.",
]


def generate(rows: int, *, seed: int = 0, pii_share: float = 0.2) -> tuple[pa.Table, np.ndarray]:
    """The table and a boolean array: does review i carry PII."""
    from faker import Faker

    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    people = max(1000, rows // 5)
    names = [fake.name() for _ in range(people)]
    emails = [
        f"{n.lower().replace(' ', '.').replace('..', '.')}{i % 97}@{fake.free_email_domain()}"
        for i, n in enumerate(names)
    ]
    phones = [fake.phone_number() for _ in range(people)]
    addresses = [fake.street_address() for _ in range(people)]
    who = rng.integers(0, people, rows)
    has_pii = rng.random(rows) < pii_share
    reviews = []
    for i in range(rows):
        parts = [_fill(OPENERS, rng) + ", " + _fill(MIDDLES, rng) + ".", CLOSERS[rng.integers(len(CLOSERS))]]
        if has_pii[i]:
            j = int(rng.integers(people))
            sentence = PII_SENTENCES[rng.integers(len(PII_SENTENCES))].format(
                email=emails[j], phone=phones[j], address=addresses[j], name=names[j]
            )
            parts.insert(int(rng.integers(0, 2)) + 1, sentence)
        reviews.append(" ".join(parts))
    table = pa.table(
        {
            "name": [names[k] for k in who],
            "email": [emails[k] for k in who],
            "phone": [phones[k] for k in who],
            "street_address": [addresses[k] for k in who],
            "review": reviews,
            "price": np.round(rng.gamma(2.0, 15.0, rows) + 0.99, 2),
            "category": [CATEGORIES[k] for k in rng.integers(0, len(CATEGORIES), rows)],
        }
    )
    return table, has_pii


def _fill(templates: list[str], rng: np.random.Generator) -> str:
    text = templates[rng.integers(len(templates))]
    values = {k: v[rng.integers(len(v))] for k, v in WORDS.items()}
    values["p"] = PRODUCTS[rng.integers(len(PRODUCTS))]
    values["n"] = str(int(rng.integers(2, 60)))
    return text.format(**values)
