"""Every uploaded file gets a camera and a recording start; hits, exports and sightings carry them."""
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engine import api
from searches.footage.models import Camera, Footage, Sighting
from searches.footage.recording import folder_camera
from searches.footage.store import SightingWriter
from searches.models import Hit, SearchFile, SearchJob
from tests.media import FIXTURES
from tests.web.conftest import make_vehicle, zip_bytes

# RuntimeWarning: Django saving a naive datetime (it would guess the zone instead of us saying it).
pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("error:DateTimeField .* received a naive datetime")]

RED_CAR = (FIXTURES / "red_car.jpg").read_bytes()  # EXIF DateTimeOriginal 2002:08:12 17:02:00, no offset
SEARCH = {"device": "cpu", "frame_stride": "5", "tracking": "on", "proposals": "detector"}
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def berlin(settings):
    """A site time zone apart from UTC: naive times from the engine are read in it."""
    settings.TIME_ZONE = "Europe/Berlin"


def upload(client, files=(), folder=(), **fields) -> SearchJob:
    """files / folder: (name, bytes); a folder's names are relative paths."""
    data = {**SEARCH, **fields,
            "files": [SimpleUploadedFile(name, data) for name, data in files],
            "folder": [SimpleUploadedFile(name.rsplit("/", 1)[-1], data) for name, data in folder],
            "folder_paths": json.dumps([name for name, _ in folder])}
    response = client.post(reverse("searches:create"), data)
    assert response.status_code == 302, response.content[:3000]
    return SearchJob.objects.latest("pk")


def footage_of(job) -> dict[str, Footage]:
    return {f.original_name: f.footage for f in job.files.select_related("footage__camera")}


def write_video(path, creation_time=None):
    """A real three-frame video, tagged with a container creation time as asked."""
    with av.open(str(path), "w") as container:
        if creation_time:
            container.metadata["creation_time"] = creation_time
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for shade in (0, 80, 160):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), shade, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path.read_bytes()


@pytest.mark.parametrize(("name", "camera"), [
    ("cams.zip/cam1/red_car.jpg", "cam1"),
    ("cams.zip/red_car.jpg", ""),  # an archive's own name is no folder
    ("gate/2023-11-05/x.mp4", "gate"),  # days and hours under a camera's folder are skipped
    ("site/north gate/2023-11-05/14/x.dav", "north gate"),
    ("x.mp4", ""),
    (r"exports\cam2\x.mp4", "cam2"),
])
def test_folder_camera(name, camera):
    assert folder_camera(name) == camera


def test_camera_from_zip_folder_folder_upload_and_form_field(alice, user, queue):
    cams = zip_bytes([("cam1/red_car.jpg", RED_CAR), ("cam2/a/red_car.jpg", RED_CAR), ("loose.jpg", RED_CAR)])
    job = upload(alice, files=[("cams.zip", cams), ("single.jpg", RED_CAR)],
                 folder=[("gate/2023-11-05/red_car.jpg", RED_CAR)])
    cameras = {name: str(f.camera or "") for name, f in footage_of(job).items()}
    assert cameras == {"cams.zip/cam1/red_car.jpg": "cam1", "cams.zip/cam2/a/red_car.jpg": "a",
                       "cams.zip/loose.jpg": "", "single.jpg": "", "gate/2023-11-05/red_car.jpg": "gate"}

    # A camera typed on the form is every file's camera, folders or not; an existing one is reused.
    job = upload(alice, files=[("cams.zip", cams), ("single.jpg", RED_CAR)], camera_name="  cam1 ")
    assert {str(f.camera) for f in footage_of(job).values()} == {"cam1"}
    assert sorted(Camera.objects.filter(owner=user).values_list("name", flat=True)) == ["a", "cam1", "gate"]
    assert Footage.objects.filter(owner=user).count() == 9 and queue.count == 2


