"""Start a real `celery worker` process against the test database and broker, for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# Set for each test by tests/conftest.py: whether it carries the `worker` marker. `make test-quick` deselects
# those tests, so a worker started by an unmarked one would slow the quick loop down unnoticed.
current_test_is_marked = True


@contextlib.contextmanager
def start_worker(
    queues: str = "default,pii,gpu",
    *,
    concurrency: int = 1,
    extra_env: dict[str, str] | None = None,
    pool: str = "prefork",
    beat: bool = False,
) -> Iterator[subprocess.Popen]:
    """Needs `transactional_db` (the worker must see committed rows) and the `worker` marker. Yields the process
    (the leader of its own process group, so `kill_worker` takes its pool processes too); stops it afterwards.
    With `beat`, the worker also runs Celery beat (the periodic job sweep)."""
    if not current_test_is_marked:
        raise RuntimeError("A test that starts a celery worker must carry @pytest.mark.worker.")
    env = dict(os.environ)
    env.update(
        {
            "STEWARD_DATA_DIR": str(settings.DATA_DIR),
            "STEWARD_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("PYTEST_VERSION", None)
    env.update(extra_env or {})
    log = Path(settings.DATA_DIR) / f"worker-{time.time_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queues,
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{os.getpid()}-{time.time_ns()}@localhost",
                *(["--beat", "--schedule", str(Path(settings.DATA_DIR) / f"beat-{time.time_ns()}")] if beat else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = log  # type: ignore[attr-defined]
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_worker(proc)


def kill_worker(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool processes at once, as when its machine or container dies: nothing acks,
    rejects or records anything."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=20)


def purge_broker(queues: str = "default,pii,gpu") -> None:
    """Drop messages left on the broker by earlier runs: their job ids may name other rows of this test database."""
    from config.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues.split(","):
            with contextlib.suppress(Exception):  # a queue nobody declared yet has nothing to purge
                channel.queue_purge(queue)


def wait_for(
    predicate: Callable[[], bool], *, timeout: float = 60, interval: float = 0.25, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited early with code {proc.returncode}")
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
