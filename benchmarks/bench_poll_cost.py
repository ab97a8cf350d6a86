"""What a progress poll costs the server, next to a bare authenticated view (issue 12).

    .venv/bin/python benchmarks/bench_poll_cost.py                 # SQLite, 10k vehicles
    .venv/bin/python benchmarks/bench_poll_cost.py --postgres      # throwaway PostgreSQL database

Throwaway everything, as benchmarks/load_test.py (whose environment, session and HTTP driver it
uses): a temp folder, its own Redis database (--redis-db, flushed), optionally its own PostgreSQL
database. It seeds a user with --vehicles vehicles, a RUNNING job of --files files with a few hits,
and a QUEUED job; a thread of this process plays the worker, writing the running job's progress and
heartbeat to the database and publishing its snapshot every 0.5 s, as searches.runner does (no
detector: only the web side is measured). gunicorn (gthread, 2 x 4, DEBUG off) serves the app with
the benchmark's own URLconf (benchmarks/poll_urls.py: a bare authenticated view returning a
constant, and the poll as it was before the snapshot).

Per endpoint, at a moderate fixed rate (--cpu-rate): the server's CPU time (user + system of
gunicorn's processes, from /proc) per answered request, and the latencies. Endpoints:
  bare          /bench/bare/: session + user + a constant
  poll          the progress poll from --clients browsers, each polling as htmx does (its copy's
                hx-vals in the query: version, hits version, poll token; answered before
                Django's middleware, searches.fast_poll) and sending its copy's ETag
                (If-None-Match, as the browser's cache does): 200 from the snapshot, 204 or 304
  poll-200      the same path, plain (no hx-vals, no If-None-Match): always the whole fragment
                from the snapshot, through Django
  poll-queued   a queued job's poll, from the browsers (its snapshot lives QUEUED_TTL_S, then
                one rebuild; the same content keeps its ETag: 304)
  poll-db       the poll before the snapshot: job, hits version, files, render, every time
  gallery       the gallery page (48 per page) at --gallery-rate
Then the p99 of the poll (with browsers) and of the bare view at --rate. Also: the CPU speed (a
pure-Python loop of 10M additions) and the load average, since the machine may be shared.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's code first: the editable install of a shared venv may point at another checkout.
sys.path.insert(0, str(ROOT))
from benchmarks.load_test import (  # noqa: E402
    cgroup_joiner,
    cgroup_loop_s,
    create_postgres_db,
    drive,
    drop_postgres_db,
    http_ok,
    manage,
    session_cookie,
    setup_env,
    stop,
    wait_for,
)

PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def server_cpu_s(master: int) -> float:
    """User + system CPU seconds of gunicorn's master and its workers."""
    pids = [master]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(entry))
            except OSError:
                continue
    return sum(process_cpu_s(pid) for pid in pids)


def seed_jobs(user, files: int):
    from django.utils import timezone

    from gallery.models import Vehicle
    from searches import lifecycle
    from searches.models import Hit, SearchFile, SearchJob

    now = timezone.now()
    job = SearchJob.objects.create(owner=user, name=f"poll cost ({files} files)", status=SearchJob.Status.RUNNING,
                                   started_at=now, heartbeat_at=now, rq_job_id="bench-worker", progress=0.1)
    rows = [SearchFile(job=job, position=i, original_name=f"cam{i % 4}/clip-{i:03d}.mp4", kind="video",
                       status="running" if i == 0 else "pending", frames_total=9000, fps=25.0) for i in range(files)]
    SearchFile.objects.bulk_create(rows)
    first = job.files.get(position=0)
    for i, vehicle in enumerate(Vehicle.objects.filter(owner=user)[:5]):
        Hit.objects.create(job=job, file=first, vehicle=vehicle, start_s=10 * i, end_s=10 * i + 3, start_frame=250 * i,
                           end_frame=250 * i + 75, distance=0.2, box=[10, 10, 100, 80])
    queued = SearchJob.objects.create(owner=user, name="poll cost (queued)")
    SearchFile.objects.create(job=queued, original_name="waiting.mp4", kind="video")
    lifecycle.queue(queued)
    return job, queued


