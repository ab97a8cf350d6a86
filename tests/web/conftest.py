"""Web test fixtures: real Redis (a separate db, flushed), real database, real engine models."""
import io
import shutil
import stat
import zipfile
from pathlib import Path

import cv2
import django_rq
import numpy as np
import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rq import SimpleWorker

from engine import api
from gallery.models import Vehicle, VehiclePhoto
from tests.media import bikes_mp4

REGISTER_FRAME = 160  # bikes.mp4: a car passes the street scene around frames 135-185


@pytest.fixture(scope="session", autouse=True)
def _media_root_cleanup():
    yield
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Cached pages are keyed by user and object ids, which the next test's rows may reuse."""
    from django.core.cache import cache
    cache.clear()


@pytest.fixture
def queue():
    """The real "default" RQ queue on the test Redis database, emptied before and after."""
    q = django_rq.get_queue("default")
    q.connection.flushdb()
    yield q
    q.connection.flushdb()


@pytest.fixture
def run_worker(queue):
    """Run the queued jobs to completion in this process (burst mode, no fork)."""
    def run():
        worker = SimpleWorker([queue], connection=queue.connection)
        worker.work(burst=True)
        return worker
    return run


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-pass-123")


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def bikes():
    return bikes_mp4()


@pytest.fixture(scope="session")
def car_frame_jpg(bikes, tmp_path_factory) -> Path:
    """One frame of bikes.mp4 with a car in it, as a JPEG photo to register the car from."""
    frame = api.read_frame(bikes, REGISTER_FRAME)
    path = tmp_path_factory.mktemp("photos") / "street_car.jpg"
    cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def make_vehicle(owner, label="Test car", dim=8) -> Vehicle:
    """A vehicle row without running the engine (for tests of pages, isolation, exports)."""
    import numpy as np
    from django.core.files.base import ContentFile

    vehicle = Vehicle.objects.create(owner=owner, label=label)
    photo = VehiclePhoto(vehicle=vehicle, box=[0, 0, 10, 10])
    vector = np.ones(dim, dtype=np.float32) / np.sqrt(dim)
    photo.set_vector(vector, "test-embedder")
    jpeg = cv2.imencode(".jpg", np.zeros((10, 10, 3), np.uint8))[1].tobytes()
    photo.image.save("photo.jpg", ContentFile(jpeg), save=False)
    photo.crop.save("crop.jpg", ContentFile(jpeg), save=False)
    photo.save()
    return vehicle


def pick_index(pending, min_center_x=400) -> int:
    """Index of the parked car on the right of the street frame (seen in frames ~135-185)."""
    for index, det in enumerate(pending.detections):
        x1, _, x2, _ = det["box"]
        if (x1 + x2) / 2 > min_center_x:
            return index
    raise AssertionError(f"no car on the right among {pending.detections}")


def register_via_views(client, photo_path, label="Silver car", index_of=pick_index):
    """Upload a photo and save one detected box through the registration pages."""
    from django.urls import reverse

    from gallery.models import PendingPhoto

    with open(photo_path, "rb") as fh:
        response = client.post(reverse("gallery:upload"), {"photo": fh})
    assert response.status_code == 302, response.content[:2000]
    pending = PendingPhoto.objects.latest("pk")
    x1, y1, x2, y2 = pending.detections[index_of(pending)]["box"]
    response = client.post(reverse("gallery:pick", args=[pending.pk]),
                           {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "label": label})
    assert response.status_code == 302, response.content[:2000]
    return Vehicle.objects.get(label=label)


@pytest.fixture
def street_car(alice, car_frame_jpg):
    return register_via_views(alice, car_frame_jpg)


def zip_bytes(members=(), dirs=(), symlinks=()) -> bytes:
    """A zip archive: (name, data) members, empty folders, and symbolic links (name, target)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in dirs:
            zf.writestr(zipfile.ZipInfo(name), b"")
        for name, data in members:
            zf.writestr(name, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


# Sample values for URL parameters that are not object ids.
SAMPLE_KWARGS = {
    "index": 0, "kind": "image", "action": "pause", "queue_index": 0, "scheduler_index": 0,
    "connection_index": 0, "job_id": "x", "key": "x", "result_id": "x", "scheduler_name": "x",
    "cron_job_name": "x", "token": "x", "object_id": "1", "content_type_id": "1", "id": "1",
    "app_label": "auth", "url": "x",
}


def url_patterns(resolver=None, namespace=(), groups=()):
    """(namespaced name, kwarg names) of every URL pattern of the site."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        names = tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner = namespace + ((pattern.namespace,) if pattern.namespace else ())
            yield from url_patterns(pattern, inner, groups + names)
        elif isinstance(pattern, URLPattern):
            yield ":".join(namespace + (pattern.name or "",)), groups + names


APPS = ("gallery", "searches", "footage")  # namespaces whose URLs take ids of a user's objects


def site_urls(object_kwargs=None):
    """One concrete URL per named pattern; object ids from `object_kwargs(name)`."""
    urls = {}
    for name, params in url_patterns():
        if name.endswith(":") or not name:  # unnamed: the root redirect and the admin's catch-all
            continue
        kwargs = {p: SAMPLE_KWARGS.get(p, 1) for p in params}
        if object_kwargs and name.split(":")[0] in APPS:
            kwargs.update(object_kwargs(name))
        urls[name] = reverse(name, kwargs=kwargs)
    assert len(urls) > 60 and "searches:file" in urls and "admin:index" in urls
    return urls