def test_recording_start_from_metadata_before_name_and_entered_time(alice, tmp_path, queue):
    video = write_video(tmp_path / "v.mp4", creation_time="2023-11-05T14:30:22.000000Z")
    job = upload(alice, files=[("ch01_20200101101010.mp4", video), ("red_car.jpg", RED_CAR)],
                 recorded_at="2024-02-03T04:05:06")
    found = footage_of(job)
    clip, photo = found["ch01_20200101101010.mp4"], found["red_car.jpg"]
    assert (clip.recorded_at, clip.recorded_at_source) == (datetime(2023, 11, 5, 14, 30, 22, tzinfo=UTC), "metadata")
    # EXIF without an offset is the camera's local time: read in the site's TIME_ZONE.
    assert (photo.recorded_at, photo.recorded_at_source) == (datetime(2002, 8, 12, 17, 2, tzinfo=BERLIN), "metadata")
    assert clip.kind == "video" and photo.kind == "image"


def test_entered_time_only_where_metadata_and_name_tell_none(alice, bikes, queue):
    data = bikes.read_bytes()  # no creation time in its container
    job = upload(alice, files=[("bikes.mp4", data), ("ch01_20231105143022.mp4", data)],
                 recorded_at="2024-02-03T04:05:06")
    found = footage_of(job)
    assert (found["bikes.mp4"].recorded_at, found["bikes.mp4"].recorded_at_source) == (
        datetime(2024, 2, 3, 4, 5, 6, tzinfo=BERLIN), "user")
    named = found["ch01_20231105143022.mp4"]
    assert (named.recorded_at, named.recorded_at_source) == (datetime(2023, 11, 5, 14, 30, 22, tzinfo=BERLIN),
                                                             "file name")
    job = upload(alice, files=[("bikes.mp4", data)])
    assert (footage_of(job)["bikes.mp4"].recorded_at, footage_of(job)["bikes.mp4"].recorded_at_source) == (None, "")


def test_a_bad_entered_time_is_refused_on_the_form(alice, queue):
    response = alice.post(reverse("searches:create"), {**SEARCH, "recorded_at": "yesterday-ish",
                                                       "files": [SimpleUploadedFile("a.jpg", RED_CAR)]})
    assert response.status_code == 200 and "Enter a valid date/time" in response.content.decode()
    assert not Footage.objects.exists() and queue.count == 0


def test_search_hits_sightings_and_exports_carry_camera_and_wall_clock(alice, user, street_car, bikes, queue,
                                                                       run_worker):
    job = upload(alice, files=[("ch01_20231105143022.mp4", bikes.read_bytes())], camera_name="Gate")
    run_worker()
    job.refresh_from_db()
    assert job.status == "done", job.error
    start = datetime(2023, 11, 5, 14, 30, 22, tzinfo=BERLIN)
    footage = Footage.objects.get(owner=user)
    assert footage.status == "indexed" and footage.recorded_at == start and str(footage.camera) == "Gate"
    sightings = list(footage.sightings.all())
    assert sightings and all(s.camera_id == footage.camera_id for s in sightings)
    assert all(s.seen_at == start + timedelta(seconds=s.start_s) for s in sightings)

    hits = list(job.hits.order_by("start_s"))
    assert hits and hits[0].start_at == start + timedelta(seconds=hits[0].start_s)
    page = alice.get(hits[0].get_absolute_url()).content.decode()
    local = (start + timedelta(seconds=hits[0].start_s)).strftime("%Y-%m-%d %H:%M:%S")
    assert "Camera <strong>Gate</strong>" in page and local in page and "from the file name" in page
    assert reverse("footage:file_edit", args=[footage.pk]) in page
    assert local in alice.get(reverse("searches:timeline", args=[job.pk])).content.decode()

    rows = list(csv.DictReader(io.StringIO(alice.get(reverse("searches:export_csv", args=[job.pk])).content.decode())))
    assert rows[0]["camera"] == "Gate"
    assert datetime.fromisoformat(rows[0]["start_at"]) == hits[0].start_at
    assert datetime.fromisoformat(rows[0]["end_at"]) == hits[0].end_at
    assert rows[0]["start_at"].endswith("+01:00")  # the site's local time, with its offset
    data = json.loads(alice.get(reverse("searches:export_json", args=[job.pk])).content)
    assert data["hits"][0]["camera"] == "Gate" and data["hits"][0]["start_at"] == rows[0]["start_at"]

    # A re-run shares the file, so its footage: camera and time included.
    response = alice.post(reverse("searches:rerun", args=[job.pk]), {
        **SEARCH, "camera": "moving", "vehicles": [street_car.pk]})
    assert response.status_code == 302
    again = SearchJob.objects.latest("pk")
    assert again.pk != job.pk and again.files.get().footage_id == footage.pk


