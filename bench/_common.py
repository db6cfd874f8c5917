"""Helpers the benchmarks share: starting Steward's gunicorn and a Celery worker as child processes.

A script in bench/ imports them as `from _common import ...` (its own folder is on sys.path when it runs).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


def start_celery_worker(queue: str, hostname: str, env: dict[str, str], stdout: IO[Any]) -> subprocess.Popen:
    """One `celery worker --pool solo` on `queue`, logging warnings and worse to `stdout` (stderr joins it)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            hostname,
        ],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
    )


def start_gunicorn(env: dict[str, str], log: IO[Any]) -> subprocess.Popen:
    """Steward's gunicorn (serving/gunicorn_conf.py), the leader of its own process group; stderr goes to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "serving" / "gunicorn_conf.py"), "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
