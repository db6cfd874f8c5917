"""Start the Celery worker and the web server together and stop both on Ctrl-C (used by `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from home.services import demo_story_start

# How long `make run` waits for the web server to answer before it gives up starting the demo story.
DEMO_WAIT_S = 300


class Command(BaseCommand):
    help = "Run the worker and the web server in the foreground."

    def handle(self, *args: Any, **options: Any) -> None:
        host = os.environ.get("STEWARD_HOST", "127.0.0.1")
        port = os.environ.get("STEWARD_PORT", "8000")
        bindir = os.path.dirname(sys.executable)
        worker = subprocess.Popen(
            [
                os.path.join(bindir, "celery"),
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
            ]
        )
        # serving/gunicorn_conf.py sets up multi-process Prometheus metrics and warms up served models.
        web_env = dict(
            os.environ,
            STEWARD_BIND=f"{host}:{port}",
            STEWARD_WEB_WORKERS=os.environ.get("WEB_CONCURRENCY", "2"),
            STEWARD_WEB_THREADS=os.environ.get("STEWARD_WEB_THREADS", "4"),
            STEWARD_ACCESS_LOG=os.environ.get("STEWARD_ACCESS_LOG", "-"),
        )
        web = subprocess.Popen(
            [os.path.join(bindir, "gunicorn"), "-c", "serving/gunicorn_conf.py", "config.wsgi:application"],
            env=web_env,
            cwd=settings.BASE_DIR,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Steward is running at http://{host}:{port}/ (data in {settings.DATA_DIR}). Press Ctrl-C to stop."
            )
        )
        children = [worker, web]

        def stop(*_: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.time() + 20
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    child.kill()
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        demo_deadline = time.time() + DEMO_WAIT_S if settings.STEWARD_DEMO else None
        while all(child.poll() is None for child in children):
            demo_deadline = self.demo_tick(host, port, demo_deadline)
            time.sleep(1)
        name = "worker" if worker.poll() is not None else "web server"
        self.stderr.write(f"The {name} exited; stopping.")
        stop()

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
