"""The progress poll answers from the job's snapshot in Redis (searches.progress_cache): no job
query, 204/304 when nothing changed, kept right by the worker and by every lifecycle transition,
and the database answers whenever the snapshot is missing or stale."""
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from searches import lifecycle, progress_cache
from searches.models import Hit, SearchFile, SearchJob
from searches.runner import JobRunner
from tests.media import FIXTURES
from tests.web.conftest import make_vehicle
from tests.web.test_search_jobs import start_job

pytestmark = pytest.mark.django_db


def running_job(user, files=3, hits=2):
    vehicle = make_vehicle(user)
    now = timezone.now()
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, progress=0.25, started_at=now,
                                   heartbeat_at=now, rq_job_id="rq-1")
    rows = [SearchFile.objects.create(job=job, original_name=f"cam{i}.mp4", kind="video", position=i,
                                      status="running" if i == 0 else "pending") for i in range(files)]
    for i in range(hits):
        Hit.objects.create(job=job, file=rows[0], vehicle=vehicle, start_s=10 * i, end_s=10 * i + 2,
                           start_frame=250 * i, end_frame=250 * i + 50, distance=0.1, box=[0, 0, 1, 1])
    return job


def poll(client, job, **params):
    headers = {k: v for k, v in params.items() if k.startswith("HTTP_")}
    query = {k: v for k, v in params.items() if not k.startswith("HTTP_")}
    return client.get(reverse("searches:progress", args=[job.pk]), query, **headers)


def job_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "searches_" in q["sql"]]


