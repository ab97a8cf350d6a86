"""A vehicle's journey across cameras, "Search my footage", and a review that re-ranks at once:
all answered from the footage index (real clip, real models, real queue)."""
import shutil
import time
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.engine_cache import get_engine
from searches.footage import rerank
from searches.footage.queries import vehicle_sightings
from searches.models import Camera, Footage, Hit, SearchJob, Sighting
from tests.web.conftest import register_via_views
from tests.web.test_footage_index import detector_calls  # noqa: F401  (a fixture)
from tests.web.test_search_jobs import start_job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, 1, hour, minute, tzinfo=timezone.get_current_timezone())


def place(footage: Footage, camera: Camera, recorded_at) -> None:
    """What the upload would say (camera, recording start), copied onto the sightings as the app does."""
    footage.camera, footage.recorded_at = camera, recorded_at
    footage.save(update_fields=["camera", "recorded_at"])
    for row in footage.sightings.all():
        row.camera, row.seen_at = camera, footage.seconds_at(row.start_s)
        row.save(update_fields=["camera", "seen_at"])


@pytest.fixture
def journey(user, alice, street_car, bikes, tmp_path, queue, run_worker):
    """bikes.mp4 twice in one search (cam A at 10:00, cam B at 11:00), indexed with the car registered."""
    copy = tmp_path / "cam_b.mp4"
    shutil.copy(bikes, copy)
    job = start_job(alice, [bikes, copy])
    run_worker()
    job.refresh_from_db()
    assert job.status == "done", job.error
    file_a, file_b = job.files.order_by("position")
    cam_a, cam_b = Camera.objects.create(owner=user, name="Cam A gate"), Camera.objects.create(owner=user, name="Cam B road")
    place(file_a.footage, cam_a, at(10))
    place(file_b.footage, cam_b, at(11))
    return {"job": job, "car": street_car, "cam_a": cam_a, "cam_b": cam_b, "file_a": file_a, "file_b": file_b}


