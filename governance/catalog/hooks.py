"""The catalog's one plug-in mechanism. Apps above the catalog register here in their AppConfig.ready(), so the
catalog imports none of them and each extension point has one home:

- hidden columns: `register_hidden_columns(fn, many=None)`, fn(version, user) -> names of the columns whose raw
  values that user may not see. The rows API, previews, downloads and profiles mask them (shown as MASKED).
  `many(versions, user) -> {version id: names}` gives the same for a list at once (version lists use it).
- lineage node pages: `register_node_url(node_type, fn)`, fn(id) -> the page of a lineage node of that type
  (the training app registers "model_version").
- new versions: `register_version_created(fn)`, fn(version_id=..., actor_id=...) is called after the transaction
  that created a dataset version commits (the privacy app scans every new version).
- profiled versions: `register_version_profiled(fn)`, fn(version_id=..., actor_id=...) is called once a new
  version's profile is done: after the creating transaction commits when it was profiled inline, else when the
  profile job has written it (the quality app checks every new version against its dataset's rules).

Registering the same function twice keeps one entry: tests and management commands may run ready() again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

MASKED = "***"

HiddenColumns = Callable[[Any, Any], set[str]]
NodeUrl = Callable[[int], str]
VersionCreated = Callable[..., None]

_hidden_columns: list[HiddenColumns] = []
_hidden_columns_many: dict[HiddenColumns, Callable[[list[Any], Any], dict[int, set[str]]]] = {}
_node_urls: dict[str, NodeUrl] = {"dataset_version": lambda ident: f"/dataset-versions/{ident}/"}
_version_created: list[VersionCreated] = []
_version_profiled: list[VersionCreated] = []


def register_hidden_columns(
    fn: HiddenColumns, many: Callable[[list[Any], Any], dict[int, set[str]]] | None = None
) -> None:
    if fn not in _hidden_columns:
        _hidden_columns.append(fn)
    if many is not None:
        _hidden_columns_many[fn] = many


def register_node_url(node_type: str, fn: NodeUrl) -> None:
    _node_urls[node_type] = fn


def register_version_created(fn: VersionCreated) -> None:
    if fn not in _version_created:
        _version_created.append(fn)


def register_version_profiled(fn: VersionCreated) -> None:
    if fn not in _version_profiled:
        _version_profiled.append(fn)


def columns_hidden_from(version: Any, user: Any) -> set[str]:
    hidden: set[str] = set()
    for hook in _hidden_columns:
        hidden |= hook(version, user)
    return hidden


def columns_hidden_from_many(versions: list[Any], user: Any) -> dict[int, set[str]]:
    """`columns_hidden_from` of each version (by id), through each hook's batched form where it has one."""
    hidden: dict[int, set[str]] = {v.pk: set() for v in versions}
    for hook in _hidden_columns:
        many = _hidden_columns_many.get(hook)
        found = many(versions, user) if many is not None else {v.pk: hook(v, user) for v in versions}
        for pk, names in found.items():
            hidden[pk] |= names
    return hidden


def node_url(node_type: str, ident: int) -> str:
    maker = _node_urls.get(node_type)
    return maker(ident) if maker else ""


def version_created_on_commit(*, version_id: int, actor_id: int | None) -> None:
    """Tell the listeners once the current transaction commits (never about a version that was rolled back)."""

    def notify() -> None:
        for listener in list(_version_created):
            listener(version_id=version_id, actor_id=actor_id)

    transaction.on_commit(notify)


def version_profiled_on_commit(*, version_id: int, actor_id: int | None) -> None:
    """Tell the listeners that a version's profile is done, once the current transaction commits (at once when
    there is none)."""

    def notify() -> None:
        for listener in list(_version_profiled):
            listener(version_id=version_id, actor_id=actor_id)

    transaction.on_commit(notify)
