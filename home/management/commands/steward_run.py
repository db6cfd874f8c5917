"""Start the Celery worker, Celery beat (the periodic job sweep) and the web server together, restart any of them
that dies, and stop them all on Ctrl-C (used by `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from home.services import demo_story_start

# How long `make run` waits for the web server to answer before it gives up starting the demo story.
DEMO_WAIT_S = 300


@dataclass
class Child:
    """One supervised process: how to start it, and its current run."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    failures_in_a_row: int = field(default=0)


class Supervisor:
    """Keeps every child running: one that exits is started again (a message says so), after a delay that doubles
    while it keeps dying within `stable_s` of starting (up to `max_delay_s`), so a child that cannot start does not
    spin."""

    def __init__(
        self,
        children: list[Child],
        *,
        say: Callable[[str], None],
        stable_s: float = 10.0,
        first_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
    ) -> None:
        self.children = children
        self.say = say
        self.stable_s, self.first_delay_s, self.max_delay_s = stable_s, first_delay_s, max_delay_s
        self.stopping = False

    def start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=child.env, cwd=child.cwd)
        child.started_at = time.monotonic()

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)
            self.say(f"Started the {child.name} (pid {child.proc.pid}).")

    def poll(self) -> None:
        """One supervision round: notice children that exited and start those whose delay has passed."""
        now = time.monotonic()
        for child in self.children:
            if self.stopping:
                return
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                lived = now - child.started_at
                child.failures_in_a_row = child.failures_in_a_row + 1 if lived < self.stable_s else 1
                delay = min(self.max_delay_s, self.first_delay_s * 2 ** (child.failures_in_a_row - 1))
                child.proc = None
                child.next_start = now + delay
                self.say(
                    f"The {child.name} exited with code {code} after {lived:.0f} s; restarting it in {delay:.0f} s."
                )
            if child.proc is None and now >= child.next_start:
                self.start(child)
                child.restarts += 1
                self.say(f"The {child.name} restarted (restart {child.restarts}, pid {child.proc.pid}).")

    def stop(self, grace_s: float = 20.0) -> None:
        self.stopping = True
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.time() + grace_s
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()


def steward_children(host: str, port: str) -> list[Child]:
    bindir = os.path.dirname(sys.executable)
    celery = os.path.join(bindir, "celery")
    worker = Child(
        "worker",
        [
            celery,
            "-A",
            "config",
            "worker",
            "-Q",
            "default,pii,gpu",
            "--concurrency",
            os.environ.get("STEWARD_WORKER_CONCURRENCY", "2"),
            "--loglevel",
            "INFO",
            "--hostname",
            f"steward@{host}",
        ],
    )
    # Sends the periodic job sweep (core.jobs.jobs_sweep) every STEWARD_JOB_SWEEP_S.
    beat = Child(
        "beat",
        [celery, "-A", "config", "beat", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME, "--loglevel", "INFO"],
    )
    # serving/gunicorn_conf.py sets up multi-process Prometheus metrics and warms up served models.
    web_env = dict(
        os.environ,
        STEWARD_BIND=f"{host}:{port}",
        STEWARD_WEB_WORKERS=os.environ.get("WEB_CONCURRENCY", "2"),
        STEWARD_WEB_THREADS=os.environ.get("STEWARD_WEB_THREADS", "4"),
        STEWARD_ACCESS_LOG=os.environ.get("STEWARD_ACCESS_LOG", "-"),
    )
    web = Child(
        "web server",
        [os.path.join(bindir, "gunicorn"), "-c", "serving/gunicorn_conf.py", "config.wsgi:application"],
        env=web_env,
        cwd=str(settings.BASE_DIR),
    )
    return [worker, beat, web]


class Command(BaseCommand):
    help = "Run the worker, beat and the web server in the foreground; restart any that dies."

    def handle(self, *args: Any, **options: Any) -> None:
        host = os.environ.get("STEWARD_HOST", "127.0.0.1")
        port = os.environ.get("STEWARD_PORT", "8000")
        supervisor = Supervisor(steward_children(host, port), say=lambda line: self.stderr.write(line))
        supervisor.start_all()
        self.stdout.write(
            self.style.SUCCESS(
                f"Steward is running at http://{host}:{port}/ (data in {settings.DATA_DIR}). Press Ctrl-C to stop."
            )
        )

        def stop(*_: Any) -> None:
            supervisor.stop()
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        demo_deadline = time.time() + DEMO_WAIT_S if settings.STEWARD_DEMO else None
        while True:
            supervisor.poll()
            demo_deadline = self.demo_tick(host, port, demo_deadline)
            time.sleep(1)

    def demo_tick(self, host: str, port: str, deadline: float | None) -> float | None:
        """One look while the demo story waits for the web server: start it once the site answers. Returns the
        deadline still pending, None once nothing is left to do (started, given up, or STEWARD_DEMO=0)."""
        if deadline is None:
            return None
        if self._web_answers(host, port):
            self._start_demo_story()
            return None
        if time.time() > deadline:
            self.stderr.write(f"The web server did not answer within {DEMO_WAIT_S} s: the demo story not started.")
            return None
        return deadline

    def _web_answers(self, host: str, port: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/api/v1/health/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _start_demo_story(self) -> None:
        """Once the site answers: the demo story, as a job on the worker (STEWARD_DEMO=0 turns it off). A story
        that already ran (or is running) is not repeated."""
        if int(os.environ.get("STEWARD_WORKER_CONCURRENCY", "2")) < 2:
            # The story waits for the jobs it starts: with one worker process they would never run.
            self.stderr.write("The demo story needs STEWARD_WORKER_CONCURRENCY >= 2: not started.")
            return
        admin = get_user_model().objects.filter(username="admin").first()
        if admin is None:
            self.stderr.write("No admin user (run `manage.py steward_setup`): the demo story not started.")
            return
        job, started = demo_story_start(actor=admin)
        if started:
            self.stdout.write(f"The demo story is running as job {job.pk}: follow it on the dashboard.")
        else:
            self.stdout.write(f"The demo story already ran (job {job.pk}, {job.status}).")
