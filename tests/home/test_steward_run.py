"""`make run`'s supervisor: a worker, beat or web process that dies is restarted with a message, not the end of all."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from home.management.commands.steward_run import Child, Supervisor, steward_children
from tests.worker import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_child_that_dies_is_restarted_with_a_message_and_backs_off_while_it_keeps_dying() -> None:
    lines: list[str] = []
    dying = Child("worker", [sys.executable, "-c", "import sys; sys.exit(3)"])
    steady = Child("web server", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([dying, steady], say=lines.append, first_delay_s=0.05, max_delay_s=0.4)
    supervisor.start_all()
    steady_pid = steady.proc.pid
    try:
        deadline = time.time() + 15
        while dying.restarts < 4 and time.time() < deadline:
            supervisor.poll()
            time.sleep(0.02)
    finally:
        supervisor.stop(grace_s=5)
    assert dying.restarts >= 4
    exits = [line for line in lines if line.startswith("The worker exited with code 3")]
    assert len(exits) >= 4
    delays = [float(re.search(r"restarting it in (\d+) s", line).group(1)) for line in exits]
    assert delays == sorted(delays)  # doubling, capped
    assert any(line.startswith("The worker restarted (restart 1, pid") for line in lines)
    assert steady.restarts == 0 and steady.proc.pid == steady_pid  # the others keep running
    assert steady.proc.poll() is not None  # stop() ended it


def test_make_run_supervises_a_worker_beat_and_the_web_server() -> None:
    names = [child.name for child in steward_children("127.0.0.1", "8000")]
    assert names == ["worker", "beat", "web server"]
    beat = steward_children("127.0.0.1", "8000")[1]
    assert "beat" in beat.argv and settings.CELERY_BEAT_SCHEDULE_FILENAME in beat.argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_steward_run_restarts_a_killed_worker_and_web_server() -> None:
    port = _free_port()
    log = Path(settings.DATA_DIR) / f"steward-run-{time.time_ns()}.log"
    env = dict(
        os.environ,
        STEWARD_DATA_DIR=str(settings.DATA_DIR),
        STEWARD_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        STEWARD_PORT=str(port),
        WEB_CONCURRENCY="1",
        STEWARD_WORKER_CONCURRENCY="1",
        STEWARD_SERVING_WARM_UP="0",
        PYTHONUNBUFFERED="1",
    )
    env.pop("PYTEST_VERSION", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "steward_run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text() -> str:
        return log.read_text(errors="replace")

    def pid_of(name: str) -> int:
        found = re.findall(rf"(?:Started the {name} \(pid|The {name} restarted \(restart \d+, pid) (\d+)\)", text())
        return int(found[-1])

    try:
        wait_for(lambda: "Steward is running" in text() and "Started the web server" in text(), timeout=60, proc=proc)
        os.kill(pid_of("worker"), signal.SIGKILL)
        wait_for(lambda: "The worker restarted (restart 1" in text(), timeout=30, proc=proc)
        assert "The worker exited with code -9" in text()
        os.kill(pid_of("web server"), signal.SIGKILL)
        wait_for(lambda: "The web server restarted (restart 1" in text(), timeout=30, proc=proc)
        assert proc.poll() is None  # still supervising
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
        assert proc.returncode == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a killed parent left behind