def journey_page(client, vehicle, **params):
    response = client.get(reverse("footage:journey", args=[vehicle.pk]), params, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_a_journey_spans_two_files_of_two_cameras_in_time_order(alice, journey):
    car, cam_a, cam_b = journey["car"], journey["cam_a"], journey["cam_b"]
    rows = vehicle_sightings(car, get_engine())
    assert {r.camera_id for r in rows} == {cam_a.pk, cam_b.pk}
    assert [r.seen_at for r in rows] == sorted(r.seen_at for r in rows)
    assert rows[0].camera == cam_a and rows[-1].camera == cam_b and all(r.distance <= get_engine().threshold for r in rows)
    # The car passes at ~5.4-7.4 s of the clip: seen at 10:00:05-07 on cam A, 11:00:05-07 on cam B.
    assert at(10) + timedelta(seconds=4) <= rows[0].seen_at <= at(10) + timedelta(seconds=8)

    vehicle_page = alice.get(car.get_absolute_url()).content.decode()
    assert f'hx-get="{reverse("footage:journey", args=[car.pk])}"' in vehicle_page
    assert reverse("footage:search") + f"?vehicle={car.pk}" in vehicle_page
    page = journey_page(alice, car)
    # One timeline row per camera, cam A's (earlier) first; its sighting is listed before cam B's.
    assert page.index('title="Cam A gate"') < page.index('title="Cam B road"')
    assert page.index("2024-05-01 10:00:0") < page.index("2024-05-01 11:00:0")
    assert page.count('class="track-row journey-camera"') == 2 and "Time unknown" not in page
    # A click plays the stored video of that file at that moment.
    play = reverse("searches:file", args=[journey["file_a"].pk]) + "#t="
    assert play in page
    assert alice.get(reverse("searches:file", args=[journey["file_a"].pk])).status_code == 200
    thumb = reverse("footage:sighting_thumbnail", args=[rows[0].pk])
    assert thumb in page and alice.get(thumb)["Content-Type"] == "image/jpeg"

    only_b = journey_page(alice, car, cameras=[cam_b.pk])
    assert "11:00:0" in only_b and "10:00:0" not in only_b.split("</form>")[1]
    later = journey_page(alice, car, start="2024-05-01T10:30")
    assert "11:00:0" in later and 'title="Cam A gate"' not in later
    earlier = journey_page(alice, car, end="2024-05-01T10:30")
    assert "10:00:0" in earlier and 'title="Cam B road"' not in earlier
    nothing = journey_page(alice, car, start="2024-05-02T00:00")
    assert "Not seen in the footage these filters show" in nothing
    full = alice.get(reverse("footage:journey", args=[car.pk])).content.decode()  # opened directly: a page
    assert "<html" in full and "Where it was seen" in full

    place(journey["file_b"].footage, journey["cam_b"], None)  # cam B's recording time unknown
    page = journey_page(alice, car)
    timeline, _, untimed = page.partition("Time unknown")
    assert 'title="Cam A gate"' in timeline and 'title="Cam B road"' not in timeline
    assert "Cam B road · cam_b.mp4" in untimed


def test_search_my_footage_answers_from_the_index_and_a_review_reranks_at_once(
        alice, journey, run_worker, detector_calls):  # noqa: F811
    car, cam_a = journey["car"], journey["cam_a"]
    form = alice.get(reverse("footage:search"), {"vehicle": car.pk}).content.decode()
    assert f'value="{car.pk}" ' in form and "checked" in form
    data = {"vehicles": [car.pk], "threshold": "0.55"}
    check = alice.post(reverse("footage:search"), {**data, "action": "check"}).content.decode()
    assert "2 files:</strong> 2 answered from the index, 0 processed again" in check
    assert SearchJob.objects.count() == 1  # checking starts nothing

    only_a = alice.post(reverse("footage:search"), {**data, "cameras": [cam_a.pk], "action": "start"})
    assert only_a.status_code == 302
    assert SearchJob.objects.latest("pk").files.get().original_name == journey["file_a"].original_name
    response = alice.post(reverse("footage:search"), {**data, "action": "start"})
    assert response.status_code == 302
    job = SearchJob.objects.latest("pk")
    assert job.name == "Footage search: Silver car" and job.frame_stride == 5 and job.threshold == 0.55
    assert all(f.stored_bytes == 0 for f in job.files.all())
    started = time.monotonic()
    run_worker()
    answered_s = time.monotonic() - started
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert not detector_calls, "answered from the index: no frame was detected"
    assert [f.source for f in job.files.all()] == ["index", "index"]
    hits = list(job.hits.select_related("file"))
    assert {h.file.original_name for h in hits} == {"bikes.mp4", "cam_b.mp4"} and all(h.vehicle == car for h in hits)
    best = min(hits, key=lambda h: h.distance)
    assert 4.8 <= best.start_s <= 6.4 <= best.end_s <= 8.0
    print(f"\nsearch my footage: 2 indexed files answered in {answered_s:.2f} s (two worker runs)")

    # A look-alike (the worst hit at this loose threshold) seen in both copies of the clip.
    # Reject the car's hit in cam A: its twin in the copy (cam B) goes at once, and the same
    # sighting (well within the threshold) is no hit of the car again in either file.
    rejected = next(h for h in hits if h.file.original_name == "bikes.mp4" and h.distance == best.distance)
    assert rejected.distance + 0.1 < job.threshold
    assert [h for h in hits if h.file.original_name == "cam_b.mp4" and h.best_frame == rejected.best_frame]
    started = time.monotonic()
    response = alice.post(reverse("searches:hit_reject", args=[job.pk, rejected.pk]))
    reject_s = time.monotonic() - started
    assert response.status_code == 302
    assert "Re-ranked from the footage index" in alice.get(response["Location"]).content.decode()
    left = list(job.hits.all())
    assert not [h for h in left if (h.best_frame, h.box) == (rejected.best_frame, rejected.box)], left
    assert not detector_calls
    print(f"reject + re-rank ({len(hits)} hits, {Sighting.objects.count()} sightings): {reject_s:.2f} s")
    assert reject_s < 5


def test_rerank_keeps_what_the_index_agrees_with_and_a_confirmed_view_joins_the_query(
        alice, journey, detector_calls, queue, run_worker, monkeypatch):  # noqa: F811
    job, car = journey["job"], journey["car"]
    assert {f.source for f in job.files.all()} == {"processed"}  # the indexing pass itself
    before = sorted((h.file_id, h.start_frame, round(h.distance, 4)) for h in job.hits.all())
    started = time.monotonic()
    count = rerank.rerank(job, car)
    print(f"\nre-rank of a processed job from the index: {time.monotonic() - started:.3f} s")
    # The index gives the same answer as the live pass: nothing changes, no video is read.
    assert sorted((h.file_id, h.start_frame, round(h.distance, 4)) for h in job.hits.all()) == before
    assert count == len(before) and not detector_calls

    # Confirm the car in cam A: that view becomes a photo, and its twin in cam B (unreviewed) is
    # asked again at once with it: nearer now. The confirmed hit stays as it is.
    hit_a = job.hits.filter(file=journey["file_a"]).order_by("distance").first()
    twin = job.hits.get(file=journey["file_b"], best_frame=hit_a.best_frame)
    started = time.monotonic()
    response = alice.post(reverse("searches:hit_confirm", args=[job.pk, hit_a.pk]))
    confirm_s = time.monotonic() - started
    assert "Re-ranked from the footage index" in alice.get(response["Location"]).content.decode()
    assert car.photos.count() == 2 and Hit.objects.get(pk=hit_a.pk).confirmed_at is not None
    assert not Hit.objects.filter(pk=twin.pk).exists()  # replaced by the new answer
    new_twin = job.hits.get(file=journey["file_b"], best_frame=hit_a.best_frame)
    print(f"confirm (reads a frame, embeds it) + re-rank: {confirm_s:.2f} s; cam B's twin "
          f"{twin.distance:.3f} -> {new_twin.distance:.3f}")
    assert new_twin.distance < twin.distance - 0.05 and new_twin.confirmed_at is None
    assert confirm_s < 10

    # A big job is re-ranked by a worker instead of in the request. (Rejecting the very view just
    # confirmed: the photo at distance 0 outweighs the negative at 0, so the re-rank brings it back.)
    monkeypatch.setattr(rerank, "SYNC_MAX_SIGHTINGS", 0)
    response = alice.post(reverse("searches:hit_reject", args=[job.pk, new_twin.pk]))
    assert "being re-ranked" in alice.get(response["Location"]).content.decode() and queue.count == 1
    same = job.hits.filter(file=journey["file_b"], best_frame=new_twin.best_frame, box=new_twin.box)
    assert not same.exists()
    run_worker()
    assert same.exists() and car.negatives.count() == 1
    assert Hit.objects.get(pk=hit_a.pk).confirmed_at is not None


def test_isolation_another_user_never_sees_the_journey_or_footage(
        client, user, other_user, journey, car_frame_jpg):
    car = journey["car"]
    bob = Client()
    bob.force_login(other_user)
    assert bob.get(reverse("footage:journey", args=[car.pk]), **HTMX).status_code == 404
    sighting = Sighting.objects.filter(owner=user).first()
    assert bob.get(reverse("footage:sighting_thumbnail", args=[sighting.pk])).status_code == 404
    form = bob.post(reverse("footage:search"), {"vehicles": [car.pk], "footage": [journey["file_a"].footage.pk],
                                                 "cameras": [journey["cam_a"].pk], "action": "start"})
    assert form.status_code == 200 and SearchJob.objects.filter(owner=other_user).count() == 0
    assert "Select a valid choice" in form.content.decode()
    # Bob registers the same car: his journey and his footage search still see none of Alice's footage.
    bobs_car = register_via_views(bob, car_frame_jpg, label="Bob's car")
    assert vehicle_sightings(bobs_car, get_engine(), threshold=1.5) == []
    assert "Not seen in your indexed footage yet" in journey_page(bob, bobs_car)
    page = bob.post(reverse("footage:search"), {"vehicles": [bobs_car.pk], "action": "check"}).content.decode()
    assert "None of your stored footage" in page and "cam_b.mp4" not in page
