"""The footage index: footage searched once answers later questions without re-reading video."""
import pytest
from django.urls import reverse

from gallery.engine_cache import embedder_name, get_engine
from searches.footage.index import forget, sightings_index
from searches.models import Footage, SearchJob, Sighting
from tests.web.conftest import register_via_views
from tests.web.test_search_jobs import start_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def detector_calls(monkeypatch):
    """How often the real detector runs (it still runs: this only counts)."""
    detector = get_engine().detector
    calls = []
    real = detector.detect

    def counted(image):
        calls.append(1)
        return real(image)
    monkeypatch.setattr(detector, "detect", counted)
    forget()  # every test starts from storage and the database, as a fresh worker would
    return calls


def rerun(client, job, vehicles, **settings):
    data = {"device": "cpu", "frame_stride": job.frame_stride, "tracking": "on", "proposals": "detector",
            "camera": "moving", "match_attributes": "on", "vehicles": [v.pk for v in vehicles], **settings}
    response = client.post(reverse("searches:rerun", args=[job.pk]), data)
    assert response.status_code == 302, response.content[:2000]
    return SearchJob.objects.latest("pk")


def test_footage_indexed_first_answers_a_vehicle_registered_later(
        alice, bikes, car_frame_jpg, queue, run_worker, detector_calls):
    job = start_job(alice, [bikes])  # nobody registered yet: the footage is indexed all the same
    run_worker()
    job.refresh_from_db()
    assert job.status == "done" and "footage was indexed" in job.notice
    footage = Footage.objects.get()
    assert footage.status == "indexed" and footage.kind == "video" and footage.frame_stride == 5
    sightings = list(Sighting.objects.filter(footage=footage))
    assert 3 <= len(sightings) == footage.sightings_count <= 40
    assert all(s.thumbnail and len(s.vector) == get_engine().embedder.dim for s in sightings)
    assert detector_calls, "the first pass ran the detector"

    car = register_via_views(alice, car_frame_jpg)
    detector_calls.clear()
    second = rerun(alice, job, [car])
    run_worker()
    second.refresh_from_db()
    assert second.status == "done", second.error
    assert not detector_calls, "answered from the index: no frame was detected again"
    search_file = second.files.get()
    assert search_file.source == "index" and "no video re-read" in search_file.source_note
    assert "no video re-read" in alice.get(second.get_absolute_url()).content.decode()  # said on the page
    hits = list(second.hits.all())
    assert hits and all(h.vehicle == car and h.thumbnail for h in hits)
    # The car is on screen in frames ~135-185 (5.4-7.4 s), as a live search finds it.
    best = min(hits, key=lambda h: h.distance)
    assert 4.8 <= best.start_s <= 6.4 <= best.end_s <= 8.0, [(h.start_s, h.end_s) for h in hits]


def test_live_search_and_index_answer_agree_and_a_threshold_change_reads_no_video(
        alice, street_car, bikes, queue, run_worker, detector_calls):
    job = start_job(alice, [bikes])
    run_worker()
    live = sorted((h.start_frame, h.end_frame, round(h.distance, 4)) for h in job.hits.all())
    assert live and detector_calls
    assert job.files.get().source == "processed"

    detector_calls.clear()
    same = rerun(alice, job, [street_car])
    run_worker()
    assert not detector_calls
    assert sorted((h.start_frame, h.end_frame, round(h.distance, 4)) for h in same.hits.all()) == live

    strict = rerun(alice, job, [street_car], threshold="0.01")
    run_worker()
    strict.refresh_from_db()
    assert strict.status == "done" and not detector_calls and strict.hits.count() == 0


def test_a_finer_stride_or_a_rerun_reprocesses_without_storing_twice(
        alice, street_car, bikes, queue, run_worker, detector_calls):
    job = start_job(alice, [bikes], frame_stride=5)
    run_worker()
    before = Sighting.objects.count()
    finer = rerun(alice, job, [street_car], frame_stride=3)
    run_worker()
    search_file = finer.files.get()
    assert search_file.source == "processed" and "every 5" in search_file.source_note
    footage = Footage.objects.get()
    assert footage.frame_stride == 3 and footage.status == "indexed"
    # Replaced, not added: the stride-3 pass found about as many vehicles as the stride-5 one.
    assert Sighting.objects.count() == footage.sightings_count <= before * 2


