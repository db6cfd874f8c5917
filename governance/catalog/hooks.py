"""Extension points other governance apps fill in at start-up (AppConfig.ready), so the catalog imports none of them.

- hidden_columns: functions (version, user) -> set of column names whose raw values that user may not see.
  The rows API, previews and profiles mask those columns.
- mask_value: how a hidden cell is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

hidden_columns: list[Callable[[Any, Any], set[str]]] = []
MASKED = "***"


def columns_hidden_from(version: Any, user: Any) -> set[str]:
    hidden: set[str] = set()
    for hook in hidden_columns:
        hidden |= hook(version, user)
    return hidden


# Page links for lineage nodes by type, e.g. the training app registers "model_version".
node_urls: dict[str, Callable[[int], str]] = {
    "dataset_version": lambda ident: f"/dataset-versions/{ident}/",
}


def node_url(node_type: str, ident: int) -> str:
    maker = node_urls.get(node_type)
    return maker(ident) if maker else ""
