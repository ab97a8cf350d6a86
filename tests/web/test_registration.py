"""Registering vehicles from real photos with the real detector and embedder."""
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from engine.motion import box_iou
from gallery.engine_cache import get_engine
from gallery.index import job_gallery, user_gallery
from gallery.models import PendingPhoto, Vehicle, VehiclePhoto, embedding_digest
from tests.media import FIXTURES, needs_omz
from tests.web.conftest import register_via_views

pytestmark = pytest.mark.django_db


def test_register_from_a_photo_then_add_a_second_view(alice, user, car_frame_jpg):
    with open(car_frame_jpg, "rb") as fh:
        response = alice.post(reverse("gallery:upload"), {"photo": fh})
    pending = PendingPhoto.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == reverse("gallery:pick", args=[pending.pk])
    assert (pending.width, pending.height) == (640, 272)
    assert any(d["label"] in ("car", "vehicle") for d in pending.detections)

    page = alice.get(response["Location"]).content.decode()
    assert page.count('class="det-box"') == len(pending.detections)
    x1, y1, x2, y2 = pending.detections[0]["box"]
    # The best detection comes picked (static/js/boxdraw.js highlights it), its box in the form.
    shown = {name: float(value) for name, value in re.findall(r'name="([xy][12])" value="([-\d.]+)"', page)}
    assert shown == {"x1": x1, "y1": y1, "x2": x2, "y2": y2} and "Box: " in page
    assert f'data-box="{x1:g},{y1:g},{x2:g},{y2:g}"' in page and "<h1>Pick the vehicle</h1>" in page

    response = alice.post(reverse("gallery:pick", args=[pending.pk]),
                          {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "label": "Street car"})
    vehicle = Vehicle.objects.get(owner=user, label="Street car")
    assert response["Location"] == vehicle.get_absolute_url()
    photo = vehicle.photos.get()
    engine = get_engine()
    assert photo.dim == engine.embedder.dim and photo.vector.shape == (engine.embedder.dim,)
    assert abs(np.linalg.norm(photo.vector) - 1.0) < 1e-3
    assert default_storage.exists(photo.crop.name) and default_storage.exists(photo.image.name)
    assert not PendingPhoto.objects.exists()
    assert alice.get(reverse("gallery:photo_file", args=[photo.pk, "crop"]))["Content-Type"] == "image/jpeg"

    # A second view of the same vehicle, from its page's "Add a photo".
    adding = alice.get(reverse("gallery:upload") + f"?vehicle={vehicle.pk}").content.decode()
    assert "<h1>Add a photo of “Street car”</h1>" in adding and "Register a vehicle</h1>" not in adding
    with open(FIXTURES / "red_car.jpg", "rb") as fh:
        response = alice.post(reverse("gallery:upload"), {"photo": fh, "vehicle": vehicle.pk})
    pending = PendingPhoto.objects.get(owner=user)
    assert pending.vehicle == vehicle
    assert "<h1>Add a photo of “Street car”</h1>" in alice.get(response["Location"]).content.decode()
    response = alice.post(reverse("gallery:pick", args=[pending.pk]),
                          {"x1": 0, "y1": 0, "x2": pending.width, "y2": pending.height})
    assert response.status_code == 302 and vehicle.photos.count() == 2

    gallery_page = alice.get(reverse("gallery:list")).content.decode()
    assert "Street car" in gallery_page and "2 photos" in gallery_page


def test_photo_without_vehicles_offers_whole_image_and_drawn_box(alice, user):
    with open(FIXTURES / "fruits.jpg", "rb") as fh:
        response = alice.post(reverse("gallery:upload"), {"photo": fh}, follow=True)
    pending = PendingPhoto.objects.get(owner=user)
    page = response.content.decode()
    assert not pending.detections and page.count("No vehicle was found") == 1  # once: not also as a message
    assert "Use the whole image" in page and f'data-box="0,0,{pending.width},{pending.height}"' in page
    assert "No box yet: click a vehicle, use the whole image, or drag a box" in page and "Box: ," not in page
    # A box drawn by hand.
    response = alice.post(reverse("gallery:pick", args=[pending.pk]),
                          {"x1": 10, "y1": 10, "x2": 200, "y2": 150, "label": "Drawn"})
    assert response.status_code == 302
    assert VehiclePhoto.objects.get(vehicle__label="Drawn").box == [10.0, 10.0, 200.0, 150.0]


