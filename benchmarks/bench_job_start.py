"""How long a search job waits for its gallery before the first frame: the per-user Faiss index.

    .venv/bin/python benchmarks/bench_job_start.py                   # 10k vehicles, SQLite
    .venv/bin/python benchmarks/bench_job_start.py --vehicles 50000 --database-url postgres://...

Throwaway everything (temp folder with SQLite file and MEDIA_ROOT, or the given database, which
must be empty). Seeds N vehicles with one 1280-d photo each (manage.py seed_gallery), then times
gallery.index.user_gallery() as a job start calls it: once cold (no stored index: the vectors are
read, the index built and stored) and --repeat times warm (the stored index is current: checking
its version and loading it). Prints a Markdown table and writes JSON (--out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_env(tmp: Path, database_url: str) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "vreid_site.settings", "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "0", "VREID_VAR_DIR": str(tmp), "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"), "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url or f"sqlite:///{tmp / 'db.sqlite3'}",
    }
    os.environ.update(env)
    return env


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="", help="an empty database (default: SQLite in a temp folder)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "job_start.json"))
    args = parser.parse_args(argv)
    if not (1 <= args.vehicles <= 200_000 and 1 <= args.repeat <= 50):
        parser.error("--vehicles 1..200000, --repeat 1..50")

    tmp = Path(tempfile.mkdtemp(prefix="vreid-jobstart-"))
    try:
        env = setup_env(tmp, args.database_url)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)  # setup_env set os.environ
        subprocess.run([*manage, "seed_gallery", "--vehicles", str(args.vehicles), "--user", "bench"],
                       cwd=ROOT, check=True)
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from gallery.engine_cache import get_engine
        from gallery.index import user_gallery

        user = get_user_model().objects.get(username="bench")
        engine = get_engine("cpu")
        cold_ms = timed(lambda: user_gallery(user, engine))
        warm = [timed(lambda: user_gallery(user, engine)) for _ in range(args.repeat)]
        size = len(user_gallery(user, engine))
        report = {
            "machine": f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}",
            "database": env["DATABASE_URL"].split(":")[0], "vehicles": args.vehicles, "indexed": size,
            "cold_ms": round(cold_ms, 1), "warm_ms": [round(v, 1) for v in warm],
            "warm_median_ms": round(statistics.median(warm), 1),
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"{report['machine']}; {report['database']}\n")
        print("| vehicles | cold: build + store ms | warm: version check + load ms (median) | warm runs |")
        print("|---|---|---|---|")
        print(f"| {size:,} | {report['cold_ms']} | {report['warm_median_ms']} | {report['warm_ms']} |")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
