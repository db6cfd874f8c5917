"""Demo story benchmark (issue 13): how long `make run`'s demo story takes on this machine, on a fresh data dir,
with `make run`'s demo data and the story's own settings (home/story.py), step by step.

The set-up (`migrate`, `steward_setup`: the demo data generated, registered and scanned) and the story run in
their own processes with tasks eager (`STEWARD_TASKS_EAGER=1`), so the figure is the story's work alone, without
the worker's queueing; under `make run` the same steps run on the Celery worker.

    .venv/bin/python bench/demo_story.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STORY = """
import json, time
import django
django.setup()
from django.contrib.auth import get_user_model
from core.models import Job
from home.services import demo_story_start
from training.models import ModelVersion

admin = get_user_model().objects.get(username="admin")
start = time.perf_counter()
job, started = demo_story_start(actor=admin)
seconds = time.perf_counter() - start
job.refresh_from_db()
steps = {name: step.get("seconds") for name, step in job.details.get("steps", {}).items()}
version = ModelVersion.objects.filter(model__name="demo-ctr").order_by("-version").first()
print(json.dumps({"status": job.status, "error": job.error[:500], "seconds": round(seconds, 1), "steps": steps,
                  "metrics": version.metrics if version else None}))
"""


def run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--keep", type=Path, default=None, help="use (and keep) this data dir instead of a temporary one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="steward-demo-") as tmp:
        data_dir = args.keep or Path(tmp)
        env = dict(
            os.environ,
            STEWARD_DATA_DIR=str(data_dir),
            STEWARD_TASKS_EAGER="1",
            STEWARD_ADMIN_PASSWORD="bench-demo-story-password",
            DJANGO_SETTINGS_MODULE="config.settings",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        env.pop("DATABASE_URL", None)  # make run's embedded SQLite
        manage = [sys.executable, "manage.py"]
        migrate_s = run([*manage, "migrate", "--noinput", "-v", "0"], env)
        setup_s = run([*manage, "steward_setup"], env)
        out = subprocess.run(
            [sys.executable, "-c", STORY], env=env, cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
    print(f"migrate {migrate_s:.1f} s, steward_setup (demo data generated, registered, scanned) {setup_s:.1f} s")
    print(f"demo story: {result['status']} in {result['seconds']} s {result['error']}")
    for name, seconds in result["steps"].items():
        print(f"  {name:<12} {seconds} s")
    if result["metrics"]:
        metrics = {k: round(v, 4) for k, v in result["metrics"].items() if isinstance(v, float)}
        print(f"demo-ctr v1 test metrics: {metrics}")
    print("load:", os.getloadavg())
    return 0 if result["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
