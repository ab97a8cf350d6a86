"""Review that sticks: "Not this vehicle" keeps the rejected view as a negative example, and a
later search refuses that look-alike (and says why, to staff), while the vehicle itself is still
found. Real worker, real models, real photos."""
import pytest
from django.core.files import File
from django.urls import reverse

from gallery.models import NegativeExample
from searches import lifecycle
from searches.models import Hit, NearMiss, SearchFile, SearchJob
from tests.media import FIXTURES
from tests.web.conftest import register_via_views

pytestmark = pytest.mark.django_db

LOOSE = 0.9  # a threshold so loose that a different car matches: the look-alike of this test


def photo_search(user, names, threshold=LOOSE) -> SearchJob:
    job = SearchJob.objects.create(owner=user, threshold=threshold, match_attributes=False)
    for position, name in enumerate(names):
        row = SearchFile(job=job, original_name=name, kind="image", position=position)
        with open(FIXTURES / name, "rb") as fh:
            row.file.save(name, File(fh), save=True)
    lifecycle.queue(job)
    return job


def test_a_rejected_look_alike_is_refused_by_later_searches(alice, user, queue, run_worker):
    wagon = register_via_views(alice, FIXTURES / "street_wagon.jpg", label="Silver wagon")
    job = photo_search(user, ["red_car.jpg"])
    run_worker()
    hit = Hit.objects.get(job=job)  # the red hatchback, matched only because the threshold is loose
    assert hit.vehicle == wagon and hit.embedding and hit.embedder
    alice.post(reverse("searches:hit_reject", args=[job.pk, hit.pk]))
    negative = NegativeExample.objects.get(vehicle=wagon)
    assert "red_car.jpg" in negative.source and negative.thumbnail
    page = alice.get(wagon.get_absolute_url()).content.decode()
    assert "Not this vehicle" in page and "red_car.jpg" in page  # listed, with a remove button

    again = photo_search(user, ["red_car.jpg", "street_wagon.jpg"])
    run_worker()
    assert list(Hit.objects.filter(job=again).values_list("file__original_name", flat=True)) == ["street_wagon.jpg"]
    refused = NearMiss.objects.filter(job=again, file__original_name="red_car.jpg")
    assert refused and all(r.vehicle == wagon and "rejected look-alike" in r.reason for r in refused)

    # Removing the negative example lets the look-alike through again.
    alice.post(reverse("gallery:negative_delete", args=[negative.pk]))
    assert not NegativeExample.objects.exists()
    third = photo_search(user, ["red_car.jpg"])
    run_worker()
    assert Hit.objects.filter(job=third).count() == 1
