"""Faults: a worker dying mid-video, Redis losing its queue, the database going away.

The in-process tests here (and in test_staleness.py) check the pieces: checkpoints, idempotent
hits, guarded writes, database retries, recovery of dead and lost jobs. test_fault_drill runs
scripts/fault_drill.py, which does the faults for real with real processes; within the suite's
time budget only its "kill" (SIGKILL mid-video) and "multi" (two users, two workers) scenarios.
"horse", "redis" and "db" run from the script (`.venv/bin/python scripts/fault_drill.py`, all
scenarios, ~2.5 min on 2 cores) or with VREID_DRILL_SCENARIOS="kill horse redis db multi".
"""
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone

from engine import api
from searches import dbretry
from searches.models import Hit, SearchFile, SearchJob
from searches.runner import JobRunner
from searches.staleness import recover_all
from tests.web.conftest import make_vehicle
from tests.web.test_search_jobs import start_job

ROOT = Path(__file__).resolve().parents[2]
DRILL_SCENARIOS = os.environ.get("VREID_DRILL_SCENARIOS", "kill multi").split()


def interval(vehicle, start, end):
    return api.Interval(gallery_id=vehicle.pk, start_s=start / 25, end_s=end / 25, start_frame=start,
                        end_frame=end, best_frame=start, best_time_s=start / 25, best_distance=0.1,
                        box=(1, 2, 3, 4), frame=None)


@pytest.mark.django_db
def test_hits_are_stored_once_and_only_by_the_runner_owning_the_job(user):
    vehicle = make_vehicle(user)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, rq_job_id="rq-1")
    search_file = SearchFile.objects.create(job=job, original_name="a.mp4", kind="video")
    runner = JobRunner(job, "rq-1", engine=None, gallery=None)

    runner.on_interval(search_file, interval(vehicle, 100, 150))
    runner.on_interval(search_file, interval(vehicle, 100, 150))  # the same interval again
    assert list(Hit.objects.values_list("start_frame", "end_frame")) == [(100, 150)]
    runner.on_interval(search_file, interval(vehicle, 110, 160))  # found again, a bit longer, after a resume
    assert list(Hit.objects.values_list("start_frame", "end_frame")) == [(100, 160)]  # joined, not doubled
    runner.on_interval(search_file, interval(vehicle, 300, 320))  # a new sighting
    assert Hit.objects.count() == 2

    SearchJob.objects.filter(pk=job.pk).update(status=SearchJob.Status.PAUSED)
    runner.on_interval(search_file, interval(vehicle, 400, 420))  # flushed on pausing: kept
    assert Hit.objects.count() == 3

    SearchJob.objects.filter(pk=job.pk).update(rq_job_id="rq-2")  # re-queued: another worker owns it now
    runner.on_interval(search_file, interval(vehicle, 500, 520))
    runner.update_file(search_file, frames_done=999)
    assert Hit.objects.count() == 3 and SearchFile.objects.get(pk=search_file.pk).frames_done == 0
    assert runner.should_stop(force=True) == "pause"  # and the old runner stops


def test_database_writes_are_retried_then_given_up(settings, monkeypatch):
    monkeypatch.setattr(dbretry, "drop_connection", lambda: None)
    monkeypatch.setattr(dbretry.time, "sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "written"
    assert dbretry.with_db_retry(flaky, budget_s=10) == "written" and len(calls) == 3

    def down():
        raise OperationalError("database is locked")
    with pytest.raises(dbretry.DatabaseUnavailable):
        dbretry.with_db_retry(down, budget_s=0.1)


@pytest.mark.django_db(transaction=True)  # the retry gives up only outside a transaction
def test_a_hit_the_database_never_took_leaves_no_thumbnail(user, settings, monkeypatch):
    monkeypatch.setattr(dbretry, "drop_connection", lambda: None)
    monkeypatch.setattr(dbretry.time, "sleep", lambda s: None)
    settings.VREID_DB_RETRY_S = 0.05
    vehicle = make_vehicle(user)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, rq_job_id="rq-1")
    search_file = SearchFile.objects.create(job=job, original_name="a.mp4", kind="video")
    runner = JobRunner(job, "rq-1", engine=None, gallery=None)
    saved = []
    real_insert = runner.hits._insert

    def database_gone(hit):
        saved.append(hit.thumbnail.name)
        raise OperationalError("could not connect to server")
    monkeypatch.setattr(runner.hits, "_insert", database_gone)
    frame = np.zeros((40, 60, 3), np.uint8)
    with pytest.raises(dbretry.DatabaseUnavailable):
        runner.on_interval(search_file, replace(interval(vehicle, 100, 150), frame=frame))
    assert saved and not default_storage.exists(saved[0])  # written before the insert, then removed
    monkeypatch.setattr(runner.hits, "_insert", real_insert)
    runner.on_interval(search_file, replace(interval(vehicle, 100, 150), frame=frame))
    assert default_storage.exists(Hit.objects.get().thumbnail.name)  # stored: kept


class Crash(BaseException):
    """Stands in for SIGKILL: nothing in the runner or the engine catches it."""


@pytest.mark.django_db
def test_a_crashed_job_resumes_from_its_checkpoint(alice, street_car, bikes, queue, run_worker, monkeypatch):
    job = start_job(alice, [bikes])
    report = JobRunner.on_progress

    def crash_late(self, search_file, progress):
        report(self, search_file, progress)
        if progress.frames_done >= 200 and search_file.resume_frame > 0:
            self.update_file(search_file, resume_frame=search_file.resume_frame)
            raise Crash()
    with monkeypatch.context() as patch:
        patch.setattr(JobRunner, "on_progress", crash_late)
        run_worker()  # RQ records its job as failed; the database still says "running"
    job.refresh_from_db()
    row = job.files.get()
    assert job.status == "running" and row.status == "running" and 0 < row.resume_frame < 200
    checkpoint = row.resume_frame

    SearchJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert recover_all()["stale"] == 1
    job.refresh_from_db()
    assert job.status == "queued" and job.recoveries == 1
    run_worker()
    job.refresh_from_db()
    row.refresh_from_db()
    assert job.status == "done", job.error
    assert "Resumed automatically 1 time" in job.notice and not job.error
    assert row.resume_frame >= checkpoint
    hits = list(job.hits.all())
    assert len(hits) == 1 and hits[0].vehicle == street_car, [(h.start_s, h.end_s) for h in hits]
    assert 4.5 <= hits[0].start_s <= 6.4 <= hits[0].end_s <= 8.5


def test_fault_drill():
    """SIGKILLed worker, Redis restart, several users on two workers: real processes."""
    env = {**os.environ}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "scripts/fault_drill.py", *DRILL_SCENARIOS, "--max-seconds", "280"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    summary = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL", "[drill"))]
    print("\n".join(summary))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    for name in DRILL_SCENARIOS:
        assert any(line.startswith(f"PASS {name} ") for line in summary), summary
