"""Bounded load test of the web app on loopback: the job-progress fragment and the gallery page.

    .venv/bin/python benchmarks/load_test.py                       # SQLite, 10k vehicles, all scenarios
    .venv/bin/python benchmarks/load_test.py --postgres            # throwaway PostgreSQL database
    .venv/bin/python benchmarks/load_test.py --rate 200 --duration 20 --scenarios idle,job,job-nice
    .venv/bin/python benchmarks/load_test.py --scenarios job-nice-1thread --repeat 5   # is the tail stable?

Everything is throwaway: a temp folder (SQLite file, MEDIA_ROOT, STATIC_ROOT), its own Redis
database (--redis-db, flushed; default 13), optionally its own PostgreSQL database (dropped at the
end). It seeds a user with N vehicles (manage.py seed_gallery) plus one real vehicle registered
from bikes.mp4, serves the app with gunicorn (gthread, DEBUG off, static via whitenoise) and,
per scenario:

  idle      no worker: the job sits queued, the fragment renders its files
  idle-big  the same for a queued job of --big-files files (a zip of 2000 images)
  job       a real RQ worker (manage.py rqworker) runs a real search over copies of bikes.mp4
            (stride 1, all N+1 vehicles) during the measurement, at normal CPU priority
  job-nice  the same with the worker at `nice -n 10`
  job-nice-1thread  the same, and onnxruntime limited to one thread (VREID_ENGINE_THREADS=1):
            what scripts/start.sh runs (with the same gunicorn configuration as here)
  job-idle-1thread  the worker at idle priority instead (`chrt --idle 0`, SCHED_IDLE: it runs
            only when nothing else wants the CPU), one onnxruntime thread

and drives, from this process, a fixed-rate open-loop load with asyncio over keep-alive
connections: request i is due at t0 + i/rate and its latency is measured from that due time (no
coordinated omission: a stalled server makes the queued requests count as slow). First the
progress endpoint at --rate for --duration, then the gallery page at --gallery-rate. Every loop
has a request count and a time limit. Prints a Markdown table and writes JSON (--out).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, whatever checkout a shared venv's editable install names
PY = sys.executable


# -- HTTP load generator (raw HTTP/1.1 over asyncio streams, keep-alive) -------------------------

class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    def close(self):
        try:
            self.writer.close()
        except Exception:
            pass


async def _read_response(reader) -> tuple[int, bytes, bool, dict]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    elif status in (204, 304):
        body = b""
    else:
        body = await reader.read()
        return status, body, False, headers
    keep = headers.get("connection", "").lower() != "close"
    return status, body, keep, headers


async def drive(host: str, port: int, paths: list[str], cookie: str, rate: float, duration: float,
                expect: bytes, max_conns: int = 128, timeout_s: float = 10.0, clients: int = 0) -> dict:
    """Open-loop fixed-rate GETs; latency from each request's scheduled time.

    clients > 0: request i comes from browser i % clients, which polls as htmx does: with the
    hx-vals of the copy it last received in the query (its version, hits version and poll token:
    204 when nothing changed), and that copy's ETag as If-None-Match, as a browser's HTTP cache
    does (304). Both count as answered."""
    loop = asyncio.get_running_loop()
    total = int(rate * duration)
    idle: asyncio.Queue = asyncio.Queue()
    state = {"open": 0, "opened": 0}
    latencies, service, statuses, errors = [], [], {}, {}
    unexpected = 0
    etags: dict[int, str] = {}
    vals: dict[int, str] = {}  # each browser's query: its copy's hx-vals
    t0 = loop.time() + 0.5

    async def get_conn():
        try:
            return idle.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if state["open"] < max_conns:
            state["open"] += 1
            state["opened"] += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except Exception:
                state["open"] -= 1
                raise
            return Conn(reader, writer)
        return await idle.get()  # all busy: wait (the wait counts in the latency)

    async def one(i: int):
        nonlocal unexpected
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        conn = None
        try:
            async with asyncio.timeout(timeout_s):
                conn = await get_conn()
                sent = loop.time()
                client = i % clients if clients else None
                path = paths[i % len(paths)] + (f"?{vals[client]}" if client in vals else "")
                conditional = f"If-None-Match: {etags[client]}\r\n" if client in etags else ""
                conn.writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
                    f"HX-Request: true\r\nAccept: text/html\r\n{conditional}\r\n".encode()
                )
                status, body, keep, headers = await _read_response(conn.reader)
                if client is not None and status == 200 and "etag" in headers:
                    etags[client] = headers["etag"]
                    vals[client] = _hx_vals(body)
            done = loop.time()
            latencies.append(done - due)
            service.append(done - sent)
            statuses[status] = statuses.get(status, 0) + 1
            if status in (204, 304) and clients:
                pass
            elif status != 200 or expect not in body:
                unexpected += 1
            if keep:
                idle.put_nowait(conn)
            else:
                conn.close()
                state["open"] -= 1
        except Exception as exc:  # timeout, reset, ...
            name = type(exc).__name__
            errors[name] = errors.get(name, 0) + 1
            if conn is not None:
                conn.close()
                state["open"] -= 1

    tasks = [asyncio.create_task(one(i)) for i in range(total)]
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), duration + timeout_s + 5)
    except TimeoutError:
        pass
    wall = time.monotonic() - started - 0.5
    for task in tasks:
        task.cancel()
    while not idle.empty():
        idle.get_nowait().close()
    return _summary(total, latencies, service, statuses, errors, unexpected, wall, rate, state["opened"])


def _hx_vals(body: bytes) -> str:
    """The query htmx sends with the next poll of this fragment: its hx-vals."""
    found = re.search(rb"hx-vals='([^']*)'", body)
    return urlencode(json.loads(found.group(1))) if found else ""


def _pct(sorted_values, q):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return round(1000 * sorted_values[index], 1)


def _summary(total, latencies, service, statuses, errors, unexpected, wall, rate, opened) -> dict:
    lat, svc = sorted(latencies), sorted(service)
    ok = sum(n for s, n in statuses.items() if s in (200, 204, 304))
    return {
        "target_rps": rate, "scheduled": total, "completed": len(lat), "ok": ok,
        "achieved_rps": round(len(lat) / wall, 1) if wall > 0 else None,
        "p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95), "p99_ms": _pct(lat, 99), "max_ms": _pct(lat, 100),
        "service_p50_ms": _pct(svc, 50), "service_p99_ms": _pct(svc, 99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors, "unexpected_body": unexpected, "connections_opened": opened,
    }


# -- throwaway environment ------------------------------------------------------------------------

def setup_env(args, tmp: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "vreid_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "0",
        "VREID_VAR_DIR": str(tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"),
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'db.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def create_postgres_db(name: str) -> str:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def drop_postgres_db(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env, *argv, timeout=600):
    subprocess.run([PY, "manage.py", *argv], cwd=ROOT, env=env, check=True, timeout=timeout)


def real_vehicle(user):
    """Register the parked car of bikes.mp4 frame 160 with the real engine, so the job has hits."""
    from engine import api
    from gallery.engine_cache import get_engine
    from gallery.models import Vehicle
    from gallery.registration import add_view
    from tests.media import bikes_mp4

    frame = api.read_frame(bikes_mp4(), 160)
    engine = get_engine("cpu")
    dets = [d for d in engine.detect(frame) if (d.box[0] + d.box[2]) / 2 > 400] or engine.detect(frame)
    box = tuple(int(v) for v in dets[0].box)
    vehicle = Vehicle.objects.create(owner=user, label="AAA real car")
    add_view(vehicle, frame, box)
    return vehicle


def make_job(user, copies: int, source=None):
    from django.core.files import File

    from searches.models import SearchFile, SearchJob
    from tests.media import bikes_mp4

    job = SearchJob.objects.create(owner=user, name=f"load test ({copies} x bikes.mp4)", frame_stride=1)
    for position in range(copies):
        row = SearchFile(job=job, position=position, original_name=f"bikes-{position}.mp4", kind="video")
        if source is not None:
            row.file.name = source.files.get(position=position).file.name
            row.save()
        else:
            with open(bikes_mp4(), "rb") as fh:
                row.file.save(f"bikes-{position}.mp4", File(fh), save=True)
    return job


def big_job(user, files: int, base_job):
    """A queued job of `files` rows (a big zip of images), all pointing at one stored file."""
    from searches.models import SearchFile, SearchJob

    job = SearchJob.objects.create(owner=user, name=f"load test ({files} files)", frame_stride=1)
    stored = base_job.files.first().file.name
    rows = [SearchFile(job=job, position=i, original_name=f"cam{i % 7}/img-{i:05d}.jpg", kind="image")
            for i in range(files)]
    for row in rows:
        row.file.name = stored
    SearchFile.objects.bulk_create(rows, batch_size=1000)
    return job


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def wait_for(predicate, limit_s: float, step: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {limit_s:.0f} s waiting for {what}")


def cgroup_joiner(cgroup: str):
    """A Popen preexec_fn that moves the child into `cgroup` (a folder of the cgroup file system,
    made and given a CPU quota beforehand: see RESULTS.md, "a slower VM"), or None."""
    if not cgroup:
        return None
    procs = Path(cgroup) / "cgroup.procs"
    if not procs.is_file():
        raise SystemExit(f"{procs}: no such cgroup")
    return lambda: procs.write_text(str(os.getpid()))


def cgroup_loop_s(cgroup: str, parallel: int = 2) -> list[float]:
    """Seconds of a pure-Python loop of 10M additions (issue 12's measure of a machine), `parallel`
    at once inside `cgroup` if one is given (one per core of the machine it stands for): the speed
    that machine's processes see."""
    code = "import time;t=time.perf_counter();s=0\nfor i in range(10_000_000): s+=i\nprint(round(time.perf_counter()-t,2))"
    runs = [subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True, preexec_fn=cgroup_joiner(cgroup))
            for _ in range(parallel)]
    return [float(run.communicate()[0]) for run in runs]