class FakeWorker(threading.Thread):
    """Writes the running job's progress as searches.runner does (every 0.5 s) and publishes."""

    def __init__(self, job):
        super().__init__(daemon=True)
        self.job, self.stopped, self.writes = job, threading.Event(), 0

    def run(self):
        from django.db import connection
        from django.utils import timezone

        from searches import progress_cache
        from searches.models import SearchFile, SearchJob

        frames = 0
        try:
            while not self.stopped.wait(0.5):
                frames = min(frames + 20, 9000)
                SearchFile.objects.filter(job=self.job, position=0).update(
                    frames_done=frames, progress=frames / 9000, elapsed_s=frames / 40, speed_fps=40.0)
                SearchJob.objects.filter(pk=self.job.pk).update(
                    progress=frames / 9000 / 12, heartbeat_at=timezone.now(), eta_s=3600.0, speed_fps=40.0,
                    elapsed_s=frames / 40)
                progress_cache.publish(self.job.pk)
                self.writes += 1
        finally:
            connection.close()


def measure(args, master: int, name: str, path: str, rate: float, duration: float, cookie: str, expect: bytes,
            clients: int = 0) -> dict:
    before = server_cpu_s(master)
    result = asyncio.run(drive("127.0.0.1", args.port, [path], cookie, rate, duration, expect, clients=clients))
    used = server_cpu_s(master) - before
    answered = result["completed"] or 1
    statuses = result["statuses"]
    return {"endpoint": name, **result, "server_cpu_ms_per_request": round(1000 * used / answered, 2),
            "share_unchanged": round((statuses.get("204", 0) + statuses.get("304", 0)) / answered, 3)}


