"""A first-set alias is warm in every serving process before the move is visible (issue 14).

A moved alias needs none of this: its old version answers while each process loads the new one in the
background (serving.cache). A first-ever `production` has no old version, so a request that arrives before a
process has loaded it waits for the load. So `model_alias_set` tells serving first (training's
`alias_will_move` signal), and for a first set of an alias in STEWARD_SERVING_WARM_ALIASES:

1. a WarmRequest row names the version (committed at once: other processes must see it);
2. this process, if it serves, loads and warms the version on the mover's thread;
3. every other live serving process (a ServingProcess row seen within LIVE_S) finds the request with its alias
   watcher, loads and warms the version, and records the request's id as handled in its row;
4. the mover waits until every live process has, or STEWARD_SERVING_WARM_WAIT_MS passes (then the move goes
   ahead, logged: a stuck process must not block the registry), and only then writes the alias. The wait is on
   the mover's own request (the API's PUT answers after it): moved to the background, the alias would be written
   before the processes are warm, and their first requests would wait for the load, which is what this avoids.
   So it is bounded (the budget, or this process's own load if longer) and said: model_alias_set returns what
   happened with the alias, and the PUT answers it as `warm` ({processes, warmed, waited_ms, timed_out}).

Processes write their row every HEARTBEAT_S from the watcher thread (one UPDATE), never on a request.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from serving.cache import VersionRef

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
LIVE_S = 15.0  # a process not seen for this long is gone (or stuck): the move does not wait for it
REQUEST_MAX_AGE_S = 120.0  # a process that starts later still warms a request this recent
STALE_ROWS_S = 24 * 3600.0
WAIT_STEP_S = 0.05

_identity: tuple[str, int] | None = None


def identity() -> tuple[str, int]:
    global _identity
    if _identity is None or _identity[1] != os.getpid():  # a forked worker is another process
        _identity = (socket.gethostname()[:255], os.getpid())
    return _identity


def warm_requests(handled: Collection[int]) -> list[tuple[int, VersionRef]]:
    """The requests of the last REQUEST_MAX_AGE_S that are not in `handled` (this process's), oldest first, with
    their versions: one small indexed query per watcher tick.

    Not "the ids after the newest one read": on PostgreSQL two movers' requests can commit out of id order (id 8
    after a watcher has read 9), and 8 would be skipped for good. A request stays pending for as long as it is
    recent, whatever its id."""
    from serving.models import WarmRequest
    from serving.registry import version_ref

    recent = timezone.now() - timedelta(seconds=REQUEST_MAX_AGE_S)
    rows = WarmRequest.objects.filter(created_at__gte=recent)
    if handled:
        rows = rows.exclude(pk__in=list(handled))
    rows = rows.select_related("model_version__model").order_by("pk")[:50]
    return [(r.pk, version_ref(r.model_version)) for r in rows]


def report(handled: list[int]) -> None:
    """This process is alive and has handled the WarmRequests `handled` (its most recent ones, oldest first)."""
    from serving.models import ServingProcess

    host, pid = identity()
    now = timezone.now()
    fields = {"seen_at": now, "warm_done": max(handled, default=0), "warm_handled": list(handled)}
    updated = ServingProcess.objects.filter(host=host, pid=pid).update(**fields)
    if not updated:
        ServingProcess.objects.filter(seen_at__lt=now - timedelta(seconds=STALE_ROWS_S)).delete()
        ServingProcess.objects.update_or_create(host=host, pid=pid, defaults=fields)


def pending_processes(request_id: int) -> list[str]:
    """Live serving processes (other than this one) that have not handled request `request_id` yet."""
    return _other_processes(request_id)[1]


def _other_processes(request_id: int) -> tuple[int, list[str]]:
    """How many serving processes other than this one are live, and those that have not handled request
    `request_id` yet.

    By the id itself, not by the newest id a process handled (ids commit out of order: see warm_requests). The
    live rows are few (one per serving process), so they are read whole and checked here, on any database."""
    from serving.models import ServingProcess

    host, pid = identity()
    live = ServingProcess.objects.filter(seen_at__gte=timezone.now() - timedelta(seconds=LIVE_S))
    rows = list(live.exclude(host=host, pid=pid).values_list("host", "pid", "warm_handled"))
    return len(rows), [f"{h}:{p}" for h, p, handled in rows if request_id not in (handled or ())]


def warm_before_first_set(*, version: Any, alias: str, first: bool, **kwargs: Any) -> dict[str, Any] | None:
    """training's `alias_will_move` receiver: see the module docstring.

    It holds the move (and so the request that makes it: the API's PUT, the model page, the admin) for at most
    STEWARD_SERVING_WARM_WAIT_MS, or for this process's own load of the version when that takes longer, and
    returns what happened, which model_alias_set hands back with the alias (the API's `warm` field):
    `processes` (serving processes asked to warm it, this one included when it serves), `warmed` (those that
    did), `waited_ms` and `timed_out` (the wait ended with processes still loading: their first requests for the
    alias may wait for that load). None when there was nothing to warm ahead (not a first set of a warmed alias,
    or STEWARD_SERVING_WARM_WAIT_MS is 0)."""
    wait_s = settings.STEWARD_SERVING_WARM_WAIT_MS / 1000
    if not first or alias not in settings.STEWARD_SERVING_WARM_ALIASES or wait_s <= 0:
        return None
    from serving import loader
    from serving.models import WarmRequest
    from serving.registry import version_ref

    ref = version_ref(version)
    started = time.monotonic()
    request = WarmRequest.objects.create(model_version=version, alias=alias)
    cache = loader.current_cache()
    here = 0
    if cache is not None:  # this process serves: warm it here (its watcher would find the same request)
        try:
            cache.prewarm(ref)
            here = 1
        except Exception:  # the move still goes ahead; requests get the load's error, as before
            log.exception("serving: warming %s v%s before %s was set failed", ref.model, ref.version, alias)

    def outcome(others: int, pending: int, timed_out: bool) -> dict[str, Any]:
        return {
            "processes": int(cache is not None) + others,
            "warmed": here + others - pending,
            "waited_ms": round((time.monotonic() - started) * 1000),
            "timed_out": timed_out,
        }

    if connection.in_atomic_block:
        # Other processes cannot see an uncommitted request: do not wait for them (the watcher's prime after
        # the move still loads it ahead of their first request).
        log.warning("serving: %s/%s set inside a transaction; other processes warm it after the move", ref.model, alias)
        others = _other_processes(request.pk)[0]
        return outcome(others, others, False)
    while True:
        others, waiting = _other_processes(request.pk)
        if not waiting:
            log.info(
                "serving: %s v%s warm in every serving process after %.2f s; setting %s",
                ref.model,
                ref.version,
                time.monotonic() - started,
                alias,
            )
            return outcome(others, 0, False)
        if time.monotonic() - started >= wait_s:
            break
        time.sleep(WAIT_STEP_S)
    log.warning(
        "serving: %s v%s not reported warm by %s within %.0f s; setting %s anyway",
        ref.model,
        ref.version,
        ", ".join(waiting),
        wait_s,
        alias,
    )
    return outcome(others, len(waiting), True)