def http_ok(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/accounts/login/")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def stop(proc, grace_s: float = 20.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# -- scenarios ------------------------------------------------------------------------------------

# name: (worker nice level or None for no worker, onnxruntime threads per model; 0 = all cores)
SCENARIOS = {"idle": (None, 0), "idle-big": (None, 0), "job": (0, 0), "job-nice": (10, 0),
             "job-nice-1thread": (10, 1), "job-idle-1thread": ("idle", 1)}


def run_scenario(name, args, env, user, cookie, base_job, tmp) -> dict:
    from searches import lifecycle
    from searches.models import SearchFile, SearchJob

    worker = None
    nice, threads = SCENARIOS[name]
    if name == "idle-big":
        job = big_job(user, args.big_files, base_job)
    else:
        job = base_job if nice is None else make_job(user, args.copies, source=base_job)
    result = {"scenario": name, "worker_nice": nice, "job_id": job.pk}
    try:
        if nice is not None:
            _worker_takes_only(job, base_job, user)
            cmd = [PY, "manage.py", "rqworker", "default", "--burst"]
            if nice == "idle":
                cmd = ["chrt", "--idle", "0", *cmd]
            elif nice:
                cmd = ["nice", "-n", str(nice), *cmd]
            log = open(tmp / f"worker-{name}.log", "wb")
            worker_env = {**env, "VREID_ENGINE_THREADS": str(threads)}
            worker = subprocess.Popen(cmd, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=cgroup_joiner(args.worker_cgroup or args.cpu_cgroup))
            lifecycle.queue(job)
            wait_for(lambda: SearchFile.objects.filter(job=job, frames_done__gt=0).exists(), 180,
                     what="the worker to start processing frames")
            time.sleep(2)  # past the first frames' warm-up
        progress_path = f"/searches/{job.pk}/progress/"
        gallery_paths = ["/gallery/", f"/gallery/?page={args.vehicles // 96 or 1}",
                         f"/gallery/?page={args.vehicles // 48 or 1}"]
        # Warm-up (discarded): every gunicorn worker/thread imports lazily, connects, compiles templates.
        asyncio.run(drive("127.0.0.1", args.port, [progress_path, *gallery_paths], cookie, 20, 2, b""))
        frames_before = _frames(job)
        t_start = time.monotonic()
        result["progress"] = asyncio.run(drive(
            "127.0.0.1", args.port, [progress_path], cookie, args.rate, args.duration, b'id="job-progress"',
            clients=args.browser_clients,
        ))
        result["gallery"] = asyncio.run(drive(
            "127.0.0.1", args.port, gallery_paths, cookie, args.gallery_rate, args.gallery_duration, b"Your vehicles",
        ))
        elapsed = time.monotonic() - t_start
        job.refresh_from_db()
        result["job_status_after"] = job.status
        result["job_hits"] = job.hits.count()
        if nice is not None:
            result["worker_fps_during_load"] = round((_frames(job) - frames_before) / elapsed, 1)
            if job.status != SearchJob.Status.RUNNING:
                result["warning"] = f"job was {job.status} at the end of the measurement"
    finally:
        if worker is not None:
            lifecycle.cancel(job)
            try:
                worker.wait(30)  # the runner sees the cancel within a second; --burst then exits
            except subprocess.TimeoutExpired:
                stop(worker)
            SearchJob.objects.filter(pk=base_job.pk).update(status=SearchJob.Status.QUEUED, rq_job_id="")
    return result


def _worker_takes_only(job, base_job, user) -> None:
    """The worker must run this scenario's job, and read its videos: the idle scenarios' queued
    job (never put on the queue) is set aside, or the lost-job check would hand it to the worker
    first; and the footage index is emptied, or a copy indexed by an earlier scenario would be
    answered from it without reading a frame."""
    from searches.models import Footage, SearchJob

    SearchJob.objects.filter(pk=base_job.pk).update(status=SearchJob.Status.PAUSED)
    Footage.objects.filter(owner=user).delete()


def _frames(job) -> int:
    from django.db.models import Sum

    return job.files.aggregate(n=Sum("frames_done"))["n"] or 0


def markdown(results, args) -> str:
    rows = ["| run | scenario | endpoint | target req/s | achieved req/s | p50 ms | p95 ms | p99 ms | max ms | non-200 / errors | worker frames/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for key, label in (("progress", "progress fragment"), ("gallery", "gallery page (48/page)")):
            m = r[key]
            bad = m["scheduled"] - m["ok"] + m["unexpected_body"]
            rows.append(
                f"| {r['run']} | {r['scenario']} | {label} | {m['target_rps']:g} | {m['achieved_rps']} | {m['p50_ms']} | "
                f"{m['p95_ms']} | {m['p99_ms']} | {m['max_ms']} | {bad} {m['errors'] or ''} | "
                f"{r.get('worker_fps_during_load', '–')} |"
            )
    return "\n".join(rows)


def p99_summary(results, target_ms: float) -> list[str]:
    """Per scenario: the progress p99 over the runs, and in how many it met the target."""
    lines = []
    for name in dict.fromkeys(r["scenario"] for r in results):
        p99 = sorted(r["progress"]["p99_ms"] for r in results if r["scenario"] == name)
        met = sum(v < target_ms for v in p99)
        lines.append(f"{name}: progress p99 over {len(p99)} run(s): min {p99[0]}, median "
                     f"{p99[len(p99) // 2]}, max {p99[-1]} ms; under {target_ms:g} ms in {met} of {len(p99)}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=200.0, help="progress requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per progress run (<= 120)")
    parser.add_argument("--gallery-rate", type=float, default=20.0)
    parser.add_argument("--gallery-duration", type=float, default=15.0)
    parser.add_argument("--scenarios", default="idle,job,job-nice")
    parser.add_argument("--repeat", type=int, default=1, help="run the scenarios this many times (<= 10)")
    parser.add_argument("--target-p99-ms", type=float, default=100.0, help="reported: runs under this p99")
    parser.add_argument("--big-files", type=int, default=2000, help="files of the idle-big scenario's job")
    parser.add_argument("--copies", type=int, default=12, help="bikes.mp4 copies in the job (250 frames each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--browser-clients", type=int, default=0,
                        help="progress polls come from this many browsers, each sending the ETag of its copy (0: none)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--database-url", default="", help="default: a SQLite file in the temp folder")
    parser.add_argument("--postgres", action="store_true", help="create (and drop) a throwaway PostgreSQL db")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "load_test.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--cpu-cgroup", default="", help="run gunicorn and the worker in this cgroup (a slower VM)")
    parser.add_argument("--worker-cgroup", default="", help="run the worker in this cgroup instead (e.g. a low-weight "
                                                            "child of --cpu-cgroup)")
    args = parser.parse_args(argv)
    if args.redis_db in (0, 15) or not (0 < args.rate <= 2000) or not (0 < args.duration <= 120) \
            or not (0 < args.gallery_rate <= 500) or not (0 < args.gallery_duration <= 120) \
            or not (1 <= args.repeat <= 10) or not (1 <= args.big_files <= 100_000):
        parser.error("redis db 0/15 belong to the app and the tests; rates/durations must be bounded")

    tmp = Path(tempfile.mkdtemp(prefix="vreid-load-"))
    pg_name = f"vreid_load_{os.getpid()}" if args.postgres else ""
    if pg_name:
        args.database_url = create_postgres_db(pg_name)
    env = setup_env(args, tmp)
    os.environ.update(env)
    server = None
    try:
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        t = time.monotonic()
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_gallery", "--vehicles", str(args.vehicles), "--user", "loadtest")
        seed_s = time.monotonic() - t
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username="loadtest")
        real_vehicle(user)
        base_job = make_job(user, args.copies)
        cookie = session_cookie(user)
        server_log = open(tmp / "gunicorn.log", "wb")
        server = subprocess.Popen(
            [PY, "-m", "gunicorn", "vreid_site.wsgi:application", "--bind", f"127.0.0.1:{args.port}",
             "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
             "--backlog", "512", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT, preexec_fn=cgroup_joiner(args.cpu_cgroup),
        )
        def up():
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {tmp / 'gunicorn.log'} (--keep keeps it)")
            return http_ok(args.port)

        wait_for(up, 60, what="gunicorn")
        results = []
        for run in range(1, args.repeat + 1):
            for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
                print(f"[load] run {run}/{args.repeat}: scenario {name} ...", flush=True)
                results.append({"run": run, **run_scenario(name, args, env, user, cookie, base_job, tmp)})
                print(json.dumps(results[-1], indent=1), flush=True)
        report = {
            "load_average_after": os.getloadavg(),
            "machine": f"{platform.node()} · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()} · "
                       f"Python {platform.python_version()}",
            "database": env["DATABASE_URL"].split(":")[0], "vehicles": args.vehicles + 1,
            "seed_s": round(seed_s, 1), "cpu_cgroup": args.cpu_cgroup, "worker_cgroup": args.worker_cgroup,
            "cpu_loop_10M_additions_s": cgroup_loop_s(args.cpu_cgroup),
            "server": f"gunicorn gthread {args.workers} workers x {args.threads} threads, DEBUG=0",
            "results": results,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f"\n{report['machine']}; pure-Python loop of 10M additions, two at once"
              f"{' in ' + args.cpu_cgroup if args.cpu_cgroup else ''}: {report['cpu_loop_10M_additions_s']} s"
              f"\n{report['server']}; {report['database']}; {report['vehicles']} vehicles "
              f"(seeded in {report['seed_s']} s)\n")
        print(markdown(results, args))
        print("\n" + "\n".join(p99_summary(results, args.target_p99_ms)))
        return 0
    except BaseException:
        args.keep = True  # keep the logs of a failed run
        raise
    finally:
        stop(server)
        if pg_name:
            from django.db import connections

            connections.close_all()
            drop_postgres_db(pg_name)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
