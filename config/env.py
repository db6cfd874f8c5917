"""Strict helpers for reading settings from environment variables: bad values fail loudly at start-up."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_map(name: str, default: dict[str, int], *, minimum: int | None = None) -> dict[str, int]:
    """`key=int,key=int` (e.g. `training=2,pii_scan=4`)."""
    result = dict(default)
    for item in env_list(name, []):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ImproperlyConfigured(f"{name} must be key=integer pairs separated by commas, got {item!r}")
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {key.strip()} must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{name}: {key.strip()} must be >= {minimum}, got {value}")
        result[key.strip()] = value
    return result
