"""When a recording started: from the file's own metadata, else from its name, else unknown
(the caller then asks the user)."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.recording_metadata import metadata_times
from engine.recording_names import name_times

EARLIEST = datetime(1990, 1, 1)  # also rules out the zero dates 1904-01-01 (QuickTime) and 1970-01-01
FUTURE_SLACK = timedelta(days=1)  # a camera clock a little ahead, or a time zone apart, is still fine


@dataclass(frozen=True)
class RecordingStart:
    """`at` is in UTC, timezone-aware, when the source says which zone (container metadata,
    EXIF with an offset, Unix seconds), and naive local camera time otherwise (date-times in
    names, EXIF without an offset)."""
    at: datetime
    source: str  # "metadata" or "file name"


def recording_start(path: str | os.PathLike, original_name: str | None = None) -> RecordingStart | None:
    """When the recording at `path` started, or None when neither its metadata nor its name
    tells. `original_name` is the name the user uploaded (uploads are stored under other names);
    it may carry folders, where a Dahua recorder keeps the date."""
    at = _first_plausible(metadata_times(path))
    if at:
        return RecordingStart(at, "metadata")
    at = _first_plausible(name_times(original_name or Path(path).name))
    if at:
        return RecordingStart(at, "file name")
    return None


def _first_plausible(candidates: Iterable[datetime]) -> datetime | None:
    at = next((at for at in candidates if _plausible(at)), None)
    if at and at.tzinfo:
        return at.astimezone(UTC)  # one zone for every aware answer
    return at


def _plausible(at: datetime) -> bool:
    if at.tzinfo is None:
        return EARLIEST <= at <= datetime.now() + FUTURE_SLACK
    earliest = EARLIEST.replace(tzinfo=UTC)
    return earliest <= at <= datetime.now(UTC) + FUTURE_SLACK
