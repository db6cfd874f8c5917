"""gunicorn settings for Steward's web processes: `gunicorn -c serving/gunicorn_conf.py config.wsgi`.

Prometheus metrics from several worker processes need a shared directory (prometheus-client's
multi-process mode). It must be named before any worker imports prometheus_client, so it is set
here: PROMETHEUS_MULTIPROC_DIR if given, else DATA_DIR/prometheus; it is emptied when the
server starts and a dead worker's live gauges are dropped.

Each worker loads the versions `production` points to before it accepts requests
(STEWARD_SERVING_WARM_UP=0 turns that off) and runs torch with STEWARD_SERVING_TORCH_THREADS intra-op threads
(default 1), so the default of one worker per core keeps the cores busy without oversubscribing them.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

_base = Path(__file__).resolve().parent.parent
_data = Path(os.environ.get("STEWARD_DATA_DIR") or _base / "var")
_metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_data / "prometheus")))

bind = os.environ.get("STEWARD_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("STEWARD_WEB_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("STEWARD_WEB_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("STEWARD_WEB_TIMEOUT", "120"))
keepalive = 5
accesslog = os.environ.get("STEWARD_ACCESS_LOG") or None


def on_starting(server) -> None:
    if _metrics_dir.exists():
        shutil.rmtree(_metrics_dir)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def post_worker_init(worker) -> None:
    """Load the versions `production` points to before this worker accepts requests, so the first
    requests after a (re)start do not wait for a model load; then watch the alias generation, so a
    moved or first-set alias loads and warms in the background before requests use it."""
    import logging

    try:
        from django.db import connection

        from serving.loader import start_alias_watcher

        start_alias_watcher()
        connection.close()
    except Exception:  # the alias TTL still catches moves
        logging.getLogger("serving").exception("serving: the alias watcher did not start")
    if os.environ.get("STEWARD_SERVING_WARM_UP", "1").lower() in ("0", "false", "no", "off"):
        return
    try:
        from django.db import connection

        from serving.loader import warm_up

        loaded = warm_up()
        connection.close()
        logging.getLogger("serving").info("serving: worker %s warmed up %s", worker.pid, ", ".join(loaded) or "nothing")
    except Exception:  # a worker that cannot warm up still serves, loading on first use
        logging.getLogger("serving").exception("serving: warm-up failed")


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
