"""Each test gets its own cache key space (settings point KEY_FUNCTION here under pytest): login failures counted
in a shared Redis by one test never lock out a persona in the next. tests/conftest.py bumps the generation."""

from __future__ import annotations

import uuid

generation = 0
# Unique to this test run: a Redis shared with an earlier run (CI on a developer's machine) holds that run's counts.
RUN = uuid.uuid4().hex[:8]


def make_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}:{version}:{RUN}-t{generation}:{key}"
