"""Pages that must stay cheap with a big gallery or a busy job: pagination and query counts."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from gallery.models import Vehicle, VehiclePhoto
from searches import progress_cache
from searches.models import Hit, SearchFile, SearchJob
from tests.web.conftest import make_vehicle

pytestmark = pytest.mark.django_db


def test_seed_gallery_and_paginated_list(alice, user, django_assert_max_num_queries):
    call_command("seed_gallery", vehicles=60, user=user.username, embedder="test-embedder", dim=8)
    assert Vehicle.objects.filter(owner=user).count() == 60
    photo = VehiclePhoto.objects.filter(vehicle__owner=user).first()
    assert photo.dim == 8 and photo.vector.shape == (8,) and photo.crop.storage.exists(photo.crop.name)
    busy = Vehicle.objects.filter(owner=user).order_by("label", "pk").first()
    VehiclePhoto.objects.create(vehicle=busy, box=[0, 0, 1, 1], image=photo.image.name, crop=photo.crop.name,
                                embedding=photo.embedding, dim=8, embedder="test-embedder")
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE)
    video = SearchFile.objects.create(job=job, original_name="a.mp4", kind="video")
    for start in (1.0, 5.0, 9.0):
        Hit.objects.create(job=job, file=video, vehicle=busy, start_s=start, end_s=start + 1, start_frame=int(25 * start), distance=0.1, box=[0, 0, 1, 1])

    # session, user, count, the page with its counts and cover (+1 spare)
    with django_assert_max_num_queries(5):
        response = alice.get(reverse("gallery:list"))
    assert response.status_code == 200
    page = response.context["page_obj"]
    assert len(page.object_list) == 48 and page.paginator.count == 60
    first = page.object_list[0]
    assert first.pk == busy.pk and first.photo_count == 2 and first.hit_count == 3  # no JOIN fan-out
    assert first.cover_id == min(busy.photos.values_list("pk", flat=True))
    html = response.content.decode()
    assert 'loading="lazy"' in html and "?page=2" in html and "3 hits" in html

    response = alice.get(reverse("gallery:list") + "?page=2")
    assert len(response.context["page_obj"].object_list) == 12


def test_gallery_list_shows_only_own_vehicles(client, other_user, user):
    make_vehicle(user, "Alice car")
    make_vehicle(other_user, "Bob car")
    client.force_login(other_user)
    html = client.get(reverse("gallery:list")).content.decode()
    assert "Bob car" in html and "Alice car" not in html


def _running_job(user, files=5, hits=20):
    vehicles = [make_vehicle(user, f"Car {i}") for i in range(2)]
    now = timezone.now()
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, progress=0.4,
                                   started_at=now, heartbeat_at=now)
    rows = [SearchFile.objects.create(job=job, original_name=f"f{i}.mp4", kind="video", position=i,
                                      duration_s=10, status="running" if i == 0 else "pending") for i in range(files)]
    for i in range(hits):
        Hit.objects.create(job=job, file=rows[i % files], vehicle=vehicles[i % 2], start_s=i % 9, end_s=i % 9 + 0.5, start_frame=i,
                           distance=0.1, box=[0, 0, 1, 1])
    return job


def test_progress_fragment_query_count_does_not_grow_with_hits(alice, user, django_assert_max_num_queries):
    job = _running_job(user)
    url = reverse("searches:progress", args=[job.pk])
    # No snapshot yet: user, job, hit count, files (the session comes from Redis); no writes
    with django_assert_max_num_queries(4):
        response = alice.get(url, {"hits": "20-0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html and '{"hits": "20-0", "v": "' in html  # 20 hits, ending at frame 0
    assert "HX-Trigger" not in response  # the page already shows these 20 hits
    with django_assert_max_num_queries(1):  # then the user only: the job comes from its snapshot
        again = alice.get(url, {"hits": "20-0"}, HTTP_HX_REQUEST="true")
    assert again.content == response.content


def test_a_big_running_job_polls_only_the_rows_worth_watching(alice, user, django_assert_max_num_queries):
    job = _running_job(user, files=120, hits=0)
    SearchFile.objects.filter(job=job, position__in=[5, 6]).update(status="failed", error="Not a video")
    SearchFile.objects.filter(job=job, position__lt=5).update(status="done")
    SearchFile.objects.filter(job=job, position=7).update(status="running")
    url = reverse("searches:progress", args=[job.pk])
    with django_assert_max_num_queries(6):  # user, job, hit count, first rows, counts, watched rows
        html = alice.get(url).content.decode()
    assert "Files (120)" in html and "112 pending · 1 running · 5 done · 2 failed" in html
    assert html.count("<tr>") == 3 and "f7.mp4" in html and "Not a video" in html and "f8.mp4" not in html
    assert "the whole list appears when the search ends" in html

    SearchJob.objects.filter(pk=job.pk).update(status=SearchJob.Status.DONE)
    progress_cache.changed(job.pk)  # what searches.lifecycle.finish does after its UPDATE
    html = alice.get(url).content.decode()
    assert html.count("<tr>") == 120 and "<details>" in html and "whole list appears" not in html


def test_a_new_hit_makes_the_page_fetch_the_timeline_once(alice, user, django_assert_max_num_queries):
    job = _running_job(user)
    progress = alice.get(reverse("searches:progress", args=[job.pk]), {"hits": "19-0"})
    assert progress["HX-Trigger"] == "hits-changed"
    with django_assert_max_num_queries(5):  # session, user, job, hits with vehicle and file
        timeline = alice.get(reverse("searches:timeline", args=[job.pk])).content.decode()
    assert "Hits (20)" in timeline and 'hx-trigger="hits-changed from:body"' in timeline


def test_a_hit_that_grows_makes_the_page_fetch_the_timeline(alice, user):
    job = _running_job(user, files=1, hits=1)
    url = reverse("searches:progress", args=[job.pk])
    assert "HX-Trigger" not in alice.get(url, {"hits": "1-0"})
    hit = Hit.objects.get(job=job)
    hit.end_s, hit.end_frame = 60.0, 1500
    hit.save()  # a parked car's next piece joined (searches.hit_merge saves the hit it grows)
    assert alice.get(url, {"hits": "1-0"})["HX-Trigger"] == "hits-changed"
    assert '{"hits": "1-1500", "v": "' in alice.get(url, {"hits": "1-1500"}).content.decode()


def test_progress_fragment_still_recovers_a_job_whose_worker_died(alice, user, settings, queue):
    job = _running_job(user, files=1, hits=0)
    old = timezone.now() - timedelta(seconds=settings.VREID_HEARTBEAT_TIMEOUT_S + 5)
    SearchJob.objects.filter(pk=job.pk).update(heartbeat_at=old)
    html = alice.get(reverse("searches:progress", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status != SearchJob.Status.RUNNING  # re-queued or failed by searches.staleness
    assert f'data-status="{job.status}"' in html  # the fragment shows the state after recovery
    assert SearchFile.objects.get(job=job).status == SearchFile.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_sqlite_pages_read_while_a_worker_holds_the_write_lock():
    """WAL: a worker committing progress must not stall the job pages (a rollback journal would)."""
    import sqlite3
    import time

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=5, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        assert SearchJob.objects.count() == 0
        assert time.monotonic() - started < 1.0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_job_list_counts_files_and_hits_without_joining_them(alice, user, django_assert_max_num_queries):
    job = _running_job(user, files=30, hits=40)  # a JOIN would make 30 x 40 rows for this job
    with django_assert_max_num_queries(7):  # user, the recovery sweep (3), count, page, storage used
        response = alice.get(reverse("searches:list"))
    listed = response.context["object_list"][0]
    assert listed.pk == job.pk and listed.file_count == 30 and listed.hit_count == 40
    assert " JOIN " not in str(response.context["object_list"].query)