def test_bad_uploads_show_messages_not_tracebacks(alice, user, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    with open(bad, "rb") as fh:
        response = alice.post(reverse("gallery:upload"), {"photo": fh})
    assert response.status_code == 200 and "broken.jpg" in response.content.decode()
    assert not PendingPhoto.objects.exists()

    with open(FIXTURES / "red_car.jpg", "rb") as fh:
        alice.post(reverse("gallery:upload"), {"photo": fh})
    pending = PendingPhoto.objects.get(owner=user)
    response = alice.post(reverse("gallery:pick", args=[pending.pk]),
                          {"x1": 5, "y1": 5, "x2": 6, "y2": 6, "label": "Tiny"})
    assert response.status_code == 400 and "too small" in response.content.decode()
    response = alice.post(reverse("gallery:pick", args=[pending.pk]), {"label": "No box"})
    assert response.status_code == 400 and not Vehicle.objects.exists()


def test_delete_removes_the_vector_from_the_gallery_index(alice, user, django_capture_on_commit_callbacks):
    first = register_via_views(alice, FIXTURES / "red_car.jpg", "Red", index_of=lambda p: 0)
    second = register_via_views(alice, FIXTURES / "car_rear.jpg", "Rear", index_of=lambda p: 0)
    engine = get_engine()
    assert len(user_gallery(user, engine)) == 2
    assert len(job_gallery(user, engine, [first.pk])) == 1
    crop_name = second.photos.get().crop.name

    with django_capture_on_commit_callbacks(execute=True):  # the files go once the delete commits
        response = alice.post(reverse("gallery:vehicle_delete", args=[second.pk]))
    assert response.status_code == 302
    assert not default_storage.exists(crop_name)
    gallery = user_gallery(user, engine)
    assert len(gallery) == 1
    hits = gallery.search(first.photos.get().vector[None, :], 5)[0]
    assert [vehicle_id for vehicle_id, _ in hits] == [first.pk]
    _, index_files = default_storage.listdir(f"indexes/user_{user.pk}")
    # The stale index was replaced: one index and its sidecar, which load without a rebuild.
    assert sorted(Path(f).suffix for f in index_files) == [".faiss", ".json"]
    assert len({Path(f).stem for f in index_files}) == 1
    from gallery.index import _load_stored

    assert len(_load_stored(f"indexes/user_{user.pk}/{Path(index_files[0]).stem}.faiss")) == 1


def test_a_current_index_is_loaded_without_reading_any_vector(alice, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    vehicle = register_via_views(alice, FIXTURES / "red_car.jpg", "Red", index_of=lambda p: 0)
    engine = get_engine()
    user_gallery(user, engine)  # builds and stores the index
    with CaptureQueriesContext(connection) as queries:
        assert len(user_gallery(user, engine)) == 1
    assert not [q["sql"] for q in queries if '"embedding"' in q["sql"]]

    # A photo whose vector changed (same ids) makes the stored index stale.
    photo = vehicle.photos.get()
    moved = np.roll(photo.vector, 7)
    photo.embedding = moved.tobytes()
    photo.save(update_fields=["embedding"])
    assert VehiclePhoto.objects.get(pk=photo.pk).vector_digest == embedding_digest(moved.tobytes())
    distance = user_gallery(user, engine).search(moved[None, :], 1)[0][0][1]
    assert distance < 1e-5


def test_label_edit(alice, user):
    from tests.web.conftest import make_vehicle

    vehicle = make_vehicle(user, "Old")
    response = alice.post(reverse("gallery:vehicle_edit", args=[vehicle.pk]), {"label": "New"})
    assert response.status_code == 302
    vehicle.refresh_from_db()
    assert vehicle.label == "New"


def test_photos_embedded_by_another_model_are_re_embedded_with_keep_alive(alice, user):
    vehicle = register_via_views(alice, FIXTURES / "red_car.jpg", "Red", index_of=lambda p: 0)
    photo = vehicle.photos.get()
    good = photo.vector.copy()
    VehiclePhoto.objects.filter(pk=photo.pk).update(embedder="an-old-model", embedding=b"\0" * 16, dim=4)
    calls = []
    gallery = user_gallery(user, get_engine(), keep_alive=lambda: calls.append(1))
    photo.refresh_from_db()
    assert calls == [1] and photo.embedder == get_engine().embedder.name
    assert photo.dim == good.shape[0] and float(photo.vector @ good) > 0.999
    assert [v for v, _ in gallery.search(good[None, :], 1)[0]] == [vehicle.pk]


def test_abandoned_uploads_are_deleted_with_their_files(alice, user, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from searches.staleness import recover_all

    for name in ("red_car.jpg", "car_rear.jpg"):
        with open(FIXTURES / name, "rb") as fh:
            assert alice.post(reverse("gallery:upload"), {"photo": fh}).status_code == 302
    old, fresh = PendingPhoto.objects.order_by("pk")
    PendingPhoto.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=25))

    with django_capture_on_commit_callbacks(execute=True):  # the files go once the delete commits
        assert recover_all()["abandoned_uploads"] == 1  # what every worker runs now and then
    assert list(PendingPhoto.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not default_storage.exists(old.image.name) and default_storage.exists(fresh.image.name)


@needs_omz
def test_registration_offers_the_car_of_a_street_photo_with_its_colour_and_type(alice, user):
    """street_wagon.jpg: a silver station wagon behind a sign, people and newspaper boxes."""
    with open(FIXTURES / "street_wagon.jpg", "rb") as fh:
        response = alice.post(reverse("gallery:upload"), {"photo": fh})
    pending = PendingPhoto.objects.get(owner=user)
    wagon = (392, 419, 707, 580)  # hand-checked box of the wagon
    overlap = box_iou([d["box"] for d in pending.detections], [wagon])[0][:, 0]
    assert overlap.max() > 0.7
    best = pending.detections[int(overlap.argmax())]
    assert best["attributes"] and best["attributes"]["colours"]
    page = alice.get(response["Location"]).content.decode()
    colour = max(best["attributes"]["colours"], key=best["attributes"]["colours"].get)
    kind = max(best["attributes"]["types"], key=best["attributes"]["types"].get)
    assert f"{colour} {kind}" in page  # what the attribute model says is shown on the box



def rgba16_png(width: int, height: int) -> bytes:
    """A real, decodable 16-bit RGBA PNG of black pixels: a few hundred kB for many megapixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer, row = zlib.compressobj(9), b"\0" * (1 + width * 8)  # filter byte + 4 channels x 16 bits
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_registration_decodes_big_photos_downscaled(alice, user, car_frame_jpg):
    """Registration decodes in the web process: a 59 MP 16-bit PNG cost 3.5 s and ~1 GB per request.
    Other formats than JPEG are refused past 16 MP before decoding; a big JPEG is decoded at a
    reduced scale and stored at most 4 MP, its boxes in the stored image's pixels."""
    import time

    import cv2

    from gallery.registration import MAX_PIXELS

    png = ContentFile(rgba16_png(7700, 7700), name="huge.png")
    start = time.monotonic()
    response = alice.post(reverse("gallery:upload"), {"photo": png})
    assert time.monotonic() - start < 1.0
    assert response.status_code == 200 and "huge.png: 7700x7700 pixels" in response.content.decode()
    assert not PendingPhoto.objects.exists()

    street = cv2.imread(str(car_frame_jpg))
    big = cv2.resize(street, (640 * 10, 272 * 10))  # 17 MP, the car where it was
    jpeg = ContentFile(cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes(), name="big.jpg")
    assert alice.post(reverse("gallery:upload"), {"photo": jpeg}).status_code == 302
    pending = PendingPhoto.objects.get()
    assert pending.width * pending.height <= MAX_PIXELS and pending.width / pending.height == 640 / 272
    stored = cv2.imread(default_storage.path(pending.image.name))
    assert stored.shape[:2] == (pending.height, pending.width)
    assert any(d["label"] == "car" for d in pending.detections)
    vehicle = register_via_views_from(alice, pending, "Big car")
    assert vehicle.photos.get().stored_bytes > 0


def register_via_views_from(client, pending, label):
    x1, y1, x2, y2 = pending.detections[0]["box"]
    response = client.post(reverse("gallery:pick", args=[pending.pk]),
                           {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "label": label})
    assert response.status_code == 302
    return Vehicle.objects.get(label=label)