def stored_footage(owner, file="jobs/x/clip.mp4", **fields) -> Footage:
    """A footage with three sightings, without the engine."""
    footage = Footage.objects.create(owner=owner, file=file, original_name="clip.mp4",
                                     kind="video", status="indexed", sightings_count=3, **fields)
    for start_s in (1.5, 4.0, 9.25):
        Sighting.objects.create(
            footage=footage, owner=owner, camera=footage.camera, seen_at=footage.seconds_at(start_s),
            start_s=start_s, end_s=start_s + 1, start_frame=int(start_s * 25), end_frame=int(start_s * 25) + 25,
            best_frame=int(start_s * 25), best_time_s=start_s, box=[0, 0, 10, 10],
            embedding=np.ones(8, np.float32).tobytes(), embedder="test-embedder")
    return footage


def test_editing_camera_and_time_updates_the_sightings(alice, user):
    old = Camera.objects.create(owner=user, name="Old cam")
    metadata_time = datetime(2023, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    footage = stored_footage(user, camera=old, recorded_at=metadata_time, recorded_at_source="metadata")
    url = reverse("footage:file_edit", args=[footage.pk])
    page = alice.get(url).content.decode()
    assert 'value="Old cam"' in page and '<option value="Old cam">' in page

    # Only the camera changes: the metadata's time stays, to the microsecond.
    response = alice.post(url, {"camera_name": "North gate", "recorded_at": "2023-01-02T04:04:05"})
    assert response.status_code == 302 and response["Location"] == reverse("footage:files")
    footage.refresh_from_db()
    assert str(footage.camera) == "North gate" and footage.recorded_at == metadata_time
    assert footage.recorded_at_source == "metadata"
    assert set(footage.sightings.values_list("camera__name", flat=True)) == {"North gate"}

    response = alice.post(url + "?next=/searches/", {"camera_name": "Old cam", "recorded_at": "2023-11-05T14:30:00"})
    assert response["Location"] == "/searches/"
    footage.refresh_from_db()
    start = datetime(2023, 11, 5, 14, 30, tzinfo=BERLIN)
    assert footage.camera == old and footage.recorded_at == start and footage.recorded_at_source == "user"
    assert sorted(footage.sightings.values_list("seen_at", "camera")) == [
        (start + timedelta(seconds=s), old.pk) for s in (1.5, 4.0, 9.25)]

    assert alice.post(url + "?next=https://evil.example/", {"camera_name": "", "recorded_at": ""})[
        "Location"] == reverse("footage:files")
    footage.refresh_from_db()
    assert footage.camera is None and footage.recorded_at is None and footage.recorded_at_source == ""
    assert set(footage.sightings.values_list("seen_at", "camera")) == {(None, None)}


def test_the_footage_list(alice, user, other_user, django_assert_max_num_queries):
    cam = Camera.objects.create(owner=user, name="Yard")
    for day in range(1, 4):
        stored_footage(user, f"jobs/{day}.mp4", camera=cam, recorded_at=datetime(2023, 5, day, 12, tzinfo=UTC),
                       recorded_at_source="user")
    stored_footage(other_user)
    with django_assert_max_num_queries(8):
        page = alice.get(reverse("footage:files")).content.decode()
    assert page.count("Yard") == 3 and "2023-05-03 14:00:00" in page and "entered by you" in page
    assert page.index("2023-05-03") < page.index("2023-05-01")  # newest recording first
    assert reverse("footage:files") in alice.get(reverse("searches:list")).content.decode()  # the nav link


def test_other_users_footage_answers_404(client, user, other_user):
    footage = stored_footage(other_user, camera=Camera.objects.create(owner=other_user, name="Bob's cam"))
    client.force_login(user)
    url = reverse("footage:file_edit", args=[footage.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"camera_name": "mine", "recorded_at": ""}).status_code == 404
    assert "clip.mp4" not in client.get(reverse("footage:files")).content.decode()
    footage.refresh_from_db()
    assert str(footage.camera) == "Bob's cam" and not Camera.objects.filter(owner=user).exists()


def test_export_columns_without_footage_or_time(alice, user):
    vehicle = make_vehicle(user)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE)
    untimed = Footage.objects.create(owner=user, file="jobs/b.mp4", original_name="b.mp4",
                                     camera=Camera.objects.create(owner=user, name="=cmd"))
    for position, footage in enumerate([None, untimed]):
        row = SearchFile.objects.create(job=job, original_name=f"{position}.mp4", kind="video", status="done",
                                        position=position, footage=footage)
        Hit.objects.create(job=job, file=row, vehicle=vehicle, start_s=1, end_s=2, distance=0.2, box=[0, 0, 5, 5])
    rows = list(csv.DictReader(io.StringIO(alice.get(reverse("searches:export_csv", args=[job.pk])).content.decode())))
    assert [(r["camera"], r["start_at"], r["end_at"]) for r in rows] == [("", "", ""), ("'=cmd", "", "")]