def test_deleting_the_last_search_of_a_file_deletes_its_sightings(alice, street_car, bikes, queue, run_worker):
    job = start_job(alice, [bikes])
    run_worker()
    engine = get_engine()
    assert len(sightings_index(job.owner_id, embedder_name(engine), engine.embedder.dim)) > 0
    thumbs = [s.thumbnail.path for s in Sighting.objects.all()]
    assert thumbs
    again = rerun(alice, job, [street_car])
    run_worker()
    assert alice.post(reverse("searches:delete", args=[job.pk])).status_code == 302
    assert Sighting.objects.count() == len(thumbs)  # the re-run still holds the file
    assert alice.post(reverse("searches:delete", args=[again.pk])).status_code == 302
    assert not Footage.objects.exists() and not Sighting.objects.exists()
    # ... and the index no longer holds their vectors, in this process or a fresh one.
    assert len(sightings_index(job.owner_id, embedder_name(engine), engine.embedder.dim)) == 0
    forget()
    assert len(sightings_index(job.owner_id, embedder_name(engine), engine.embedder.dim)) == 0
    from gallery.file_cleanup import flush
    flush()
    import os
    assert not any(os.path.exists(p) for p in thumbs)


def test_deleting_one_file_removes_its_vectors_from_the_stored_index(alice, bikes, tmp_path, queue, run_worker):
    import shutil

    from django.core.files.storage import default_storage

    copy = tmp_path / "again.mp4"
    shutil.copy(bikes, copy)
    first, second = start_job(alice, [bikes]), start_job(alice, [copy])
    run_worker()
    engine = get_engine()
    index = lambda: sightings_index(first.owner_id, embedder_name(engine), engine.embedder.dim)  # noqa: E731
    gone = set(Sighting.objects.filter(footage__search_files__job=first).values_list("pk", flat=True))
    kept = set(Sighting.objects.filter(footage__search_files__job=second).values_list("pk", flat=True))
    assert gone and kept and set(index().ids()) == gone | kept

    assert alice.post(reverse("searches:delete", args=[first.pk])).status_code == 302
    assert set(index().ids()) == kept  # this process's copy
    folder = f"sightings/index/user_{first.owner_id}"
    stored = [name for name in default_storage.listdir(folder)[1] if name.endswith(".faiss")]
    assert len(stored) == 1 and stored[0].endswith(f"-{len(kept)}.faiss")  # the old file is gone
    forget()
    assert set(index().ids()) == kept  # a fresh process loads the stored file without them


def test_the_index_takes_back_a_row_it_missed(alice, bikes, queue, run_worker):
    """A sighting committed after a higher id was caught up (two workers at once), or a stored file
    older than the database: the index adds what it lacks below its highest id."""
    from searches.footage import index as index_module

    job = start_job(alice, [bikes])
    run_worker()
    engine = get_engine()
    index = lambda: sightings_index(job.owner_id, embedder_name(engine), engine.embedder.dim)  # noqa: E731
    ids = set(Sighting.objects.values_list("pk", flat=True))
    forget()
    assert set(index().ids()) == ids
    missed = min(ids)
    cached = index_module._cache[(job.owner_id, embedder_name(engine))].gallery
    cached.remove([missed])  # as if its row had been committed after the catch-up passed it
    assert missed not in cached
    assert set(index().ids()) == ids


def test_a_process_keeps_only_the_recently_used_indexes_within_its_budget(settings, user, other_user):
    """Two users' indexes and a budget that holds one: the older one is dropped, and comes back
    intact from storage and the database when used again."""
    from searches.footage import index as index_module
    from tests.web.conftest import owned_footage

    settings.VREID_SIGHTINGS_CACHE_VECTORS = 3
    for owner in (user, other_user):
        job = SearchJob.objects.create(owner=owner, name=f"{owner} job")
        owned_footage(owner, job.files.create(original_name="a.mp4", file=f"jobs/{owner}/a.mp4"), "a")
    forget()
    first = set(sightings_index(user.pk, "test-embedder", 8).ids())
    assert len(first) == 2 and list(index_module._cache) == [(user.pk, "test-embedder")]
    sightings_index(other_user.pk, "test-embedder", 8)
    assert list(index_module._cache) == [(other_user.pk, "test-embedder")]  # 2 + 2 > 3: the older went
    assert set(sightings_index(user.pk, "test-embedder", 8).ids()) == first
