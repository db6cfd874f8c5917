"""The in-process cache of loaded model versions, and which version each alias answers with.

- A loaded version is keyed by its ModelVersion id and kept until it is neither the version an
  alias answers with nor among the `max_versions` most recently used.
- An alias is re-resolved at most every `alias_ttl` seconds (one small query per process, never
  per request). When it has moved, the new version loads in a background thread while the old one
  keeps answering; the binding then switches in one assignment, so no request fails or waits
  during a swap. Only a process's very first request for an alias (or an explicit version not
  loaded yet) waits for the load.
- A version whose load fails keeps the alias on the old one and is retried after `retry_after`;
  a request that must wait for it gets the same error, without a reload, until then.
- Alias moves are also pushed, not only polled: `poll()` reads the registry's alias generation
  (a number that grows on every alias move) and, when it has changed, re-resolves every alias in a
  background thread: a bound alias that moved loads and warms its new version while the old one
  answers, and an alias named in `warm_aliases` that this process has never served (a first-ever
  `production`) loads before any request asks for it. `poll()` runs from a watcher thread every
  `poll_interval` seconds (`start_watcher`, started by each gunicorn worker) and at once in the
  process that moved the alias; requests only read what it found, so the request path runs no
  query for it. A request for an alias whose first load is still running waits for that load (the
  only case where nothing else can answer), never starts a second one.
- That case is made rare by warming before a first set (serving.warm): `prewarm(ref)` loads a
  version no alias answers with yet, and the watcher also reads `warm_requests` (versions a mover
  is about to set as an alias's first target), loads them at low priority and calls `report_warm`
  (also every `heartbeat_s`, so movers know which processes are alive); the move waits for that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from core.errors import NotFound

log = logging.getLogger(__name__)

# Warm requests a process remembers as handled (and reports): far more than are made in the few minutes a request
# stays pending (serving.warm.REQUEST_MAX_AGE_S). One forgotten early is only loaded again (a cache hit).
WARM_HANDLED_MAX = 256


@dataclass(frozen=True)
class VersionRef:
    """A model version as serving needs it, resolved from the registry."""

    pk: int
    model: str
    version: int
    artifact: str  # the artifact's name in storage (serving.registry.artifact_dir gives a local path)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class _Binding:
    current: Any  # the LoadedVersion answering now
    checked_at: float
    wanted: VersionRef | None = None  # where the alias points, when not loaded yet
    failed_at: float | None = None


class ModelCache:
    def __init__(
        self,
        *,
        resolve_alias: Callable[[str, str], VersionRef],
        resolve_version: Callable[[str, int], VersionRef],
        load: Callable[[VersionRef], Any],
        alias_ttl: float = 2.0,
        max_versions: int = 4,
        retry_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Callable[[Any], None] | None = None,
        generation: Callable[[], Any] | None = None,
        list_aliases: Callable[[], list[tuple[str, str, VersionRef]]] | None = None,
        warm_aliases: tuple[str, ...] = ("production",),
        warm_requests: Callable[[Collection[int]], list[tuple[int, VersionRef]]] | None = None,
        report_warm: Callable[[list[int]], None] | None = None,
        heartbeat_s: float = 5.0,
    ) -> None:
        self._resolve_alias = resolve_alias
        self._resolve_version = resolve_version
        self._load = load
        self.alias_ttl = alias_ttl
        self.max_versions = max_versions
        self.retry_after = retry_after
        self._clock = clock
        self._on_evict = on_evict
        self._lock = threading.Lock()
        self._loaded: OrderedDict[int, Any] = OrderedDict()
        self._loading: dict[int, Future] = {}
        self._failed: dict[int, tuple[float, Exception]] = {}
        self._bindings: dict[tuple[str, str], _Binding] = {}
        self._versions: dict[tuple[str, int], tuple[VersionRef, float]] = {}
        self._generation = generation
        self._list_aliases = list_aliases
        self.warm_aliases = tuple(warm_aliases)
        self._generation_seen: Any = None
        self._sync_lock = threading.Lock()  # one alias sync at a time
        self._syncing: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._watcher_stop = threading.Event()
        self._warm_requests = warm_requests
        self._report_warm = report_warm
        self.heartbeat_s = heartbeat_s
        # The warm requests handled (loaded, or failed to load), oldest first: at most WARM_HANDLED_MAX of them.
        self._warm_handled: OrderedDict[int, None] = OrderedDict()
        self._reported: tuple[float, tuple[int, ...]] | None = None  # (when, what) this process last reported

    # -- lookups --------------------------------------------------------------------------------

    def get(self, model: str, *, alias: str | None = None, version: int | None = None) -> Any:
        """The loaded version answering for (model, alias) or (model, version); NotFound if none."""
        if version is not None:
            return self._get_version(model, version)
        return self._get_alias(model, alias or "production")

    def _get_version(self, model: str, number: int) -> Any:
        now = self._clock()
        cached = self._versions.get((model, number))
        if cached is None or now - cached[1] > self.alias_ttl:
            ref = self._resolve_version(model, number)
            self._versions[(model, number)] = (ref, now)
        else:
            ref = cached[0]
        return self._ensure_loaded(ref)

    def _get_alias(self, model: str, alias: str) -> Any:
        key = (model, alias)
        binding = self._bindings.get(key)
        now = self._clock()
        if binding is None:
            ref = self._resolve_alias(model, alias)
            loaded = self._ensure_loaded(ref)
            with self._lock:
                binding = self._bindings.setdefault(key, _Binding(current=loaded, checked_at=now))
            return binding.current
        if now - binding.checked_at >= self.alias_ttl:
            binding.checked_at = now  # first, so concurrent requests do not all re-resolve
            self._refresh(key, binding, now)
        return binding.current

    def _refresh(self, key: tuple[str, str], binding: _Binding, now: float) -> None:
        try:
            ref = self._resolve_alias(*key)
        except NotFound:
            with self._lock:
                self._bindings.pop(key, None)
            raise
        except Exception:  # a database hiccup must not take serving down: keep the current version
            log.exception("serving: could not re-resolve alias %s/%s; keeping the current version", *key)
            return
        if ref.pk == binding.current.ref.pk:
            binding.wanted = None
            return
        with self._lock:
            ready = self._loaded.get(ref.pk)
        if ready is not None:
            binding.current, binding.wanted = ready, None
            log.info("serving: %s/%s now answers with version %s", key[0], key[1], ref.version)
            return
        if (
            binding.wanted is not None
            and binding.wanted.pk == ref.pk
            and binding.failed_at is not None
            and now - binding.failed_at < self.retry_after
        ):
            return
        binding.wanted, binding.failed_at = ref, None
        self._load_in_background(key, ref)

    # -- alias moves pushed by the registry's generation number --------------------------------

    def poll(self, *, wait: bool = False) -> bool:
        """Read the alias generation; when it changed since the last sync, re-resolve every alias in
        a background thread (or in this one with wait=True). True when a sync was started."""
        if self._generation is None or self._list_aliases is None:
            return False
        try:
            current = self._generation()
        except Exception:  # a database hiccup: the alias TTL still catches moves
            log.exception("serving: could not read the alias generation")
            return False
        if current == self._generation_seen:
            return False
        with self._lock:
            running = self._syncing is not None and self._syncing.is_alive()
            if running and not wait:
                return False  # the running sync re-reads the generation when it ends
            if not wait:
                thread = self._syncing = threading.Thread(
                    target=self._sync_in_background, name="serving-alias-sync", daemon=True
                )
                thread.start()
                return True
        self._sync_loop()
        return True

    def _sync_loop(self) -> None:
        try:
            while True:
                with self._sync_lock:
                    current = self._generation() if self._generation is not None else None
                    self._sync(current)
                # a move during the sync is picked up now rather than at the next poll
                if self._generation is None or self._generation() == self._generation_seen:
                    return
        except Exception:  # the alias TTL still catches moves; the next poll retries
            log.exception("serving: alias sync failed")

    def _sync_in_background(self) -> None:
        try:
            self._sync_loop()
        finally:
            _close_db_connection()  # this thread's own connection (the caller's stays open with wait=True)

    def _sync(self, current: Any) -> None:
        assert self._list_aliases is not None
        targets = self._list_aliases()
        now = self._clock()
        starts: list[threading.Thread] = []
        for model, alias, ref in targets:
            key = (model, alias)
            binding = self._bindings.get(key)
            if binding is not None:
                binding.checked_at = now
                if ref.pk == binding.current.ref.pk:
                    binding.wanted = None
                    continue
                with self._lock:
                    ready = self._loaded.get(ref.pk)
                if ready is not None:
                    binding.current, binding.wanted = ready, None
                    log.info("serving: %s/%s now answers with version %s", model, alias, ref.version)
                    continue
                if binding.wanted is not None and binding.wanted.pk == ref.pk and ref.pk in self._loading:
                    continue
                binding.wanted, binding.failed_at = ref, None
                self._load_in_background(key, ref)
            elif alias in self.warm_aliases:
                starts.append(self._prime(key, ref))
        self._generation_seen = current
        for thread in starts:
            thread.start()

    def _prime(self, key: tuple[str, str], ref: VersionRef) -> threading.Thread:
        """Load an alias this process has never served, before any request asks for it; a request
        that arrives meanwhile waits on the same load (the in-flight future) rather than a second."""
        with self._lock:
            loaded_now = self._loaded.get(ref.pk)
            future = self._loading.get(ref.pk)
            owner = loaded_now is None and future is None
            if owner:  # registered now, so wait_idle() and concurrent requests see the load at once
                future = self._loading[ref.pk] = Future()

        def work() -> None:
            try:
                if loaded_now is not None:
                    loaded = loaded_now
                elif owner:  # full priority: a request may be waiting for it (nothing else can answer)
                    assert future is not None
                    loaded = self._run_load(ref, future)
                else:
                    assert future is not None
                    loaded = future.result()
            except Exception:  # recorded as failed; a request retries after retry_after
                log.exception("serving: loading %s v%s for %s/%s failed", ref.model, ref.version, *key)
                return
            finally:
                _close_db_connection()
            with self._lock:
                if key not in self._bindings:
                    self._bindings[key] = _Binding(current=loaded, checked_at=self._clock())
                    log.info("serving: %s/%s answers with version %s (loaded ahead)", key[0], key[1], ref.version)

        return threading.Thread(target=work, name=f"serving-prime-{ref.pk}", daemon=True)

    # -- versions warmed before an alias first points to them ------------------------------------

    def prewarm(self, ref: VersionRef) -> Any:
        """Load (and warm) `ref` in this thread without binding any alias to it, so that the alias that is about
        to point to it answers at once; a load already in flight is waited for, not repeated."""
        return self._ensure_loaded(ref)

    def poll_warm(self) -> bool:
        """The watcher's other duty: load the versions movers asked to have warm (in this thread, at low
        priority), then report them handled; report at least every `heartbeat_s` anyway. True when it loaded.

        Requests are told apart by id, not by a newest id read so far: ids are not committed in order (a mover's
        request can become visible after a later one), so `warm_requests` returns every recent request this
        process has not handled yet, whatever its id."""
        if self._warm_requests is None:
            return False
        try:
            requests = self._warm_requests(tuple(self._warm_handled))
        except Exception:  # a database hiccup: the next poll retries; a mover waits at most its timeout
            log.exception("serving: could not read the warm requests")
            return False
        refs = list({ref.pk: ref for _, ref in requests}.values())
        if refs:
            # In a thread of its own: a thread's lowered priority cannot be raised again, and threads the watcher
            # starts later (a first load a request may be waiting for) inherit the watcher's.
            loader = threading.Thread(target=self._warm, args=(refs,), name="serving-warm", daemon=True)
            loader.start()
            loader.join()
        for request_id, _ in sorted(requests, key=lambda r: r[0]):
            self._warm_handled[request_id] = None
            self._warm_handled.move_to_end(request_id)
        while len(self._warm_handled) > WARM_HANDLED_MAX:
            self._warm_handled.popitem(last=False)
        handled = tuple(self._warm_handled)
        now = time.monotonic()  # real time, whatever clock the alias TTLs use
        last = self._reported
        if self._report_warm is not None and (last is None or last[1] != handled or now - last[0] >= self.heartbeat_s):
            try:
                self._report_warm(list(handled))
                self._reported = (now, handled)
            except Exception:
                log.exception("serving: could not report this process's warm versions")
        return bool(refs)

    def _warm(self, refs: list[VersionRef]) -> None:
        try:
            with _yield_to_requests():
                for ref in refs:
                    try:
                        self._ensure_loaded(ref)
                    except Exception:  # handled all the same: the mover must not wait for a broken artifact
                        log.exception("serving: warming %s v%s ahead of its alias failed", ref.model, ref.version)
        finally:
            _close_db_connection()

    def start_watcher(self, interval: float) -> None:
        """Poll the alias generation every `interval` seconds in a daemon thread (one per process)."""
        if interval <= 0 or (self._generation is None and self._warm_requests is None):
            return
        with self._lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher_stop.clear()

            def watch() -> None:
                try:
                    self.poll_warm()  # alive from the start, so a mover waits for this process too
                    while not self._watcher_stop.wait(interval):
                        self.poll()
                        self.poll_warm()
                finally:
                    _close_db_connection()

            self._watcher = threading.Thread(target=watch, name="serving-alias-watch", daemon=True)
            self._watcher.start()

    def stop_watcher(self) -> None:
        self._watcher_stop.set()
        watcher = self._watcher
        if watcher is not None:
            watcher.join(5)
        self._watcher = None

    # -- loading --------------------------------------------------------------------------------

    def _ensure_loaded(self, ref: VersionRef) -> Any:
        with self._lock:
            loaded = self._loaded.get(ref.pk)
            if loaded is not None:
                self._loaded.move_to_end(ref.pk)
                return loaded
            failed = self._failed.get(ref.pk)
            if failed is not None and self._clock() - failed[0] < self.retry_after:
                raise failed[1]  # a broken artifact is not reloaded on every request
            future = self._loading.get(ref.pk)
            owner = future is None
            if owner:
                future = self._loading[ref.pk] = Future()
        if not owner:
            return future.result()
        return self._run_load(ref, future)

    def _run_load(
        self,
        ref: VersionRef,
        future: Future,
        on_failure: Callable[[], None] | None = None,
        on_success: Callable[[Any], None] | None = None,
    ) -> Any:
        try:
            loaded = self._load(ref)
        except BaseException as exc:
            if on_failure is not None:
                on_failure()  # before anyone waiting on the future sees the failure
            with self._lock:
                self._loading.pop(ref.pk, None)
                if isinstance(exc, Exception):
                    self._failed[ref.pk] = (self._clock(), exc)
            future.set_exception(exc)
            raise
        with self._lock:
            self._loaded[ref.pk] = loaded
            self._loading.pop(ref.pk, None)
            self._failed.pop(ref.pk, None)
        if on_success is not None:
            on_success(loaded)
        with self._lock:
            self._evict()
        future.set_result(loaded)
        return loaded

    def _load_in_background(self, key: tuple[str, str], ref: VersionRef) -> None:
        with self._lock:
            if ref.pk in self._loading:
                return  # already on its way; the next refresh finds it loaded and switches
            future: Future = Future()
            self._loading[ref.pk] = future

        def failed() -> None:
            log.exception(
                "serving: loading %s v%s failed; %s/%s keeps its current version", ref.model, ref.version, *key
            )
            binding = self._bindings.get(key)
            if binding is not None:
                binding.failed_at = self._clock()

        def switch(loaded: Any) -> None:
            binding = self._bindings.get(key)
            if binding is not None and binding.wanted is not None and binding.wanted.pk == ref.pk:
                binding.current, binding.wanted = loaded, None  # one assignment: requests see old or new
                log.info("serving: %s/%s now answers with version %s", key[0], key[1], ref.version)

        def work() -> None:
            try:
                with _yield_to_requests():
                    self._run_load(ref, future, failed, switch)
            except Exception:  # noqa: BLE001 - logged by failed(); the alias keeps its current version
                return
            finally:
                _close_db_connection()

        threading.Thread(target=work, name=f"serving-load-{ref.pk}", daemon=True).start()

    def _evict(self) -> None:
        pinned = {b.current.ref.pk for b in self._bindings.values()}
        pinned |= {b.wanted.pk for b in self._bindings.values() if b.wanted is not None}
        for pk in list(self._loaded):
            if len(self._loaded) <= self.max_versions:
                break
            if pk not in pinned:
                evicted = self._loaded.pop(pk)
                if self._on_evict is not None:
                    self._on_evict(evicted)

    # -- introspection (tests, monitoring) ------------------------------------------------------

    def loaded_versions(self) -> list[VersionRef]:
        with self._lock:
            return [v.ref for v in self._loaded.values()]

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until no background load is running (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        syncing = self._syncing
        if syncing is not None:
            syncing.join(timeout)
        while True:
            with self._lock:
                pending = list(self._loading.values())
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("a model version is still loading")
            with contextlib.suppress(Exception):  # a failure was logged by the loader; only waiting matters
                pending[0].result(timeout=remaining)

    def clear(self) -> None:
        self.stop_watcher()
        with self._lock:
            self._loaded.clear()
            self._bindings.clear()
            self._versions.clear()


_yield_lock = threading.Lock()
_yielding = 0
_saved_interval: float | None = None


@contextlib.contextmanager
def _yield_to_requests():
    """Run a background load at low priority: the thread's own nice value up (Linux: per thread),
    and while it runs a short GIL switch interval, so a request thread waiting for the GIL gets it
    back within 0.5 ms instead of 5 ms each time torch releases it."""
    global _yielding, _saved_interval
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    with _yield_lock:
        if _yielding == 0:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
        _yielding += 1
    try:
        yield
    finally:
        with _yield_lock:
            _yielding -= 1
            if _yielding == 0 and _saved_interval is not None:
                sys.setswitchinterval(_saved_interval)


def _close_db_connection() -> None:
    # A loader thread may have touched the database (e.g. through a registry lookup); Django
    # keeps one connection per thread, so close it instead of leaking it.
    with contextlib.suppress(Exception):  # no Django or no connection: nothing to close
        from django.db import connection

        connection.close()
