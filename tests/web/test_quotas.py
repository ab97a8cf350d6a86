"""Per-user storage quota and per-upload limits on what archives unpack to (issue 8, F1)."""
import os
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from gallery.models import PendingPhoto
from searches.models import SearchFile, SearchJob
from tests.media import FIXTURES
from tests.web.conftest import make_vehicle, zip_bytes
from vreid_site.storage_quota import storage_used

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
JPEG = (FIXTURES / "red_car.jpg").read_bytes()
SEARCH_FIELDS = {"device": "cpu", "frame_stride": "5", "tracking": "on", "proposals": "detector"}


def upload(client, *files, **fields):
    """POST a new search with (name, bytes) files."""
    data = {**SEARCH_FIELDS, **fields, "files": [ContentFile(data, name=name) for name, data in files]}
    return client.post(reverse("searches:create"), data)


def stored_job_files(job) -> set:
    return set(job.files.exclude(file="").values_list("file", flat=True))


def test_usage_counts_each_stored_file_once_in_one_query(alice, user, other_user, queue,
                                                         django_assert_num_queries):
    assert upload(alice, ("a.jpg", JPEG), ("b.jpg", JPEG[:5000])).status_code == 302
    job = SearchJob.objects.latest("pk")
    assert sorted(job.files.values_list("stored_bytes", flat=True)) == [5000, len(JPEG)]
    rerun = alice.post(reverse("searches:rerun", args=[job.pk]), SEARCH_FIELDS)
    assert rerun.status_code == 302 and SearchJob.objects.count() == 2  # shares the two files
    make_vehicle(other_user)  # not alice's
    pending = PendingPhoto(owner=user, width=1, height=1, stored_bytes=123)
    pending.image.save("p.jpg", ContentFile(b"x" * 123), save=False)
    pending.save()
    photo = make_vehicle(user).photos.get()
    photo.stored_bytes = photo_bytes = photo.image.size + photo.crop.size
    photo.save()
    with django_assert_num_queries(1):
        used = storage_used(user)
    assert used == len(JPEG) + 5000 + 123 + photo_bytes
    job.delete()  # the re-run still holds the files: they still count
    assert storage_used(user) == used


def test_the_searches_page_shows_used_and_allowed(alice, user, settings, queue):
    settings.VREID_USER_QUOTA_MB = 2
    upload(alice, ("a.jpg", JPEG))
    page = alice.get(reverse("searches:list")).content.decode()
    assert re.search(r"Storage: [\d.]+\xa0KB of 2\.0\xa0MB used \(\d+ %\)", page), page
    settings.VREID_USER_QUOTA_MB = 0
    assert "Storage: " in alice.get(reverse("searches:list")).content.decode()


def test_uploads_past_the_quota_are_not_stored(alice, user, settings, queue):
    settings.VREID_USER_QUOTA_MB = 1
    big = JPEG + b"\0" * (MB - len(JPEG) - 1000)  # just under 1 MB
    assert upload(alice, ("big.jpg", big), ("small.jpg", JPEG)).status_code == 302
    job = SearchJob.objects.latest("pk")
    rows = {row.original_name: row for row in job.files.all()}
    assert rows["big.jpg"].file and rows["small.jpg"].status == "skipped"
    assert "past your storage quota" in rows["small.jpg"].error and not rows["small.jpg"].file
    # An archive that would not fit is refused whole, before anything is extracted.
    archive = zip_bytes([("a.jpg", JPEG), ("b.jpg", JPEG)])
    settings.VREID_USER_QUOTA_MB = 2
    assert upload(alice, ("cams.zip", archive)).status_code == 302
    assert SearchJob.objects.latest("pk").files.count() == 2  # fits: 2 MB - 1 MB > 2 photos
    settings.VREID_USER_QUOTA_MB = 1
    SearchFile.objects.filter(job=job, original_name="big.jpg").update(stored_bytes=MB - 10)
    response = upload(alice, ("cams.zip", archive))
    assert response.status_code == 200
    assert "past your storage quota" in response.content.decode()  # full: no job at all
    # Registration photos count against the same quota.
    response = alice.post(reverse("gallery:upload"), {"photo": ContentFile(JPEG, name="car.jpg")})
    assert response.status_code == 200 and "past your storage quota" in response.content.decode()
    assert not PendingPhoto.objects.exists()


def test_archive_limits_apply_to_the_whole_request(alice, user, settings, queue):
    settings.VREID_ZIP_MAX_FILES = 3
    two = zip_bytes([("a.jpg", JPEG), ("b.jpg", JPEG)])
    assert upload(alice, ("one.zip", two), ("two.zip", two)).status_code == 302
    rows = {row.original_name: row for row in SearchJob.objects.latest("pk").files.all()}
    assert set(rows) == {"one.zip/a.jpg", "one.zip/b.jpg", "two.zip"}
    assert "at most 1 more are allowed in this upload" in rows["two.zip"].error
    settings.VREID_ZIP_MAX_FILES, settings.VREID_ZIP_MAX_MB = 100, 1
    archive = zip_bytes([("half.mp4", os.urandom(600_000))])
    assert upload(alice, ("one.zip", archive), ("two.zip", archive)).status_code == 302
    rows = {row.original_name: row for row in SearchJob.objects.latest("pk").files.all()}
    assert rows["one.zip/half.mp4"].file and not rows["two.zip"].file
    assert "more are allowed in this upload" in rows["two.zip"].error


def test_a_zip_of_many_small_zero_members_writes_nothing(alice, user, queue, settings, tmp_path):
    """The attack: 2000 members of 1 MiB of zeros (2.25 MB) wrote 2 GB, members up to 1 MiB being
    exempt from the ratio check; here 100 members, 100 MB unpacked from 0.1 MB."""
    settings.MEDIA_ROOT = str(tmp_path)
    bomb = zip_bytes([(f"{i}.mp4", b"\0" * MB) for i in range(100)])
    assert len(bomb) < 150_000
    assert upload(alice, ("a.zip", bomb), ("b.zip", bomb)).status_code == 302
    written = sum(path.stat().st_size for path in tmp_path.rglob("*") if path.is_file())
    assert written == 0
    rows = SearchJob.objects.get().files.all()
    assert len(rows) == 200 and all("zip bomb" in row.error for row in rows)
