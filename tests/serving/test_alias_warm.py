"""Alias moves pushed by the registry's generation number: a moved or first-set alias loads and warms
in the background before any request uses it; requests never pay the load."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from serving.cache import ModelCache, VersionRef
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


def _record_loads_with_alias(monkeypatch: pytest.MonkeyPatch, model: str) -> list[tuple[int, bool]]:
    """(version, whether `model`'s production alias existed yet) for every load from now on."""
    import serving.loader as loader_module
    from training.models import ModelAlias

    real = loader_module.load_version
    loads: list[tuple[int, bool]] = []

    def recording(ref: Any) -> Any:
        loads.append((ref.version, ModelAlias.objects.filter(model__name=model, name="production").exists()))
        return real(ref)

    monkeypatch.setattr(loader_module, "load_version", recording)
    return loads


def test_a_first_set_alias_of_a_new_model_is_warm_before_its_first_request(
    shop: Any, engineer: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset_cache(clock=FakeClock())
    cache = get_cache()
    cache.poll(wait=True)
    cache.wait_idle()
    shop.add_version("other", "plain")
    loads = _record_loads_with_alias(monkeypatch, "other")
    shop.set_alias("other", "production", 1)
    assert loads == [(1, False)]  # loaded and warmed before the move was written
    cache.poll(wait=True)
    cache.wait_idle()
    resp = post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, model="other")
    assert resp.status_code == 200, resp.content
    assert loads == [(1, False)]  # neither the sync nor the first request loaded it again


def test_a_first_set_through_the_api_is_warm_in_this_process_before_the_put_answers(
    shop: Any, engineer: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset_cache(clock=FakeClock())
    get_cache().poll(wait=True)
    shop.add_version("other", "plain")
    loads = _record_loads_with_alias(monkeypatch, "other")
    moved = engineer.put("/api/v1/models/other/aliases/production/", {"version": 1}, format="json")
    assert moved.status_code == 200, moved.content
    assert loads == [(1, False)]
    warm = moved.json()["warm"]  # in the test's transaction: no other process could see the request
    assert warm == {"processes": 1, "warmed": 1, "waited_ms": warm["waited_ms"], "timed_out": False}
    assert engineer.put("/api/v1/models/shop/aliases/production/", {"version": 2}, format="json").json()["warm"] is None
    assert any(ref.model == "other" for ref in get_cache().loaded_versions())
    main = threading.get_ident()
    request_loads = _record_loads(monkeypatch)
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, model="other").status_code == 200
    assert request_loads == [] and threading.get_ident() == main


def test_a_moved_alias_does_not_wait_for_a_warm_request(shop: Any) -> None:
    from serving.models import WarmRequest

    before = WarmRequest.objects.count()  # the fixture's first production of "shop" made one
    shop.set_alias("shop", "production", 2)  # v1 answers while serving loads v2: nothing to wait for
    shop.set_alias("shop", "staging", 1)  # not an alias loaded ahead
    assert WarmRequest.objects.count() == before == 1


# -- the watcher's side: warm requests read, loaded, reported ---------------------------------------


def test_the_watcher_loads_a_requested_version_then_reports_it_and_the_alias_binds_without_a_load(
    pushed: Any,
) -> None:
    registry, loader = pushed[1], pushed[2]
    requests: list[tuple[int, VersionRef]] = []
    reported: list[list[int]] = []

    def warm_requests(handled: Any) -> list[tuple[int, VersionRef]]:
        return [(pk, ref) for pk, ref in requests if pk not in handled]

    cache = ModelCache(
        resolve_alias=registry.resolve_alias,
        resolve_version=registry.resolve_version,
        load=loader,
        generation=lambda: registry.generation,
        list_aliases=registry.refs,
        warm_requests=warm_requests,
        report_warm=reported.append,
        heartbeat_s=3600,
    )
    assert cache.poll_warm() is False and reported == [[]]  # alive, nothing asked
    requests.append((7, registry.ref(1)))
    assert cache.poll_warm() is True
    assert loader.calls == [1] and reported == [[], [7]]
    assert cache.poll_warm() is False and reported == [[], [7]]  # nothing new, heartbeat not due
    registry.move("production", 1)  # the mover writes the alias once every process reported
    cache.poll(wait=True)
    cache.wait_idle()
    assert cache.get("shop").ref.version == 1
    assert loader.calls == [1]


def test_a_requested_version_that_fails_to_load_is_still_reported_handled(pushed: Any) -> None:
    registry, loader = pushed[1], pushed[2]
    loader.fail.add(2)
    reported: list[list[int]] = []
    cache = ModelCache(
        resolve_alias=registry.resolve_alias,
        resolve_version=registry.resolve_version,
        load=loader,
        warm_requests=lambda handled: [] if 3 in handled else [(3, registry.ref(2))],
        report_warm=reported.append,
    )
    cache.poll_warm()
    cache.poll_warm()
    assert loader.calls == [2] and reported == [[3]]


def test_a_request_committed_after_a_newer_one_was_handled_is_still_loaded_and_reported(pushed: Any) -> None:
    registry, loader = pushed[1], pushed[2]
    visible: list[tuple[int, VersionRef]] = [(9, registry.ref(1))]
    reported: list[list[int]] = []
    cache = ModelCache(
        resolve_alias=registry.resolve_alias,
        resolve_version=registry.resolve_version,
        load=loader,
        warm_requests=lambda handled: [(pk, ref) for pk, ref in visible if pk not in handled],
        report_warm=reported.append,
        heartbeat_s=3600,
    )
    assert cache.poll_warm() is True and reported == [[9]]
    visible.insert(0, (8, registry.ref(2)))  # a mover's request 8 commits after 9 was read
    assert cache.poll_warm() is True
    assert loader.calls == [1, 2] and reported == [[9], [9, 8]]


def test_the_handled_requests_a_process_remembers_are_bounded(pushed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import serving.cache as cache_module

    registry, loader = pushed[1], pushed[2]
    monkeypatch.setattr(cache_module, "WARM_HANDLED_MAX", 3)
    reported: list[list[int]] = []
    cache = ModelCache(
        resolve_alias=registry.resolve_alias,
        resolve_version=registry.resolve_version,
        load=loader,
        warm_requests=lambda handled: [(pk, registry.ref(1)) for pk in range(1, 6) if pk not in handled],
        report_warm=reported.append,
    )
    cache.poll_warm()
    assert reported == [[3, 4, 5]] and loader.calls == [1]  # one version: loaded once


# -- the mover's side: waiting for other processes (a committed request: a transactional test) -----


def _other_process(seen_ago_s: float = 0.0) -> Any:
    from datetime import timedelta

    from django.utils import timezone

    from serving.models import ServingProcess

    return ServingProcess.objects.create(
        host="other-host", pid=4242, seen_at=timezone.now() - timedelta(seconds=seen_ago_s), warm_done=0
    )


@pytest.mark.django_db(transaction=True)
def test_the_move_waits_until_every_live_serving_process_reported_the_version_warm(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.warm as warm
    from serving.models import WarmRequest
    from training.models import ModelAlias

    registry.add_version("other", "plain")
    other = _other_process()
    seen: list[bool] = []

    def other_process_reports(seconds: float) -> None:  # what its watcher does while the mover waits
        seen.append(ModelAlias.objects.filter(model__name="other").exists())
        if len(seen) == 3:
            other.warm_handled = [WarmRequest.objects.latest("pk").pk]
            other.save()

    monkeypatch.setattr(warm.time, "sleep", other_process_reports)
    registry.set_alias("other", "production", 1)
    assert seen == [False, False, False]  # the alias was written only after the report
    assert ModelAlias.objects.get(model__name="other", name="production").version.version == 1


@pytest.mark.django_db(transaction=True)
def test_a_process_that_never_reports_holds_the_move_only_until_the_timeout_and_a_gone_one_not_at_all(
    registry: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import serving.warm as warm
    from training.models import ModelAlias

    registry.add_version("other", "plain")
    registry.add_version("gone", "plain")
    settings.STEWARD_SERVING_WARM_WAIT_MS = 300
    other = _other_process()
    started = time.monotonic()
    registry.set_alias("other", "production", 1)
    assert 0.3 <= time.monotonic() - started < 5
    assert ModelAlias.objects.filter(model__name="other", name="production").exists()

    other.delete()
    _other_process(seen_ago_s=warm.LIVE_S + 1)
    monkeypatch.setattr(warm.time, "sleep", lambda s: pytest.fail("waited for a process that is gone"))
    registry.set_alias("gone", "production", 1)


@pytest.mark.django_db(transaction=True)
def test_the_put_says_how_many_processes_warmed_a_first_set_version_and_how_long_it_waited(
    registry: Any, engineer: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.warm as warm
    from serving.models import ServingProcess, WarmRequest

    get_cache()  # this process serves: it loads the version itself, on the PUT's thread
    registry.add_version("other", "plain")
    registry.add_version("late", "plain")
    settings.STEWARD_SERVING_WARM_WAIT_MS = 300
    other = _other_process()  # live, never reports
    ServingProcess.objects.create(  # gone (not seen for LIVE_S): neither counted nor waited for
        host="gone-host", pid=1, seen_at=other.seen_at - timedelta(seconds=warm.LIVE_S + 1), warm_done=0
    )
    moved = engineer.put("/api/v1/models/other/aliases/production/", {"version": 1}, format="json")
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert body["version"] == 1
    assert body["warm"]["processes"] == 2 and body["warm"]["warmed"] == 1 and body["warm"]["timed_out"] is True
    assert 300 <= body["warm"]["waited_ms"] < 5000

    def other_process_reports(seconds: float) -> None:  # its watcher handles the request while the mover waits
        other.seen_at = warm.timezone.now()
        other.warm_handled = [WarmRequest.objects.latest("pk").pk]
        other.save()

    settings.STEWARD_SERVING_WARM_WAIT_MS = 60_000
    monkeypatch.setattr(warm.time, "sleep", other_process_reports)
    moved = engineer.put("/api/v1/models/late/aliases/production/", {"version": 1}, format="json")
    assert moved.status_code == 200, moved.content
    assert {k: v for k, v in moved.json()["warm"].items() if k != "waited_ms"} == {
        "processes": 2,
        "warmed": 2,
        "timed_out": False,
    }


@pytest.mark.django_db
def test_a_process_reports_itself_and_reads_recent_requests_when_it_starts(shop: Any) -> None:
    from serving import warm
    from serving.models import ServingProcess, WarmRequest

    v1, v2 = shop.versions[("shop", 1)], shop.versions[("shop", 2)]
    first = WarmRequest.objects.get()  # the fixture's first production (v1) is recent too
    request = WarmRequest.objects.create(model_version=v2, alias="production")
    assert [(pk, ref.pk) for pk, ref in warm.warm_requests(())] == [(first.pk, v1.pk), (request.pk, v2.pk)]
    assert warm.warm_requests((first.pk, request.pk)) == []
    warm.report([first.pk, request.pk])
    warm.report([first.pk, request.pk])
    row = ServingProcess.objects.get()
    assert (row.host, row.pid, row.warm_done, row.warm_handled) == (
        *warm.identity(),
        request.pk,
        [first.pk, request.pk],
    )
    assert warm.pending_processes(request.pk + 1) == []  # this process is never waited for by itself


@pytest.mark.django_db
def test_a_request_with_a_lower_id_than_one_handled_is_still_read_and_waited_for(shop: Any) -> None:
    """On PostgreSQL ids commit out of order: request 8 can become visible after a watcher handled 9."""
    from serving import warm
    from serving.models import WarmRequest

    v1, v2 = shop.versions[("shop", 1)], shop.versions[("shop", 2)]
    WarmRequest.objects.all().delete()
    WarmRequest.objects.create(pk=9, model_version=v1, alias="production")
    assert [pk for pk, _ in warm.warm_requests(())] == [9]
    other = _other_process()
    other.warm_handled, other.warm_done = [9], 9
    other.save()
    WarmRequest.objects.create(pk=8, model_version=v2, alias="production")  # committed late
    assert [(pk, ref.pk) for pk, ref in warm.warm_requests((9,))] == [(8, v2.pk)]
    assert warm.pending_processes(8) == ["other-host:4242"]  # its newest handled (9) does not cover 8
    assert warm.pending_processes(9) == []
    old = WarmRequest.objects.create(pk=7, model_version=v2, alias="production")
    WarmRequest.objects.filter(pk=old.pk).update(
        created_at=old.created_at - timedelta(seconds=warm.REQUEST_MAX_AGE_S + 1)
    )
    assert [pk for pk, _ in warm.warm_requests((9,))] == [8]  # too old to warm: no longer read
