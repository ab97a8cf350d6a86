"""When a recording started: container metadata, EXIF, then the file name."""
from datetime import UTC, datetime, timedelta

import av
import numpy as np
import pytest
from PIL import ExifTags, Image

from engine import api
from engine.recording_time import RecordingStart

NAMED = datetime(2023, 11, 5, 14, 30, 22)  # the time every named example below carries


def write_video(path, creation_time=None, tags=None, stream_tags=None, options=None):
    """A real three-frame video (the container follows the suffix), tagged as asked."""
    with av.open(str(path), "w", options=options or {}) as container:
        container.metadata.update(tags or {})
        if creation_time:
            container.metadata["creation_time"] = creation_time
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata.update(stream_tags or {})
        for shade in (0, 80, 160):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), shade, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_jpeg(path, original=None, offset=None):
    exif = Image.Exif()
    if original:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = original
    if offset:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    Image.new("RGB", (32, 24), (90, 120, 30)).save(path, exif=exif)
    return path


@pytest.mark.parametrize("name", [
    "ch01_20231105143022.mp4",  # Hikvision DVR
    "ch01_20231105143022_20231105144522.mp4",  # Hikvision, start and end: the start wins
    "192.168.1.64_01_20231105143022123_1.mp4",  # Hikvision NVR export, with milliseconds
    "20231105_143022.mp4",  # generic, Samsung, many dash cams
    "20231105143022.avi",  # bare digits
    "2023-11-05_14-30-22.mkv",
    "2023-11-05 14.30.22.mp4",
    "2023-11-05 14-30-22.mov",
    "2023-11-05T14:30:22Z.mp4",  # ISO 8601
    "2023.11.05_14.30.22.mp4",
    "Screen Recording 2023-11-05 at 14.30.22.mov",  # macOS
    "IMG_20231105_143022.jpg",  # Android camera
    "VID_20231105_143022.mp4",
    "PXL_20231105_143022123.mp4",  # Pixel, with milliseconds
    "RecM01_20231105_143022_144522_6F0B2C00_4A3B1C.mp4",  # Reolink
    "RecS03_DST20231105_143022_144522_0_7E1A2B3C.mp4",  # Reolink, newer firmware
    "20231105_143022_ABCD.mkv",  # Axis
    "2023-11-05.14.30.22-14.45.00[M][0@0][0].mp4",  # Dahua, full date in the name
    "2023-11-05/001/dav/14/14.30.22-14.45.00[R][0@0][0].dav",  # Dahua, date in a folder
    "export/Front door 2023-11-05 14-30-22.mkv",  # a folder upload: the path carries folders
    r"C:\exports\cam2\20231105_143022.mp4",  # a Windows path, as some browsers send it
    "clip_2023-13-05_12-00-00_then_20231105_143022.mp4",  # the invalid first date is skipped
])
def test_start_time_in_file_name(tmp_path, name):
    got = api.recording_start(write_video(tmp_path / "upload.mp4"), original_name=name)
    assert got == RecordingStart(NAMED, "file name")


def test_unix_seconds_in_name_are_utc(tmp_path):
    got = api.recording_start(write_video(tmp_path / "1699194622.mp4"))  # the path's own name
    assert got == RecordingStart(datetime(2023, 11, 5, 14, 30, 22, tzinfo=UTC), "file name")


@pytest.mark.parametrize("name", [
    "GH010123.MP4", "GOPR0123.MP4",  # GoPro names carry no date
    "clip.mp4", "",
    "20231305_143022.mp4",  # month 13
    "20231132_143022.mp4",  # 32 November
    "20230229_143022.mp4",  # 29 February in a common year
    "20231105_253022.mp4",  # 25 o'clock
    "2023-11-05_14-61-22.mp4",  # minute 61
    "1989-11-05_14-30-22.mp4",  # before 1990
    "20991105_143022.mp4",  # far in the future
    "2023-11-05.mp4",  # a date alone is no start time
    "2023-11-05_14-30.mp4",  # no seconds
    "120231105_143022.mp4",  # embedded in a longer number
    "0999999999.mp4",  # a zero-padded counter, not Unix seconds
    "12345678901.mp4", "9999999999.mp4",  # eleven digits; Unix seconds in 2286
    "05-11-2023 14-30-22.mp4",  # day-first or month-first: ambiguous, not read
    "14.30.22-14.45.00[R][0@0][0].dav",  # Dahua time without its date folder
])
def test_names_without_a_usable_time(tmp_path, name):
    assert api.recording_start(write_video(tmp_path / "upload.mp4"), original_name=name) is None


