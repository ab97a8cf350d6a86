"""Reviewing a hit: confirm it (its best frame becomes a new photo of the vehicle) or reject it."""
import numpy as np
import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from searches.models import Hit, SearchFile, SearchJob
from tests.web.conftest import REGISTER_FRAME

pytestmark = pytest.mark.django_db


@pytest.fixture
def street_hit(user, street_car, bikes):
    """A hit of the registered street car in bikes.mp4, at the frame it was registered from."""
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE)
    video = SearchFile(job=job, original_name="bikes.mp4", kind="video")
    with open(bikes, "rb") as fh:
        video.file.save("bikes.mp4", File(fh), save=True)
    box = street_car.photos.get().box
    hit = Hit(job=job, file=video, vehicle=street_car, start_s=5.8, end_s=7.4, best_frame=REGISTER_FRAME,
              best_time_s=REGISTER_FRAME / 25, start_frame=145, end_frame=185, distance=0.05, box=box)
    hit.thumbnail.save("hit.jpg", ContentFile(b"jpeg"), save=True)
    return hit


def action(client, hit, name):
    return client.post(reverse("searches:hit_action", args=[hit.job_id, hit.pk, name]))


def test_a_confirmed_hit_adds_its_view_to_the_vehicle(alice, street_hit):
    page = alice.get(street_hit.get_absolute_url()).content.decode()
    assert "add this view to its photos" in page and "Not this vehicle" in page
    response = action(alice, street_hit, "add-view")
    assert response.status_code == 302 and response["Location"] == street_hit.get_absolute_url()
    first, added = street_hit.vehicle.photos.order_by("pk")
    # The frame of the video, read again: the same car as the registered photo of that frame.
    assert float(1.0 - first.vector @ added.vector) < 0.05
    assert added.box == first.box and default_storage.exists(added.image.name) and default_storage.exists(added.crop.name)
    assert "Added this view to Silver car (2 photos)" in alice.get(response["Location"]).content.decode()


def test_a_rejected_hit_is_removed_with_its_thumbnail(alice, street_hit, django_capture_on_commit_callbacks):
    thumbnail = street_hit.thumbnail.name
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the delete commits
        response = action(alice, street_hit, "reject")
    assert response.status_code == 302 and response["Location"] == street_hit.job.get_absolute_url()
    assert not Hit.objects.exists() and not default_storage.exists(thumbnail)
    assert "Removed the hit of Silver car in bikes.mp4" in alice.get(response["Location"]).content.decode()


def test_only_the_owner_reviews_and_only_by_post(street_hit, other_user, alice):
    bob = Client()
    bob.force_login(other_user)
    assert action(bob, street_hit, "reject").status_code == 404
    assert action(bob, street_hit, "add-view").status_code == 404
    assert alice.get(reverse("searches:hit_action", args=[street_hit.job_id, street_hit.pk, "reject"])).status_code == 405
    assert action(alice, street_hit, "promote").status_code == 404
    assert Hit.objects.count() == 1 and street_hit.vehicle.photos.count() == 1


def test_a_hit_whose_file_is_gone_gives_a_message(alice, street_hit):
    street_hit.file.file.delete(save=True)
    response = action(alice, street_hit, "add-view")
    page = alice.get(response["Location"]).content.decode()
    assert "Could not add this view: the file of this hit is no longer stored" in page
    assert street_hit.vehicle.photos.count() == 1 and np.isfinite(street_hit.distance)


def test_confirming_a_hit_in_a_big_image_decodes_it_downscaled(alice, street_car, car_frame_jpg):
    """Like a registration photo: the web process decodes at most MAX_PIXELS of it, the box
    scaled to match."""
    import time

    import cv2

    from gallery.registration import MAX_PIXELS

    big = cv2.resize(cv2.imread(str(car_frame_jpg)), (640 * 12, 272 * 12))  # 25 MP
    job = SearchJob.objects.create(owner=street_car.owner, status=SearchJob.Status.DONE)
    image = SearchFile(job=job, original_name="big.jpg", kind="image", width=big.shape[1], height=big.shape[0])
    image.file.save("big.jpg", ContentFile(cv2.imencode(".jpg", big)[1].tobytes()), save=True)
    box = [v * 12 for v in street_car.photos.get().box]
    hit = Hit.objects.create(job=job, file=image, vehicle=street_car, distance=0.05, box=box)
    start = time.monotonic()
    assert action(alice, hit, "add-view").status_code == 302
    assert time.monotonic() - start < 2.0
    added = street_car.photos.order_by("pk").last()
    stored = cv2.imread(default_storage.path(added.image.name))
    assert stored.shape[0] * stored.shape[1] <= MAX_PIXELS
    scale = stored.shape[1] / big.shape[1]
    assert added.box == pytest.approx([round(v * scale, 1) for v in box], abs=0.2)
