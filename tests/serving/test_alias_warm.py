"""Alias moves pushed by the registry's generation number: a moved or first-set alias loads and warms
in the background before any request uses it; requests never pay the load."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework.test import APIClient

from serving.cache import ModelCache
from serving.loader import get_cache, reset_cache
from tests.factories import SHOP_ITEM_IDS, FakeClock, post_rank
from tests.serving.test_cache import Loader, Registry


class GenRegistry(Registry):
    """The cache test's registry plus a generation number that grows on every alias move."""

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0

    def move(self, alias: str, number: int) -> None:
        self.aliases[("shop", alias)] = number
        self.generation += 1

    def refs(self) -> list[tuple[str, str, Any]]:
        return [(m, a, self.ref(n)) for (m, a), n in sorted(self.aliases.items())]


@pytest.fixture
def pushed() -> tuple[ModelCache, GenRegistry, Loader, FakeClock]:
    registry, loader, clock = GenRegistry(), Loader(), FakeClock()
    cache = ModelCache(
        resolve_alias=registry.resolve_alias,
        resolve_version=registry.resolve_version,
        load=loader,
        alias_ttl=2.0,
        max_versions=4,
        clock=clock,
        generation=lambda: registry.generation,
        list_aliases=registry.refs,
        warm_aliases=("production",),
    )
    return cache, registry, loader, clock


def test_a_first_set_production_alias_loads_before_any_request_asks(pushed: Any) -> None:
    cache, registry, loader, _ = pushed
    assert cache.poll(wait=True) is True  # nothing to load yet
    assert loader.calls == []
    registry.move("production", 1)
    registry.move("staging", 2)  # not in warm_aliases: loaded on first use only
    assert cache.poll() is True
    cache.wait_idle()
    assert loader.calls == [1]
    lookups = registry.lookups
    assert cache.get("shop").ref.version == 1  # bound by the sync: no load, no lookup
    assert registry.lookups == lookups and loader.calls == [1]


def test_a_moved_alias_switches_once_warm_without_waiting_for_the_ttl(pushed: Any) -> None:
    cache, registry, loader, clock = pushed
    registry.move("production", 1)
    cache.poll(wait=True)
    cache.wait_idle()
    gate = loader.gates[2] = threading.Event()
    registry.move("production", 2)
    loader.started.clear()
    assert cache.poll() is True
    assert loader.started.wait(5)
    assert [cache.get("shop").ref.version for _ in range(20)] == [1] * 20  # v2 still loading: v1 answers
    gate.set()
    cache.wait_idle()
    assert clock.now == 1000.0  # the clock never moved: the push, not the alias TTL, switched it
    assert cache.get("shop").ref.version == 2
    assert loader.calls == [1, 2]
    assert cache.poll() is False  # nothing new: no second sync


def test_a_request_during_a_first_load_waits_for_that_load_not_a_second(pushed: Any) -> None:
    cache, registry, loader, _ = pushed
    gate = loader.gates[1] = threading.Event()
    registry.move("production", 1)
    cache.poll()
    assert loader.started.wait(5)
    answers: list[int] = []
    waiter = threading.Thread(target=lambda: answers.append(cache.get("shop").ref.version))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # nothing else can answer: it waits
    gate.set()
    waiter.join(5)
    assert answers == [1] and loader.calls == [1]


def test_a_move_to_a_broken_version_keeps_the_old_one_answering(pushed: Any) -> None:
    cache, registry, loader, _ = pushed
    registry.move("production", 1)
    cache.poll(wait=True)
    cache.wait_idle()
    loader.fail.add(3)
    registry.move("production", 3)
    cache.poll()
    cache.wait_idle()
    assert cache.get("shop").ref.version == 1
    assert loader.calls == [1, 3]


def test_without_a_generation_poll_does_nothing() -> None:
    registry, loader = Registry(), Loader()
    cache = ModelCache(resolve_alias=registry.resolve_alias, resolve_version=registry.resolve_version, load=loader)
    assert cache.poll() is False
    cache.start_watcher(0.01)  # no generation to watch: no thread
    assert cache._watcher is None


def test_the_watcher_thread_finds_a_move_on_its_own(pushed: Any) -> None:
    cache, registry, loader, _ = pushed
    cache.start_watcher(0.01)
    try:
        registry.move("production", 1)
        for _ in range(500):
            if loader.calls:
                break
            threading.Event().wait(0.01)
        cache.wait_idle()
        assert loader.calls == [1]
    finally:
        cache.stop_watcher()


# -- through Django: the registry's generation, the move's signal, the real loader ---------------


def _record_loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """(version, loaded on the calling request's thread?) for every load from now on."""
    import serving.loader as loader_module

    real = loader_module.load_version
    main = threading.get_ident()
    loads: list[tuple[int, bool]] = []

    def recording(ref: Any) -> Any:
        loads.append((ref.version, threading.get_ident() == main))
        return real(ref)

    monkeypatch.setattr(loader_module, "load_version", recording)
    return loads


def test_after_an_alias_move_no_request_pays_the_load(
    shop: Any, engineer: APIClient, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    clock = FakeClock()
    reset_cache(clock=clock)
    loads = _record_loads(monkeypatch)
    cache = get_cache()
    cache.poll(wait=True)  # as a gunicorn worker does at start: production v1 loads ahead
    cache.wait_idle()
    assert loads == [(1, False)]
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 1

    polled: list[bool] = []
    monkeypatch.setattr(ModelCache, "poll", lambda self, wait=False: polled.append(wait) or False)
    with django_capture_on_commit_callbacks(execute=True):
        moved = engineer.put("/api/v1/models/shop/aliases/production/", {"version": 2}, format="json")
    assert moved.status_code == 200, moved.content
    assert polled == [False]  # the move's commit told this process's cache at once
    monkeypatch.undo()
    loads = _record_loads(monkeypatch)

    cache.poll(wait=True)  # what that call (or the watcher, in another process) does
    cache.wait_idle()
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 2
    assert loads == [(2, False)]  # loaded once, in the background; the request found it warm
    assert clock.now == 1000.0


def test_a_first_set_alias_of_a_new_model_is_warm_before_its_first_request(
    shop: Any, engineer: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset_cache(clock=FakeClock())
    cache = get_cache()
    cache.poll(wait=True)
    cache.wait_idle()
    shop.add_version("other", "plain")
    shop.set_alias("other", "production", 1)
    loads = _record_loads(monkeypatch)
    cache.poll(wait=True)
    cache.wait_idle()
    resp = post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, model="other")
    assert resp.status_code == 200, resp.content
    assert loads == [(1, False)]
