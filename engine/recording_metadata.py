"""Recording start times stored inside a file: EXIF for photos, container tags for video."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

from PIL import ExifTags, Image, UnidentifiedImageError

# Apple's tag carries the local offset, so it beats the UTC-only creation_time; MKV's DateUTC
# arrives as creation_time; DATE_RECORDED is a Matroska tag some recorders write.
_VIDEO_KEYS = ("com.apple.quicktime.creationdate", "creation_time", "date_recorded", "date")
_EXIF_TIMES = (
    (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal),
    (ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized),
)


def metadata_times(path: str | os.PathLike) -> Iterator[datetime]:
    """Candidate start times stored in the file at `path`, best first; none for a file that
    neither Pillow nor FFmpeg can read."""
    try:
        with Image.open(path) as img:
            exif = img.getexif().get_ifd(ExifTags.IFD.Exif)
    except UnidentifiedImageError:
        yield from _container_times(path)
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError):  # corrupt or a bomb
        return
    else:
        yield from _exif_times(exif)


def _exif_times(exif: dict) -> Iterator[datetime]:
    for time_tag, offset_tag in _EXIF_TIMES:
        value = str(exif.get(time_tag, "")).strip()
        offset = str(exif.get(offset_tag, "")).strip()
        try:  # EXIF writes "2023:11:05 14:30:22", the offset as "+01:00"
            yield datetime.strptime(value + offset, "%Y:%m:%d %H:%M:%S" + ("%z" if offset else ""))
        except ValueError:
            continue


def _container_times(path: str | os.PathLike) -> Iterator[datetime]:
    import av  # here, not at the top: only this step needs FFmpeg, and most callers never get here

    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as container:
            tags = [container.metadata] + [stream.metadata for stream in container.streams]
    except (av.error.FFmpegError, OSError, ValueError):  # corrupt or not a video: no metadata
        return
    for metadata in tags:
        lowered = {key.lower(): value for key, value in metadata.items()}
        for key in _VIDEO_KEYS:
            parsed = _iso_time(lowered.get(key, ""))
            if parsed:
                yield parsed


def _iso_time(value: str) -> datetime | None:
    value = value.strip()
    if len(value) <= len("2023-11-05"):  # a bare date or year says nothing about the start time
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