def test_sightings_stored_during_an_edit_follow_it(user):
    """The edit updates the sightings stored so far; the pass's later ones catch up when it ends."""
    footage = stored_footage(user)
    job = SearchJob.objects.create(owner=user)
    search_file = SearchFile.objects.create(job=job, original_name="clip.mp4", footage=footage, status="running")
    writer = SightingWriter(footage, search_file.pk, {"detector": "d"}, "test-embedder", 1, start_frame=200)
    Footage.objects.filter(pk=footage.pk).update(camera=Camera.objects.create(owner=user, name="Late"),
                                                 recorded_at=datetime(2023, 1, 1, tzinfo=UTC))
    writer.add(api.Sighting(10.0, 11.0, 250, 275, 260, 10.4, (0, 0, 5, 5), np.ones(8, np.float32) / np.sqrt(8)))
    writer.finish(complete=True)
    seen = footage.sightings.order_by("start_s").values_list("camera__name", "seen_at")
    assert list(seen) == [("Late", datetime(2023, 1, 1, tzinfo=UTC) + timedelta(seconds=s)) for s in (1.5, 4.0, 10.0)]


def test_a_cameras_mounting_decides_how_its_files_are_searched(alice, user):
    """Per file (issue 12): a camera set to "fixed" gets the motion-gated mode whatever the job says."""
    from searches.runner import JobRunner

    gate = Camera.objects.create(owner=user, name="Gate")
    footage = stored_footage(user, camera=gate)
    url = reverse("footage:file_edit", args=[footage.pk])
    assert alice.post(url, {"camera_name": "Gate", "mounting": "fixed", "recorded_at": ""}).status_code == 302
    gate.refresh_from_db()
    assert gate.mounting == "fixed"

    job = SearchJob.objects.create(owner=user, camera=SearchJob.Camera.MOVING)
    options = JobRunner.options  # needs only the job: called on a stand-in for the runner
    fake = type("Runner", (), {"job": job})()
    assert options(fake, 0, gate).camera == "fixed"
    assert options(fake, 0, None).camera == "moving"  # no camera: the job's setting
    gate.mounting = ""
    assert options(fake, 0, gate).camera == "moving"  # "as each search says"
    job.camera = SearchJob.Camera.FIXED
    gate.mounting = "moving"
    assert options(fake, 0, gate).camera == "moving"