def test_the_poll_reads_no_job_when_the_snapshot_is_cached(alice, user, django_assert_max_num_queries):
    job = running_job(user)
    progress_cache.publish(job.pk)  # what the worker does with each progress write
    with CaptureQueriesContext(connection) as captured, django_assert_max_num_queries(1):  # the user
        response = poll(alice, job, hits="2-350", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and job_queries(captured) == []
    html = response.content.decode()
    assert 'data-status="running"' in html and "25%" in html and "cam2.mp4" in html
    assert "HX-Trigger" not in response and response["Cache-Control"] == "private, no-cache"
    snap, _ = progress_cache.read(job.pk)
    assert response["ETag"] == f'"{snap["version"]}"' and f'"v": "{snap["version"]}"' in html
    assert snap["owner"] == user.pk and snap["percent"] == 25 and snap["hits"] == "2-350"
    assert snap["counts"] == {"running": 1, "pending": 2} and [r["name"] for r in snap["rows"]][0] == "cam0.mp4"
    # The page is behind on hits: it is told to fetch the timeline, still without a job query.
    with CaptureQueriesContext(connection) as captured:
        assert poll(alice, job, hits="1-50")["HX-Trigger"] == "hits-changed"
    assert job_queries(captured) == []


def test_nothing_changed_answers_304_and_htmx_gets_204(alice, user, django_assert_max_num_queries):
    job = running_job(user)
    first = poll(alice, job, hits="2-350", HTTP_HX_REQUEST="true")
    etag, version = first["ETag"], first["ETag"].strip('"')
    with django_assert_max_num_queries(1):
        not_modified = poll(alice, job, hits="2-350", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified["ETag"] == etag
    with django_assert_max_num_queries(1):
        no_swap = poll(alice, job, hits="2-350", v=version, HTTP_HX_REQUEST="true")
    assert no_swap.status_code == 204 and no_swap.content == b""
    # A page behind on hits gets the fragment and the trigger even with a current ETag.
    assert poll(alice, job, hits="1-50", v=version, HTTP_HX_REQUEST="true").status_code == 200

    SearchJob.objects.filter(pk=job.pk).update(progress=0.5)
    progress_cache.publish(job.pk)  # the worker's next progress write
    moved = poll(alice, job, hits="2-350", v=version, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200 and "50%" in moved.content.decode() and moved["ETag"] != etag


def test_another_users_poll_is_refused_even_from_the_snapshot(client, user, other_user):
    job = running_job(user)
    progress_cache.publish(job.pk)
    client.force_login(other_user)
    assert poll(client, job).status_code == 404
    assert client.get(reverse("searches:progress", args=[999999])).status_code == 404


def test_a_flushed_cache_falls_back_to_the_database_and_writes_the_snapshot_again(alice, user):
    job = running_job(user)
    progress_cache.publish(job.pk)
    cache.clear()  # Redis restarted without persistence
    assert progress_cache.read(job.pk)[0] is None
    response = poll(alice, job)
    assert response.status_code == 200 and "25%" in response.content.decode()
    snap, _ = progress_cache.read(job.pk)
    assert snap is not None and snap["percent"] == 25


def test_transitions_make_the_snapshot_stale_so_the_poll_shows_them_at_once(alice, user):
    job = running_job(user)
    progress_cache.publish(job.pk)
    assert lifecycle.pause(job)
    assert progress_cache.read(job.pk)[0] is None  # a new generation: the old snapshot is not served
    html = poll(alice, job).content.decode()
    assert 'data-status="paused"' in html and "stopping" in html
    lifecycle.let_go(job.pk, "rq-1", lifecycle.StopReason.PAUSE)
    html = poll(alice, job).content.decode()
    assert 'data-status="paused"' in html and "hx-get" not in html  # settled: polling stops

    other = running_job(user, hits=0)
    poll(alice, other)
    assert lifecycle.cancel(other)
    html = poll(alice, other).content.decode()
    assert 'data-status="cancelled"' in html and "3 cancelled" in html


def test_a_snapshot_read_before_a_transition_is_never_served_after_it(alice, user):
    """A publisher that read the database before a pause and writes after it (a worker's progress
    write racing the user's Pause) writes a snapshot of the old generation: not served."""
    job = running_job(user)
    _, gen = progress_cache.read(job.pk)
    before = SearchJob.objects.get(pk=job.pk)  # read before the pause
    assert lifecycle.pause(job)
    progress_cache.publish(job.pk, before, gen)  # lands after it
    assert progress_cache.read(job.pk)[0] is None
    assert 'data-status="paused"' in poll(alice, job).content.decode()


def test_a_deleted_job_is_not_served_from_its_snapshot(alice, user):
    job = running_job(user)
    lifecycle.pause(job)
    lifecycle.let_go(job.pk, "rq-1", lifecycle.StopReason.PAUSE)
    poll(alice, job)
    assert lifecycle.delete(job)
    assert poll(alice, job).status_code == 404


def test_the_recovery_sweep_still_runs_from_a_snapshot_with_an_old_heartbeat(alice, user, settings, queue):
    job = running_job(user, files=1, hits=0)
    old = timezone.now() - timedelta(seconds=settings.VREID_HEARTBEAT_TIMEOUT_S + 5)
    SearchJob.objects.filter(pk=job.pk).update(heartbeat_at=old)
    progress_cache.publish(job.pk)  # the dead worker's last snapshot
    html = poll(alice, job).content.decode()
    job.refresh_from_db()
    assert job.status == SearchJob.Status.QUEUED and job.recoveries == 1
    assert 'data-status="queued"' in html and "Resumed automatically" in html


def test_the_worker_publishes_progress_hits_and_the_end(alice, street_car, bikes, queue, run_worker, monkeypatch):
    """A real search: after each progress write and each hit the snapshot matches the database."""
    seen = {"progress": [], "hits": []}
    write, store = JobRunner.write_job_progress, JobRunner.store_hit

    def checked_write(self):
        write(self)
        snap, _ = progress_cache.read(self.job.pk)
        row = SearchJob.objects.get(pk=self.job.pk)
        assert snap is not None and snap["percent"] == row.progress_percent and snap["status"] == row.status
        seen["progress"].append(snap["percent"])

    def checked_store(self, *args, **kwargs):
        store(self, *args, **kwargs)
        snap, _ = progress_cache.read(self.job.pk)
        assert snap is not None and snap["hits"] == progress_cache.hits_version(self.job)
        seen["hits"].append(snap["hits"])
    monkeypatch.setattr(JobRunner, "write_job_progress", checked_write)
    monkeypatch.setattr(JobRunner, "store_hit", checked_store)
    job = start_job(alice, [bikes])
    run_worker()
    job.refresh_from_db()
    assert job.status == "done" and seen["progress"] and seen["hits"]
    poll(alice, job, HTTP_HX_REQUEST="true")  # shows (and so uses up) the registration's message
    response = poll(alice, job, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-status="done"' in html and "hx-get" not in html and "100%" in html
    assert response["ETag"].strip('"') == progress_cache.read(job.pk)[0]["version"]


def test_pause_and_cancel_from_the_page_while_the_worker_runs(alice, street_car, bikes, queue, run_worker,
                                                             monkeypatch):
    """The user's Pause (through the page) lands while the worker publishes: the poll shows it."""
    report = JobRunner.on_progress
    shown = []

    def on_progress(self, search_file, progress):
        report(self, search_file, progress)
        if progress.frames_done > 0 and not shown:
            alice.post(reverse("searches:action", args=[self.job.pk, self.action]), HTTP_HX_REQUEST="true")
            shown.append(poll(alice, self.job).content.decode())
    monkeypatch.setattr(JobRunner, "on_progress", on_progress)
    for action, status, files in (("pause", "paused", "2 pending"), ("cancel", "cancelled", "2 cancelled")):
        shown.clear()
        monkeypatch.setattr(JobRunner, "action", action, raising=False)
        job = start_job(alice, [bikes, FIXTURES / "red_car.jpg"])
        run_worker()
        assert f'data-status="{status}"' in shown[0] and "stopping" in shown[0]
        html = poll(alice, job).content.decode()
        assert f'data-status="{status}"' in html and "hx-get" not in html and files in html


class RedisAway:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("Redis is away")
        return fail


def test_with_redis_away_the_database_answers_the_poll_and_transitions_still_happen(alice, user, monkeypatch):
    job = running_job(user)
    monkeypatch.setattr(progress_cache, "cache", RedisAway())
    response = poll(alice, job, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "25%" in response.content.decode()
    assert lifecycle.pause(job)  # its invalidation only logs
    assert 'data-status="paused"' in poll(alice, job).content.decode()
