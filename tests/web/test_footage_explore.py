"""Explore, find similar and register from a sighting, over footage indexed by a real job."""
import re
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.models import Vehicle
from searches.footage import explore
from searches.footage.index import forget
from searches.models import Camera, Footage, Hit, Sighting
from tests.web.test_search_jobs import start_job

pytestmark = pytest.mark.django_db
SIGHTING_LINK = re.compile(r'href="/footage/sightings/(\d+)/"')


def shown(response) -> list[int]:
    """The sighting ids a grid page links to, in page order."""
    assert response.status_code == 200, response.content[:2000]
    return [int(pk) for pk in SIGHTING_LINK.findall(response.content.decode())]


@pytest.fixture
def twins(alice, bikes, queue, run_worker):
    """bikes.mp4 uploaded twice in one search (no vehicle registered): two footage, each indexed,
    so every sighting of one has a twin in the other with the same vector."""
    forget()
    job = start_job(alice, [bikes, bikes])
    run_worker()
    job.refresh_from_db()
    assert job.status == "done", job.error
    first, second = Footage.objects.order_by("pk")
    assert first.file != second.file and first.sightings_count == second.sightings_count >= 3
    return job, first, second


def similar_ids(response) -> list[int]:
    """The sightings a find-similar page shows as cards (not its back link), nearest first."""
    found = [row.pk for row, _ in response.context["found"]]
    links = shown(response)
    assert links[len(links) - len(found):] == found  # each one a card linking to its sighting
    return found


def explore_ids(client, **params):
    return shown(client.get(reverse("footage:explore"), params))


def test_explore_lists_filters_orders_and_pages(alice, user, twins, monkeypatch, django_assert_max_num_queries):
    _, first, _ = twins
    everything = list(Sighting.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))
    assert sorted(explore_ids(alice)) == everything

    # Camera, time and type are what a folder upload with dated files gives; set them on a few rows.
    cam = Camera.objects.create(owner=user, name="cam1")
    start = timezone.localtime().replace(second=0, microsecond=0) - timedelta(days=1)  # as the form reads it
    timed = everything[:6]
    for minute, pk in enumerate(timed):
        Sighting.objects.filter(pk=pk).update(seen_at=start + timedelta(minutes=minute))
    Sighting.objects.filter(pk__in=timed[:3]).update(camera=cam)
    Sighting.objects.filter(pk=timed[4]).update(vehicle_type="bus")
    unknown = everything[6:]

    assert explore_ids(alice, camera=cam.pk) == timed[:3]
    fmt = "%Y-%m-%dT%H:%M"
    assert explore_ids(alice, seen_from=(start + timedelta(minutes=2)).strftime(fmt),
                       seen_to=(start + timedelta(minutes=4)).strftime(fmt)) == timed[2:5]
    assert explore_ids(alice, vehicle_type="bus") == [timed[4]]
    # One file's sightings in their order in it.
    assert explore_ids(alice, footage=first.pk) == list(first.sightings.order_by("start_frame", "pk")
                                                        .values_list("pk", flat=True))
    # In time order either way, those of unknown time last.
    assert explore_ids(alice) == timed + unknown
    assert explore_ids(alice, order="desc") == timed[::-1] + unknown
    # Pages run on across the known/unknown boundary and keep the filters in their links.
    monkeypatch.setattr(explore.ExploreView, "paginate_by", 4)
    pages = [explore_ids(alice, order="desc", page=n) for n in (1, 2, 3)]
    assert sum(pages, []) == (timed[::-1] + unknown)[:12]
    assert "order=desc&amp;page=2" in alice.get(reverse("footage:explore"), {"order": "desc"}).content.decode()
    # A filter nobody can have and an inverted range are said, not a 500.
    assert alice.get(reverse("footage:explore"), {"camera": 999999, "seen_from": "2020-01-02T00:00",
                                                  "seen_to": "2020-01-01T00:00"}).status_code == 200

    with django_assert_max_num_queries(12):
        response = alice.get(reverse("footage:explore"), {"camera": cam.pk, "vehicle_type": "", "order": "asc"})
    assert response.status_code == 200


