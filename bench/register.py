"""Registration benchmark (issue 2): a generated 1,000,000-row x 10-column CSV registered through the service
layer (hash, streamed Parquet copy, profile), beside bare pyarrow.csv.read_csv + pyarrow.parquet.write_table on
the same file in the same run. Each phase runs in its own process so its peak RSS is its own.

    .venv/bin/python bench/register.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    categories = np.array(["electronics", "books", "home", "garden", "toys", "sports", "beauty", "food"])
    words = np.array(["red", "blue", "fast", "smart", "mini", "pro", "eco", "max", "ultra", "lite"])
    chunk = 100_000
    with path.open("w") as fh:
        fh.write("event_id,user_id,item_id,category,price,quantity,rating,clicked,timestamp,query\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            ids = np.arange(start, start + n)
            cols = [
                ids.astype(str),
                rng.integers(0, 50_000, n).astype(str),
                rng.integers(0, 20_000, n).astype(str),
                categories[rng.integers(0, len(categories), n)],
                np.char.mod("%.2f", rng.gamma(2.0, 20.0, n)),
                rng.integers(1, 5, n).astype(str),
                np.where(rng.random(n) < 0.2, "", rng.integers(1, 6, n).astype(str)),
                (rng.random(n) < 0.1).astype(int).astype(str),
                np.char.add(
                    "2024-03-",
                    np.char.add(
                        np.char.zfill(rng.integers(1, 29, n).astype(str), 2),
                        np.char.add("T12:", np.char.zfill(rng.integers(0, 60, n).astype(str), 2)),
                    ),
                ),
                np.char.add(words[rng.integers(0, 10, n)], np.char.add(" ", words[rng.integers(0, 10, n)])),
            ]
            lines = cols[0]
            for col in cols[1:]:
                lines = np.char.add(np.char.add(lines, ","), col)
            fh.write("\n".join(lines.tolist()))
            fh.write("\n")


def peak_rss_mb() -> float:
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across fork + exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of every thread of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_pyarrow(path: Path) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    cpu = cpu_seconds()
    start = time.perf_counter()
    table = pacsv.read_csv(path)
    pq.write_table(table, path.with_suffix(".bare.parquet"))
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": cpu_seconds() - cpu,
        "peak_rss_mb": peak_rss_mb(),
        "rows": table.num_rows,
    }


def phase_register(path: Path) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from governance.catalog.services import dataset_create, dataset_version_upload

    user = User.objects.create_user("bench")
    dataset = dataset_create(actor=user, name="bench")
    # A running web server or worker has its URLconf and task modules loaded; the first job a fresh process
    # enqueues would otherwise import all of them (and the ML stack) inside the timed upload (~15 s at load).
    from celery import current_app
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018
    current_app.loader.import_default_modules()
    rss_before = peak_rss_mb()
    cpu = cpu_seconds()
    start = time.perf_counter()
    with path.open("rb") as fh:
        version, created = dataset_version_upload(actor=user, dataset=dataset, source=fh, filename=path.name)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    assert created and version.profile_status == "done"
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "rows": version.row_count,
        "columns": len(version.columns),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternating pyarrow/registration runs")
    parser.add_argument("--phase", choices=["pyarrow", "register"])
    parser.add_argument("file", nargs="?")
    args = parser.parse_args()
    if args.phase:
        result = phase_pyarrow(Path(args.file)) if args.phase == "pyarrow" else phase_register(Path(args.file))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as tmp:
        csv_path = Path(tmp) / "events.csv"
        t = time.perf_counter()
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows x 10 columns, {size_mb:.1f} MB in {time.perf_counter() - t:.1f} s")
        # On a shared machine the load drifts: the phases alternate, each pair gives a ratio, the median is reported.
        pairs = []
        cpu_ratios: list[float] = []
        for run in range(args.repeat):
            env = dict(os.environ, STEWARD_DATA_DIR=str(Path(tmp) / f"data-{run}"))  # a fresh database each run
            results = {}
            for phase in ("pyarrow", "register"):
                out = subprocess.run(
                    [sys.executable, __file__, "--phase", phase, str(csv_path)],
                    env=env,
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results[phase] = json.loads(out.strip().splitlines()[-1])
            bare, reg = results["pyarrow"], results["register"]
            pairs.append((reg["seconds"] / bare["seconds"], bare, reg))
            print(
                f"pyarrow read_csv + write_table : {bare['seconds']:6.2f} s ({bare['cpu_seconds']:.2f} s CPU)   "
                f"peak RSS {bare['peak_rss_mb']:7.1f} MB"
            )
            print(
                f"steward registration           : {reg['seconds']:6.2f} s ({reg['cpu_seconds']:.2f} s CPU)   "
                f"peak RSS {reg['peak_rss_mb']:7.1f} MB "
                f"(process before upload: {reg['rss_before_mb']:.1f} MB; hash + Parquet copy + profile)"
            )
            cpu_ratios.append(reg["cpu_seconds"] / bare["cpu_seconds"])
            print(f"  ratio {pairs[-1][0]:.2f}x (CPU time {cpu_ratios[-1]:.2f}x)")
        ratios = sorted(r for r, _, _ in pairs)
        ratio = ratios[len(ratios) // 2]
        peak = max(reg["peak_rss_mb"] for _, _, reg in pairs)
        print(
            f"median ratio {ratio:.2f}x of {len(ratios)} runs ({', '.join(f'{r:.2f}' for r in ratios)}; target <= 2x); "
            f"peak memory {'under' if peak < 1024 else 'OVER'} 1 GiB"
        )
        # On a loaded machine wall times follow each process's share of the cores; CPU time follows the work done.
        cpu_ratios.sort()
        listed = ", ".join(f"{r:.2f}" for r in cpu_ratios)
        print(f"median CPU-time ratio {cpu_ratios[len(cpu_ratios) // 2]:.2f}x ({listed})")


if __name__ == "__main__":
    main()