def test_creation_time_from_a_real_video(tmp_path):
    video = write_video(tmp_path / "ch01_20231105143022.mp4", "2024-03-01T08:15:00.000000Z")
    got = api.recording_start(video)  # metadata beats the time in the name
    assert got == RecordingStart(datetime(2024, 3, 1, 8, 15, tzinfo=UTC), "metadata")


def test_creation_time_from_mkv(tmp_path):
    video = write_video(tmp_path / "clip.mkv", "2024-03-01T08:15:00.000000Z")
    assert api.recording_start(video) == RecordingStart(datetime(2024, 3, 1, 8, 15, tzinfo=UTC), "metadata")


def test_matroska_date_recorded_on_a_track(tmp_path):
    video = write_video(tmp_path / "clip.mkv", stream_tags={"DATE_RECORDED": "2024-03-02T08:15:00Z"})
    assert api.recording_start(video) == RecordingStart(datetime(2024, 3, 2, 8, 15, tzinfo=UTC), "metadata")


def test_apple_creation_date_with_offset_beats_creation_time(tmp_path):
    video = write_video(tmp_path / "IMG_0001.mov", "2024-03-01T08:15:00.000000Z",
                        tags={"com.apple.quicktime.creationdate": "2024-03-01T09:10:00+0100"},
                        options={"movflags": "use_metadata_tags"})  # how FFmpeg writes Apple's keys
    assert api.recording_start(video) == RecordingStart(datetime(2024, 3, 1, 8, 10, tzinfo=UTC), "metadata")


@pytest.mark.parametrize("bogus", [
    "1904-01-01T00:00:00.000000Z",  # QuickTime's zero
    "1970-01-01T00:00:00.000000Z",  # Unix zero
    "1989-12-31T23:59:59.000000Z",
    (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
])
def test_bogus_creation_time_falls_back_to_the_name(tmp_path, bogus):
    # A Matroska tag reaches us verbatim; MP4 would store these zero dates as "no date".
    video = write_video(tmp_path / "upload.mkv", tags={"DATE_RECORDED": bogus})
    assert api.recording_start(video, "20231105_143022.mp4") == RecordingStart(NAMED, "file name")


def test_untagged_video_without_a_named_time(tmp_path):
    assert api.recording_start(write_video(tmp_path / "GH010123.mp4")) is None


def test_corrupt_file_falls_back_to_the_name(tmp_path):
    corrupt = tmp_path / "20231105_143022.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\xde\xad" * 500)
    assert api.recording_start(corrupt) == RecordingStart(NAMED, "file name")


def test_truncated_video_falls_back_to_the_name(tmp_path):
    video = write_video(tmp_path / "full.mp4", "2024-03-01T08:15:00.000000Z")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[:40])
    assert api.recording_start(cut, "VID_20231105_143022.mp4") == RecordingStart(NAMED, "file name")


def test_exif_date_time_original(tmp_path):
    photo = write_jpeg(tmp_path / "IMG_20231105_143022.jpg", original="2022:07:14 09:05:01")
    assert api.recording_start(photo) == RecordingStart(datetime(2022, 7, 14, 9, 5, 1), "metadata")


def test_exif_offset_gives_utc(tmp_path):
    photo = write_jpeg(tmp_path / "photo.jpg", original="2022:07:14 09:05:01", offset="+02:00")
    assert api.recording_start(photo) == RecordingStart(datetime(2022, 7, 14, 7, 5, 1, tzinfo=UTC), "metadata")


def test_image_without_exif_falls_back_to_the_name(tmp_path):
    photo = write_jpeg(tmp_path / "stored.jpg")
    assert api.recording_start(photo, "IMG_20231105_143022.jpg") == RecordingStart(NAMED, "file name")


def test_corrupt_image_falls_back_to_the_name(tmp_path):
    photo = write_jpeg(tmp_path / "stored.jpg", original="2022:07:14 09:05:01")
    truncated = tmp_path / "IMG_20231105_143022.jpg"
    truncated.write_bytes(photo.read_bytes()[:4] + b"\xde\xad" * 100)  # SOI, then garbage
    assert api.recording_start(truncated) == RecordingStart(NAMED, "file name")


def test_zero_exif_date_is_ignored(tmp_path):
    photo = write_jpeg(tmp_path / "IMG_20231105_143022.jpg", original="0000:00:00 00:00:00")
    assert api.recording_start(photo) == RecordingStart(NAMED, "file name")
