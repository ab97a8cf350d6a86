"""Where and when footage was recorded: a file's camera and recording start, and keeping its
sightings' copies of them (Sighting.camera, Sighting.seen_at) in step."""
import re
from datetime import datetime
from pathlib import PurePosixPath

from django.utils import timezone

from engine import api
from searches.footage.models import Camera, Footage, Sighting

BATCH = 500
_NO_LETTERS = re.compile(r"[\W\d_]*")  # "2023-11-05", "14", "001": days and hours, not places


def folder_camera(name: str) -> str:
    """The camera named by a file's folders: the innermost folder that is not a date or a number
    (recorders file a camera's clips by day and hour under its folder). An archive's own name is
    not a folder: `cams.zip/gate/x.mp4` -> "gate", `cams.zip/x.mp4` -> ""."""
    for part in reversed(PurePosixPath(name.replace("\\", "/")).parent.parts):
        if not part.lower().endswith(".zip") and not _NO_LETTERS.fullmatch(part):
            return clean_name(part)
    return ""


def clean_name(name: str) -> str:
    return " ".join(name.split())[:100]


def camera_names(owner, limit: int = 500) -> list[str]:
    """The owner's camera names, for a text field's suggestions (pick one or type a new one)."""
    return list(Camera.objects.filter(owner=owner).values_list("name", flat=True)[:limit])


def camera_named(owner, name: str) -> Camera | None:
    """The owner's camera of that name, made on first use; None for no name."""
    name = clean_name(name)
    return Camera.objects.get_or_create(owner=owner, name=name)[0] if name else None


def aware(at: datetime) -> datetime:
    # The engine answers naive times where the file says no zone (names, EXIF without an
    # offset): that is the camera's local clock, taken to be the site's TIME_ZONE.
    return timezone.make_aware(at, timezone.get_default_timezone()) if timezone.is_naive(at) else at


def recording_start(path, original_name: str, entered: datetime | None = None) -> tuple[datetime | None, str]:
    """(start, Footage.TimeSource): the file's metadata, else a date-time in its name (with its
    folders), else the time the user entered for the upload, else unknown."""
    found = api.recording_start(path, original_name)
    if found:
        return aware(found.at), Footage.TimeSource(found.source)
    if entered:
        return entered, Footage.TimeSource.USER
    return None, Footage.TimeSource.UNKNOWN


def sync_sightings(footage: Footage) -> int:
    """Copy the footage's camera and start onto its sightings (seen_at = start + start_s);
    returns how many. One UPDATE without a start; else UPDATEs of BATCH rows (a datetime plus
    float seconds has no portable SQL)."""
    rows = Sighting.objects.filter(footage=footage)
    if footage.recorded_at is None:
        return rows.update(camera_id=footage.camera_id, seen_at=None)
    changed = [Sighting(pk=pk, camera_id=footage.camera_id, seen_at=footage.seconds_at(start_s))
               for pk, start_s in rows.values_list("pk", "start_s").iterator()]
    Sighting.objects.bulk_update(changed, ["camera", "seen_at"], batch_size=BATCH)
    return len(changed)
