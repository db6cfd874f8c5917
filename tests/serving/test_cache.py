"""The model cache on its own: a registry held in a dict, loads that block until released."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from core.errors import NotFound
from serving.cache import ModelCache, VersionRef
from tests.factories import FakeClock


@dataclass
class Loaded:
    ref: VersionRef


class Registry:
    def __init__(self) -> None:
        self.aliases: dict[tuple[str, str], int] = {}
        self.lookups = 0

    def ref(self, number: int) -> VersionRef:
        return VersionRef(pk=100 + number, model="shop", version=number, artifact=f"/nowhere/{number}")

    def resolve_alias(self, model: str, alias: str) -> VersionRef:
        self.lookups += 1
        if (model, alias) not in self.aliases:
            raise NotFound(f"no alias {alias}")
        return self.ref(self.aliases[(model, alias)])

    def resolve_version(self, model: str, number: int) -> VersionRef:
        if model != "shop" or number > 9:
            raise NotFound("no such version")
        return self.ref(number)


class Loader:
    """Loads instantly, except versions in `gates`, which wait for their event; `fail` raises."""

    def __init__(self) -> None:
        self.gates: dict[int, threading.Event] = {}
        self.fail: set[int] = set()
        self.calls: list[int] = []
        self.started = threading.Event()

    def __call__(self, ref: VersionRef) -> Loaded:
        self.calls.append(ref.version)
        self.started.set()
        gate = self.gates.get(ref.version)
        if gate is not None:
            assert gate.wait(10)
        if ref.version in self.fail:
            raise RuntimeError("artifact is broken")
        return Loaded(ref)


@pytest.fixture
def setup() -> tuple[ModelCache, Registry, Loader, FakeClock]:
    registry, loader, clock = Registry(), Loader(), FakeClock()
    registry.aliases[("shop", "production")] = 1
    cache = ModelCache(
        resolve_alias=registry.resolve_alias,
        resolve_version=registry.resolve_version,
        load=loader,
        alias_ttl=2.0,
        max_versions=2,
        retry_after=30.0,
        clock=clock,
    )
    return cache, registry, loader, clock


def test_alias_lookups_are_cached_for_the_ttl(setup: Any) -> None:
    cache, registry, loader, clock = setup
    for _ in range(50):
        assert cache.get("shop").ref.version == 1
    assert registry.lookups == 1
    clock.now += 2.5
    cache.get("shop")
    assert registry.lookups == 2
    assert loader.calls == [1]


def test_moved_alias_switches_after_the_new_version_loads_and_never_fails_meanwhile(setup: Any) -> None:
    cache, registry, loader, clock = setup
    assert cache.get("shop").ref.version == 1
    gate = loader.gates[2] = threading.Event()
    registry.aliases[("shop", "production")] = 2
    clock.now += 2.5
    loader.started.clear()
    answered = [cache.get("shop").ref.version for _ in range(20)]  # the load runs in the background
    assert loader.started.wait(5)
    answered += [cache.get("shop").ref.version for _ in range(20)]
    assert answered == [1] * 40
    gate.set()
    cache.wait_idle()
    assert cache.get("shop").ref.version == 2
    assert loader.calls == [1, 2]


def test_a_version_that_fails_to_load_leaves_the_old_one_answering_and_is_retried_later(setup: Any) -> None:
    cache, registry, loader, clock = setup
    cache.get("shop")
    loader.fail.add(2)
    registry.aliases[("shop", "production")] = 2
    clock.now += 2.5
    assert cache.get("shop").ref.version == 1
    cache.wait_idle()
    clock.now += 2.5
    assert cache.get("shop").ref.version == 1
    assert loader.calls == [1, 2]  # not retried before retry_after
    loader.fail.clear()
    clock.now += 31
    cache.get("shop")
    cache.wait_idle()
    assert cache.get("shop").ref.version == 2
    assert loader.calls == [1, 2, 2]


def test_unknown_alias_or_version_is_not_found(setup: Any) -> None:
    cache, _, loader, _ = setup
    with pytest.raises(NotFound):
        cache.get("shop", alias="staging")
    with pytest.raises(NotFound):
        cache.get("shop", version=42)
    assert loader.calls == []


def test_a_removed_alias_stops_answering_after_the_ttl(setup: Any) -> None:
    cache, registry, _, clock = setup
    cache.get("shop")
    del registry.aliases[("shop", "production")]
    clock.now += 2.5
    with pytest.raises(NotFound):
        cache.get("shop")


def test_explicit_versions_load_once_and_the_oldest_unpinned_is_evicted(setup: Any) -> None:
    cache, _, loader, _ = setup
    cache.get("shop")  # v1, pinned by production
    assert cache.get("shop", version=3).ref.version == 3
    assert cache.get("shop", version=3).ref.version == 3
    cache.get("shop", version=4)  # over max_versions=2: v3 goes, v1 stays (pinned)
    assert sorted(r.version for r in cache.loaded_versions()) == [1, 4]
    assert loader.calls == [1, 3, 4]


def test_concurrent_first_requests_share_one_load(setup: Any) -> None:
    cache, _, loader, _ = setup
    gate = loader.gates[1] = threading.Event()
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("shop").ref.version)) for _ in range(4)]
    for t in threads:
        t.start()
    assert loader.started.wait(5)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == [1, 1, 1, 1]
    assert loader.calls == [1]


@pytest.mark.django_db
def test_warm_up_loads_what_production_points_to_for_every_model(shop: Any, registry: Any) -> None:
    from serving.loader import get_cache, warm_up

    registry.add_version("other", "plain")
    registry.set_alias("other", "staging", 1)  # not warmed: only production is
    assert warm_up() == ["shop@production"]
    assert [(r.model, r.version) for r in get_cache().loaded_versions()] == [("shop", 1)]


def test_a_broken_version_is_not_reloaded_on_every_request(setup: Any) -> None:
    cache, _, loader, clock = setup
    loader.fail.add(3)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="broken"):
            cache.get("shop", version=3)
    assert loader.calls == [3]
    clock.now += 31
    loader.fail.clear()
    assert cache.get("shop", version=3).ref.version == 3
    assert loader.calls == [3, 3]


@pytest.mark.django_db
def test_a_model_without_an_item_column_is_refused_with_409(
    registry: Any, trained: Any, api_as: Any, tmp_path: Any
) -> None:
    import json
    import shutil

    path, result = trained["plain"]
    copy = tmp_path / "no-items"
    shutil.copytree(path, copy)
    spec = json.loads((copy / "feature_spec.json").read_text())
    spec["item_column"] = None
    spec["categorical_columns"] = [*spec["categorical_columns"], "item_id"]  # the same head, no item role
    (copy / "feature_spec.json").write_text(json.dumps(spec))
    registry.trained["no-items"] = (copy, result)
    registry.add_version("flat", "no-items")
    registry.set_alias("flat", "production", 1)
    resp = api_as("ml_engineer").post("/api/v1/serving/flat/rank/", {"candidates": ["i1"]}, format="json")
    assert resp.status_code == 409
    assert "without an item column" in resp.json()["detail"]
