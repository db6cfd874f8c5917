"""Start a real `celery worker` process against the test database and broker, for integration tests."""

from __future__ import annotations

import contextlib
import os
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
    queues: str = "default,pii,gpu", *, concurrency: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Needs `transactional_db` (the worker must see committed rows) and the `worker` marker. Yields the process;
    stops it afterwards."""
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
                "prefork",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{os.getpid()}-{time.time_ns()}@localhost",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    proc.log_path = log  # type: ignore[attr-defined]


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
