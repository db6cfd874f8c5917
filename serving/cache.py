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
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from core.errors import NotFound

log = logging.getLogger(__name__)


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
        with self._lock:
            self._loaded.clear()
            self._bindings.clear()
            self._versions.clear()


def _close_db_connection() -> None:
    # A loader thread may have touched the database (e.g. through a registry lookup); Django
    # keeps one connection per thread, so close it instead of leaking it.
    with contextlib.suppress(Exception):  # no Django or no connection: nothing to close
        from django.db import connection

        connection.close()