def markdown(rows) -> str:
    lines = ["| endpoint | req/s (target → achieved) | server CPU ms/request | vs bare | 204/304 share | p50 ms | p99 ms | max ms | bad |",
             "|---|---|---|---|---|---|---|---|---|"]
    bare = next((r["server_cpu_ms_per_request"] for r in rows if r["endpoint"] == "bare"), None)
    for r in rows:
        ratio = f"{r['server_cpu_ms_per_request'] / bare:.2f}×" if bare else "–"
        bad = r["scheduled"] - r["ok"] + r["unexpected_body"]
        lines.append(f"| {r['endpoint']} | {r['target_rps']:g} → {r['achieved_rps']} | {r['server_cpu_ms_per_request']} | "
                     f"{ratio} | {r['share_unchanged']:.0%} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                     f"{bad} {r['errors'] or ''} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=10000)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--cpu-rate", type=float, default=100.0, help="req/s of the CPU-cost runs")
    parser.add_argument("--cpu-duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="req/s of the p99 runs")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--gallery-rate", type=float, default=20.0)
    parser.add_argument("--gallery-duration", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=200, help="browsers polling (each once a second at 200 req/s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "bench_poll_cost.json"))
    parser.add_argument("--cpu-cgroup", default="", help="run gunicorn in this cgroup (a slower VM; the loop is then "
                                                         "measured there, two at once)")
    args = parser.parse_args(argv)
    if args.redis_db in (0, 15) or not (0 < args.rate <= 1000) or not (0 < args.cpu_rate <= 1000) \
            or not (0 < args.duration <= 120) or not (0 < args.cpu_duration <= 120):
        parser.error("redis db 0/15 belong to the app and the tests; rates/durations must be bounded")

    load_before = os.getloadavg()
    loop_s = cgroup_loop_s(args.cpu_cgroup, parallel=2 if args.cpu_cgroup else 1)
    tmp = Path(tempfile.mkdtemp(prefix="vreid-pollcost-"))
    pg_name = f"vreid_pollcost_{os.getpid()}" if args.postgres else ""
    if pg_name:
        args.database_url = create_postgres_db(pg_name)
    env = setup_env(args, tmp)
    os.environ.update(env)
    server = worker = None
    try:
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_gallery", "--vehicles", str(args.vehicles), "--user", "loadtest")
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username="loadtest")
        job, queued = seed_jobs(user, args.files)
        cookie = session_cookie(user)
        worker = FakeWorker(job)
        worker.start()
        server = subprocess.Popen(
            [PY, "-m", "gunicorn", "vreid_site.wsgi:application", "--bind", f"127.0.0.1:{args.port}",
             "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
             "--backlog", "512", "--log-level", "warning"],
            cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "benchmarks.poll_settings"},
            stdout=open(tmp / "gunicorn.log", "wb"), stderr=subprocess.STDOUT, preexec_fn=cgroup_joiner(args.cpu_cgroup),
        )
        wait_for(lambda: server.poll() is None and http_ok(args.port), 60, what="gunicorn")
        poll, poll_queued = f"/searches/{job.pk}/progress/", f"/searches/{queued.pk}/progress/"
        poll_db, gallery = f"/bench/poll-db/{job.pk}/", "/gallery/"
        fragment, bare = b'id="job-progress"', "/bench/bare/"
        asyncio.run(drive("127.0.0.1", args.port, [bare, poll, poll_db, poll_queued, gallery], cookie, 20, 3, b""))
        rows = []
        for name, path, expect, clients in (("bare", bare, fragment, 0), ("poll", poll, fragment, args.clients),
                                            ("poll-200", poll, fragment, 0), ("poll-queued", poll_queued, fragment, args.clients),
                                            ("poll-db", poll_db, fragment, 0)):
            print(f"[poll-cost] {name} at {args.cpu_rate:g} req/s ...", flush=True)
            rows.append(measure(args, server.pid, name, path, args.cpu_rate, args.cpu_duration, cookie, expect, clients))
        print("[poll-cost] gallery ...", flush=True)
        rows.append(measure(args, server.pid, "gallery", gallery, args.gallery_rate, args.gallery_duration, cookie,
                            b"Your vehicles"))
        p99 = []
        for name, path, clients in (("poll", poll, args.clients), ("bare", bare, 0)):
            print(f"[poll-cost] {name} at {args.rate:g} req/s ...", flush=True)
            p99.append(measure(args, server.pid, name, path, args.rate, args.duration, cookie, fragment, clients))
        report = {
            "machine": f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · "
                       f"Python {platform.python_version()}",
            "cpu_loop_10M_additions_s": loop_s, "load_average_before": load_before,
            "load_average_after": os.getloadavg(), "database": env["DATABASE_URL"].split(":")[0],
            "vehicles": args.vehicles, "files": args.files, "fake_worker_publishes": worker.writes,
            "server": f"gunicorn gthread {args.workers} workers x {args.threads} threads, DEBUG=0",
            "cost": rows, "p99": p99,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"\n{report['machine']}; pure-Python loop of 10M additions: {loop_s} s; load average before "
              f"{', '.join(f'{v:.2f}' for v in load_before)}, after {', '.join(f'{v:.2f}' for v in report['load_average_after'])}")
        print(f"{report['server']}; {report['database']}; {args.vehicles} vehicles; job of {args.files} files; "
              f"the fake worker published {worker.writes} snapshots\n")
        print(f"CPU cost at {args.cpu_rate:g} req/s (gallery at {args.gallery_rate:g}):\n" + markdown(rows))
        print(f"\nAt {args.rate:g} req/s:\n" + markdown(p99))
        return 0
    finally:
        if worker is not None:
            worker.stopped.set()
            worker.join(5)
        stop(server)
        if pg_name:
            from django.db import connections

            connections.close_all()
            drop_postgres_db(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
