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


def confirm(client, hit):
    return client.post(reverse("searches:hit_confirm", args=[hit.job_id, hit.pk]))


def reject_url(hit):
    return reverse("searches:hit_reject", args=[hit.job_id, hit.pk])


def test_a_confirmed_hit_adds_its_view_to_the_vehicle_once(alice, street_hit):
    page = alice.get(street_hit.get_absolute_url()).content.decode()
    assert "add this view to its photos" in page and "Not this vehicle" in page
    response = confirm(alice, street_hit)
    assert response.status_code == 302 and response["Location"] == street_hit.get_absolute_url()
    first, added = street_hit.vehicle.photos.order_by("pk")
    # The frame of the video, read again: the same car as the registered photo of that frame.
    assert float(1.0 - first.vector @ added.vector) < 0.05
    assert added.box == first.box and default_storage.exists(added.image.name) and default_storage.exists(added.crop.name)
    page = alice.get(response["Location"]).content.decode()
    assert "Added this view to Silver car (2 photos)" in page
    # The button says it is done, and a second click (another tab, a double click) adds nothing.
    assert "Confirmed: this view is one of Silver car" in page and "add this view to its photos" not in page
    page = alice.get(confirm(alice, street_hit)["Location"]).content.decode()
    assert "already one of Silver car" in page and street_hit.vehicle.photos.count() == 2


def test_a_rejected_hit_is_removed_after_a_confirmation(alice, street_hit, django_capture_on_commit_callbacks):
    thumbnail = street_hit.thumbnail.name
    page = alice.get(reject_url(street_hit)).content.decode()
    assert "Not Silver car?" in page and "Remove the hit" in page and "Keep it" in page
    assert Hit.objects.exists()  # asking is not removing
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the delete commits
        response = alice.post(reject_url(street_hit))
    assert response.status_code == 302 and response["Location"] == street_hit.job.get_absolute_url()
    assert not Hit.objects.exists() and not default_storage.exists(thumbnail)
    assert "Removed the hit of Silver car in bikes.mp4" in alice.get(response["Location"]).content.decode()


def test_only_the_owner_reviews_and_confirming_needs_a_post(street_hit, other_user, alice):
    bob = Client()
    bob.force_login(other_user)
    assert bob.post(reject_url(street_hit)).status_code == 404
    assert confirm(bob, street_hit).status_code == 404
    assert alice.get(reverse("searches:hit_confirm", args=[street_hit.job_id, street_hit.pk])).status_code == 405
    assert Hit.objects.count() == 1 and street_hit.vehicle.photos.count() == 1


def test_a_hit_whose_file_is_gone_gives_a_message_and_stays_unconfirmed(alice, street_hit):
    street_hit.file.file.delete(save=True)
    response = confirm(alice, street_hit)
    page = alice.get(response["Location"]).content.decode()
    assert "Could not add this view: the file of this hit is no longer stored" in page
    assert street_hit.vehicle.photos.count() == 1 and np.isfinite(street_hit.distance)
    street_hit.refresh_from_db()
    assert street_hit.confirmed_at is None


def test_the_hit_page_outlines_the_vehicle_over_the_video(alice, street_hit):
    SearchFile.objects.filter(pk=street_hit.file_id).update(width=640, height=272)
    page = alice.get(street_hit.get_absolute_url()).content.decode()
    x1, y1, x2, _ = street_hit.box
    assert 'id="video-box"' in page and f'data-left="{100 * x1 / 640:.3f}"' in page
    assert f'data-start="{street_hit.start_s:.3f}" data-end="{street_hit.end_s:.3f}"' in page
    assert "js/hit_player.js" in page


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
    assert confirm(alice, hit).status_code == 302
    assert time.monotonic() - start < 2.0
    added = street_car.photos.order_by("pk").last()
    stored = cv2.imread(default_storage.path(added.image.name))
    assert stored.shape[0] * stored.shape[1] <= MAX_PIXELS
    scale = stored.shape[1] / big.shape[1]
    assert added.box == pytest.approx([round(v * scale, 1) for v in box], abs=0.2)