def test_find_similar_puts_the_twin_first_and_register_makes_a_vehicle(alice, user, twins):
    job, first, second = twins
    # The biggest box of the first footage: the car best seen.
    rows = list(first.sightings.all())
    sighting = max(rows, key=lambda s: (s.box[2] - s.box[0]) * (s.box[3] - s.box[1]))
    twin = second.sightings.get(start_frame=sighting.start_frame, box=sighting.box)

    page = alice.get(sighting.get_absolute_url()).content.decode()
    assert "Find similar" in page and "Register as a vehicle" in page and f"#t={sighting.best_time_s:.2f}" in page
    assert alice.get(reverse("footage:sighting_thumbnail", args=[sighting.pk]))["Content-Type"] == "image/jpeg"

    response = alice.get(reverse("footage:similar", args=[sighting.pk]))
    found = similar_ids(response)
    assert found[0] == twin.pk and sighting.pk not in found
    distances = response.context["found"]
    assert distances[0][1] < 1e-3 < distances[-1][1]

    response = alice.post(reverse("footage:register", args=[sighting.pk]), {"label": "Twin car"})
    vehicle = Vehicle.objects.get(owner=user, label="Twin car")
    assert response.status_code == 302 and response["Location"] == vehicle.get_absolute_url()
    photo = vehicle.photos.get()
    assert 1 - float(np.dot(photo.vector, sighting.vector)) < 0.2
    assert "Twin car" in alice.get(reverse("gallery:list")).content.decode()

    # From a hit of that vehicle (its track's vector): the sighting and its twin come first.
    hit = Hit.objects.create(job=job, file=job.files.get(footage=first), vehicle=vehicle, distance=0.05,
                             box=sighting.box, embedding=sighting.embedding, embedder=sighting.embedder)
    assert set(similar_ids(alice.get(reverse("footage:similar_hit", args=[hit.pk])))[:2]) == {sighting.pk, twin.pk}


def test_register_without_a_label_names_it_and_a_gone_file_is_said(alice, user, twins):
    _, first, _ = twins
    sighting = first.sightings.first()
    alice.post(reverse("footage:register", args=[sighting.pk]), {"label": ""})
    assert Vehicle.objects.get(owner=user).label.endswith(f"from bikes.mp4 at {sighting.best_time_s:.1f} s")

    default_storage.delete(first.file)
    response = alice.post(reverse("footage:register", args=[sighting.pk]), {"label": "Gone"}, follow=True)
    assert "no longer stored (bikes.mp4)" in response.content.decode()
    assert not Vehicle.objects.filter(label="Gone").exists()


def test_other_users_never_see_or_use_the_sightings(alice, user, other_user, twins):
    job, first, _ = twins
    mine = first.sightings.first()
    hit = Hit.objects.create(job=job, file=job.files.first(), vehicle=Vehicle.objects.create(owner=user, label="v"),
                             distance=0.1, box=mine.box, embedding=mine.embedding, embedder=mine.embedder)
    # Bob's own copy of Alice's sighting: the same vector, so only the owner filter keeps hers out.
    bobs_footage = Footage.objects.create(owner=other_user, file="elsewhere/bob.mp4", original_name="bob.mp4",
                                          kind="video")
    bobs = Sighting.objects.get(pk=mine.pk)
    bobs.pk, bobs.footage, bobs.owner, bobs.thumbnail = None, bobs_footage, other_user, ""
    bobs.save()

    bob = Client()
    bob.force_login(other_user)
    for name in ("footage:sighting", "footage:sighting_thumbnail", "footage:similar"):
        assert bob.get(reverse(name, args=[mine.pk])).status_code == 404, name
    assert bob.get(reverse("footage:similar_hit", args=[hit.pk])).status_code == 404
    assert bob.post(reverse("footage:register", args=[mine.pk]), {"label": "stolen"}).status_code == 404
    assert not Vehicle.objects.filter(owner=other_user).exists()

    assert explore_ids(bob) == [bobs.pk]
    assert similar_ids(bob.get(reverse("footage:similar", args=[bobs.pk]))) == []
    assert bobs.pk not in similar_ids(alice.get(reverse("footage:similar", args=[mine.pk])))
    assert bobs.pk not in explore_ids(alice)