def owned_footage(owner, search_file, name="gate", dim=8):
    """A camera, the footage of `search_file`'s stored file (indexed, recorded at a known time) and
    two sightings in it, each with a real JPEG thumbnail and a `dim` vector (as the other test vectors)."""
    from datetime import UTC, datetime

    from django.core.files.base import ContentFile

    from searches.footage.models import Camera, Footage, Sighting

    camera = Camera.objects.create(owner=owner, name=name)
    footage = Footage.objects.create(
        owner=owner, file=search_file.file.name, original_name=search_file.original_name, kind=search_file.kind,
        camera=camera, recorded_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC), recorded_at_source="user",
        status=Footage.Status.INDEXED, embedder="test-embedder", sightings_count=2)
    search_file.footage = footage
    search_file.save(update_fields=["footage"])
    thumbnail = cv2.imencode(".jpg", np.full((24, 32, 3), 90, np.uint8))[1].tobytes()
    sightings = []
    for index, (colour, kind) in enumerate([("red", "car"), ("white", "van")]):
        vector = np.ones(dim, np.float32)
        vector[index] = 2.0  # two different unit vectors, near each other
        sighting = Sighting(
            footage=footage, owner=owner, camera=camera, seen_at=footage.seconds_at(index * 5.0),
            start_s=index * 5.0, end_s=index * 5.0 + 2, start_frame=0, end_frame=0, best_frame=0,
            best_time_s=index * 5.0 + 1, box=[200, 150, 440, 330], colour=colour, vehicle_type=kind,
            attributes={"colours": {colour: 0.9}, "types": {kind: 0.9}},
            embedding=(vector / np.linalg.norm(vector)).tobytes(), embedder="test-embedder")
        sighting.thumbnail.save("t.jpg", ContentFile(thumbnail), save=False)
        sighting.save()
        sightings.append(sighting)
    return camera, footage, sightings


def owned_things(owner, vehicle_label="Test car", job_name="a job"):
    """A vehicle, photo, pending photo, paused job, file and hit of `owner`, with stored media,
    the file's footage, camera and two sightings (owned_footage), and one concrete URL per named
    pattern, the URLs with an id pointing at these objects."""
    from django.core.files.base import ContentFile

    from gallery.models import PendingPhoto
    from gallery.negatives import add_negative
    from searches.models import Hit, SearchFile, SearchJob
    from tests.media import FIXTURES

    jpeg = (FIXTURES / "red_car.jpg").read_bytes()
    vehicle = make_vehicle(owner, vehicle_label)
    pending = PendingPhoto(owner=owner, width=10, height=10)
    pending.image.save("p.jpg", ContentFile(jpeg), save=False)
    pending.save()
    job = SearchJob.objects.create(owner=owner, name=job_name, status=SearchJob.Status.PAUSED)
    search_file = SearchFile(job=job, original_name="a.jpg", kind="image", status="done")
    search_file.file.save("a.jpg", ContentFile(jpeg), save=False)
    search_file.save()
    hit = Hit(job=job, file=search_file, vehicle=vehicle, distance=0.1, box=[1, 2, 3, 4],
              embedding=np.ones(8, np.float32).tobytes(), embedder="test-embedder")
    hit.thumbnail.save("t.jpg", ContentFile(jpeg), save=False)
    hit.save()
    negative = add_negative(vehicle, np.ones(8, np.float32).tobytes(), "test-embedder", 8, thumbnail_bytes=jpeg,
                            source="a rejected hit")
    camera, footage, sightings = owned_footage(owner, search_file, f"{job_name} gate")
    ids = {
        "pending": {"pk": pending.pk}, "vehicle": {"pk": vehicle.pk}, "photo": {"pk": vehicle.photos.get().pk},
        "job": {"pk": job.pk}, "file": {"pk": search_file.pk}, "hit": {"pk": hit.pk},
        "job_hit": {"job_pk": job.pk, "pk": hit.pk}, "negative": {"pk": negative.pk},
        "footage": {"pk": footage.pk}, "sighting": {"pk": sightings[0].pk},
    }
    # Which object each URL with an id is about. A new URL with an id must be added here.
    owner_of = {
        "gallery:pick": "pending", "gallery:pending_file": "pending",
        "gallery:negative_delete": "negative", "gallery:negative_file": "negative",
        "gallery:vehicle": "vehicle", "gallery:vehicle_edit": "vehicle", "gallery:vehicle_delete": "vehicle",
        "gallery:photo_delete": "photo", "gallery:photo_file": "photo",
        "searches:detail": "job", "searches:progress": "job", "searches:timeline": "job", "searches:rerun": "job",
        "searches:action": "job", "searches:export_csv": "job", "searches:export_json": "job",
        "searches:hit": "job_hit", "searches:hit_confirm": "job_hit", "searches:hit_reject": "job_hit",
        "searches:delete": "job",
        "searches:file": "file", "searches:hit_thumbnail": "hit",
        "footage:sighting": "sighting", "footage:sighting_thumbnail": "sighting", "footage:similar": "sighting",
        "footage:register": "sighting", "footage:similar_hit": "hit", "footage:journey": "vehicle",
        "footage:file_edit": "footage",
    }

    def object_kwargs(name):
        return ids[owner_of[name]] if name in owner_of else {}

    with_ids = {name for name, params in url_patterns()
                if name.split(":")[0] in APPS and {"pk", "job_pk"} & set(params)}
    assert with_ids == set(owner_of), f"add {with_ids - set(owner_of)} to owner_of"
    return {"urls": site_urls(object_kwargs), "with_ids": with_ids, "job": job, "vehicle": vehicle,
            "pending": pending, "file": search_file, "hit": hit, "camera": camera, "footage": footage,
            "sightings": sightings}
