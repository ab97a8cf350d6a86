"""Hostile uploads through the web app: each bad file gets a clear reason on the job page, the
other files are still searched (real worker), nothing is written outside MEDIA_ROOT, stored names
are sanitised, uploads over VREID_MAX_UPLOAD_MB are refused while they stream in."""
import errno
import io
import json
import os
import re
import struct
import uuid
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.test import override_settings
from django.urls import reverse
from django.utils.text import get_valid_filename

from gallery.models import PendingPhoto
from searches.models import SearchJob
from tests.media import FIXTURES
from tests.web.conftest import zip_bytes

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
SAFE_STORED_NAME = re.compile(r"^[\w.-]+$")  # letters (unicode ok), digits, '_', '-', '.'; no spaces


def multipart(fields: dict, files: list[tuple[str, str, bytes]]):
    """A raw multipart body, so that file names reach the server exactly as given."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{item}\r\n'.encode())
    for field, filename, data in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                  f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def post_files(client, url, files, **fields):
    body, content_type = multipart(fields, files)
    return client.post(url, body, content_type=content_type)


SEARCH_FIELDS = {"device": "cpu", "frame_stride": "5", "tracking": "on", "proposals": "detector"}


def png_bomb(width=50_000, height=50_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


class Jail:
    """MEDIA_ROOT and the upload temp dir inside tmp_path, with a sentinel folder beside them."""

    def __init__(self, root: Path):
        self.root, self.media = root, root / "media"
        self.sentinel, self.upload_tmp = root / "sentinel", root / "upload-tmp"
        for path in (self.media, self.sentinel, self.upload_tmp):
            path.mkdir()

    def assert_nothing_escaped(self):
        assert sorted(os.listdir(self.root)) == ["media", "sentinel", "upload-tmp"]
        assert os.listdir(self.sentinel) == [] and os.listdir(self.upload_tmp) == []

    def stored_files(self) -> list[Path]:
        return [Path(d) / f for d, _, files in os.walk(self.media) for f in files]


@pytest.fixture
def jail(settings, tmp_path):
    jail = Jail(tmp_path)
    settings.MEDIA_ROOT = str(jail.media)
    settings.FILE_UPLOAD_TEMP_DIR = str(jail.upload_tmp)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # every upload goes through a temp file
    return jail


def test_a_folder_upload_keeps_each_file_s_path_inside_the_folder(alice, queue):
    car = (FIXTURES / "red_car.jpg").read_bytes()
    folder = [("folder", "0001.jpg", car), ("folder", "0001.jpg", car), ("folder", "0002.jpg", car),
              ("folder", "0003.jpg", car)]
    # What static/js/folder_paths.js sends; a forged or mismatched path falls back to the base name.
    paths = ["yard/cam1/0001.jpg", "yard/cam2/0001.jpg", "../../etc/0002.jpg", "yard/other-name.jpg"]
    response = post_files(alice, reverse("searches:create"), folder, folder_paths=json.dumps(paths), **SEARCH_FIELDS)
    assert response.status_code == 302
    names = list(SearchJob.objects.latest("pk").files.order_by("position").values_list("original_name", flat=True))
    assert names == ["yard/cam1/0001.jpg", "yard/cam2/0001.jpg", "etc/0002.jpg", "0003.jpg"]
    # Without the script (or a list that does not match the files) the base names stay.
    post_files(alice, reverse("searches:create"), folder[:2], folder_paths="[1]", **SEARCH_FIELDS)
    assert set(SearchJob.objects.latest("pk").files.values_list("original_name", flat=True)) == {"0001.jpg"}


def test_hostile_files_fail_alone_with_reasons(jail, alice, street_car, bikes, queue, run_worker):
    red_car = (FIXTURES / "red_car.jpg").read_bytes()
    cams = zip_bytes(
        members=[("cam 1/Ünïcödé car.jpg", red_car), ("nested.zip", zip_bytes([("x.jpg", red_car)])),
                 ("zeros.mp4", b"\0" * (3 * MB))],
        dirs=["empty folder/", "cam 1/"],
    )
    files = [
        ("files", "Straße Kamera 1 — été.jpg", red_car),
        ("files", "broken.jpg", b"\xff\xd8\xff\xe0" + os.urandom(2000)),
        ("files", "truncated.mp4", bikes.read_bytes()[:100_000]),
        ("files", "empty.mp4", b""),
        ("files", "notes.mp4", b"these are my notes, not a video\n" * 50),
        ("files", "bomb.png", png_bomb()),
        ("files", "page.html", b"<html><script>alert(1)</script></html>"),
        ("files", "vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("files", "evil.jpg", b"<html><script>alert(document.cookie)</script></html>"),
        ("files", "../../sentinel/escape.jpg", red_car),
        ("files", "cams.zip", cams),
        ("files", "traversal.zip", zip_bytes([("ok.jpg", red_car), ("../sentinel/x.jpg", red_car)])),
        ("files", "absolute.zip", zip_bytes([(str(jail.sentinel / "abs.jpg"), red_car)])),
        ("files", "links.zip", zip_bytes([("ok.jpg", red_car)], symlinks=[("link.jpg", str(jail.sentinel))])),
        ("files", "folders.zip", zip_bytes(dirs=["a/", "a/b/"])),
        ("folder", "holiday/sub dir/street_wagon.jpg", (FIXTURES / "street_wagon.jpg").read_bytes()),
    ]
    response = post_files(alice, reverse("searches:create"), files, **SEARCH_FIELDS)
    assert response.status_code == 302, response.content[:2000]
    job = SearchJob.objects.latest("pk")
    run_worker()
    job.refresh_from_db()
    assert job.status == SearchJob.Status.DONE, job.error
    rows = {f.original_name: f for f in job.files.all()}
    expected = {
        "Straße Kamera 1 — été.jpg": ("done", ""),
        "broken.jpg": ("failed", "broken.jpg"),
        "truncated.mp4": ("failed", "corrupt"),
        "empty.mp4": ("failed", "empty"),
        "notes.mp4": ("failed", "not a supported image or video"),
        "bomb.png": ("failed", "decompression bomb"),
        "page.html": ("skipped", "Not an image or video"),
        "vector.svg": ("skipped", "Not an image or video"),
        "evil.jpg": ("failed", "not a readable image"),
        "escape.jpg": ("done", ""),  # Django keeps only the last path component
        "cams.zip/cam 1/Ünïcödé car.jpg": ("done", ""),
        "cams.zip/nested.zip": ("skipped", "Archives inside archives"),
        "cams.zip/zeros.mp4": ("skipped", "zip bomb"),
        "traversal.zip": ("skipped", "unsafe path"),
        "absolute.zip": ("skipped", "unsafe path"),
        "links.zip": ("skipped", "symbolic link"),
        "folders.zip": ("skipped", "holds no files"),
        "street_wagon.jpg": ("done", ""),
    }
    assert set(rows) == set(expected)
    for name, (status, reason) in expected.items():
        assert rows[name].status == status and reason in rows[name].error, (name, rows[name].error)
        assert (rows[name].status == "done") or not job.hits.filter(file=rows[name]).exists()

    # The job page lists every failed or skipped file with its reason, escaped.
    page = alice.get(job.get_absolute_url()).content.decode()
    for name, (status, reason) in expected.items():
        if status != "done":
            assert reason in page or reason.lower() in page.lower(), (name, reason)
    assert "Traceback" not in page and "<script>alert" not in page

    # Nothing outside MEDIA_ROOT; stored names are sanitised and stay in the job's folders.
    jail.assert_nothing_escaped()
    stored = jail.stored_files()
    assert stored
    for path in stored:
        relative = path.relative_to(jail.media)
        assert SAFE_STORED_NAME.match(path.name), relative
        assert relative.parts[0] in ("jobs", "gallery", "indexes", "sightings"), relative
    job_names = {Path(f.file.name).name for f in job.files.exclude(file="")}
    assert {get_valid_filename("Straße Kamera 1 — été.jpg"), "Ünïcödé_car.jpg", "escape.jpg"} <= job_names

    # A stored upload that is really HTML is served as an inert download, never as a page.
    response = alice.get(reverse("searches:file", args=[rows["evil.jpg"].pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    good = alice.get(reverse("searches:file", args=[rows["street_wagon.jpg"].pk]))
    assert good["Content-Type"] == "image/jpeg" and good["Content-Disposition"].startswith("inline")
    unicode = alice.get(reverse("searches:file", args=[rows["cams.zip/cam 1/Ünïcödé car.jpg"].pk]))
    assert unicode["Content-Disposition"] == "inline; filename*=utf-8''%C3%9Cn%C3%AFc%C3%B6d%C3%A9_car.jpg"


def test_empty_upload_is_refused_with_a_message(alice, user):
    response = post_files(alice, reverse("searches:create"), [], **SEARCH_FIELDS)
    assert response.status_code == 200
    assert "Choose at least one file" in response.content.decode()
    response = post_files(alice, reverse("searches:create"), [("files", "", b"")], **SEARCH_FIELDS)
    assert response.status_code == 200 and not SearchJob.objects.exists()


@pytest.mark.parametrize("name, data, message", [
    ("bomb.png", png_bomb(), "decompression bomb"),
    ("empty.jpg", b"", "The submitted file is empty"),
    ("notes.jpg", b"just text", "not a readable image"),
    ("truncated.jpg", (FIXTURES / "red_car.jpg").read_bytes()[:3000], "truncated"),
    ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not a readable image"),
    ("Ünïcödé name with spaces.png", png_bomb(), "Ünïcödé name with spaces.png"),
])
def test_registration_refuses_bad_photos(jail, alice, name, data, message):
    response = post_files(alice, reverse("gallery:upload"), [("photo", name, data)])
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    assert message in page and "Traceback" not in page
    assert not PendingPhoto.objects.exists()
    assert jail.stored_files() == []  # the refused upload was deleted again
    jail.assert_nothing_escaped()


def test_registration_stores_a_sanitised_name(jail, alice, user):
    data = (FIXTURES / "red_car.jpg").read_bytes()
    response = post_files(alice, reverse("gallery:upload"), [("photo", "../../sentinel/Mein Wägen <1>.JPG", data)])
    assert response.status_code == 302
    pending = PendingPhoto.objects.get(owner=user)
    assert re.fullmatch(rf"gallery/photos/user_{user.pk}/[0-9a-f]{{32}}\.jpg", pending.image.name)
    assert pending.original_name == "Mein Wägen <1>.JPG"
    jail.assert_nothing_escaped()


class RecordingHandler(FileUploadHandler):
    """Placed after the limit handler: counts the file bytes that got past it."""

    received = 0

    def receive_data_chunk(self, raw_data, start):
        RecordingHandler.received += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


LIMITED_HANDLERS = [
    "vreid_site.upload_limits.UploadLimitHandler",
    "tests.web.test_uploads.RecordingHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]


@pytest.mark.parametrize("size_mb", [3, 8])  # 3: counted while streaming; 8: Content-Length says so
@pytest.mark.parametrize("url_name, field", [("searches:create", "files"), ("gallery:upload", "photo")])
@override_settings(VREID_MAX_UPLOAD_MB=1, FILE_UPLOAD_HANDLERS=LIMITED_HANDLERS)
def test_upload_over_the_limit_is_refused_before_it_is_stored(jail, alice, url_name, field, size_mb):
    RecordingHandler.received = 0
    big = os.urandom(1024) * (size_mb * 1024)
    response = post_files(alice, reverse(url_name), [(field, "huge.mp4" if field == "files" else "huge.jpg", big)],
                          **(SEARCH_FIELDS if field == "files" else {}))
    assert response.status_code == 413
    assert "larger than 1 MB" in response.content.decode()
    assert RecordingHandler.received <= 1 * MB  # the rest was read away, never stored
    assert not SearchJob.objects.exists() and not PendingPhoto.objects.exists()
    assert jail.stored_files() == []
    jail.assert_nothing_escaped()


@override_settings(VREID_MAX_UPLOAD_MB=1, FILE_UPLOAD_HANDLERS=LIMITED_HANDLERS)
def test_upload_under_the_limit_still_works(jail, alice, queue):
    data = (FIXTURES / "red_car.jpg").read_bytes()
    assert len(data) < MB
    response = post_files(alice, reverse("searches:create"), [("files", "small.jpg", data)], **SEARCH_FIELDS)
    assert response.status_code == 302
    assert SearchJob.objects.get().files.get().file


CJK_NAME = "車" * 88 + ".jpg"  # 88 characters, 268 bytes of UTF-8: over a file system's 255


def test_long_non_ascii_names_are_cut_by_bytes_keeping_the_extension(jail, alice, user, queue):
    red_car = (FIXTURES / "red_car.jpg").read_bytes()
    archive = zip_bytes([(f"cam/{CJK_NAME}", red_car), ("ok.jpg", red_car)])
    response = post_files(alice, reverse("searches:create"), [("files", CJK_NAME, red_car), ("files", "cams.zip", archive)],
                          **SEARCH_FIELDS)
    assert response.status_code == 302
    rows = list(SearchJob.objects.get().files.order_by("position"))
    assert [row.original_name for row in rows] == [CJK_NAME, f"cams.zip/cam/{CJK_NAME}", "cams.zip/ok.jpg"]
    for row in rows:
        stored = Path(row.file.name).name
        assert row.status == "pending" and len(stored.encode()) <= 120 and stored.endswith(".jpg"), stored
    assert Path(rows[0].file.name).name == "車" * 38 + ".jpg"
    jail.assert_nothing_escaped()


def test_a_member_that_cannot_be_stored_is_skipped_with_its_reason(jail, alice, user, queue, monkeypatch):
    """A storage error (a name the file system refuses, a full disk) skips that one file; what it
    had written, and its folder, are removed; the other files are stored."""
    from django.core.files.storage import FileSystemStorage

    real_save = FileSystemStorage._save

    def failing_save(storage, name, content):
        if "unstorable" in name:
            path = Path(storage.path(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"partly written")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", failing_save)
    red_car = (FIXTURES / "red_car.jpg").read_bytes()
    archive = zip_bytes([("a.jpg", red_car), ("unstorable.jpg", red_car), ("b.jpg", red_car)])
    response = post_files(alice, reverse("searches:create"), [("files", "cams.zip", archive)], **SEARCH_FIELDS)
    assert response.status_code == 302
    rows = {row.original_name: row for row in SearchJob.objects.get().files.all()}
    assert rows["cams.zip/unstorable.jpg"].status == "skipped" and not rows["cams.zip/unstorable.jpg"].file
    assert rows["cams.zip/unstorable.jpg"].error == "Could not be stored: No space left on device."
    assert rows["cams.zip/a.jpg"].file and rows["cams.zip/b.jpg"].file
    stored = sorted(str(path.relative_to(jail.media)) for path in jail.stored_files())
    assert stored == sorted(row.file.name for row in rows.values() if row.file)  # no orphans
    folders = [d for d, subdirs, files in os.walk(jail.media / "jobs") if not subdirs and not files]
    assert folders == []  # nor empty folders
