"""Register a vehicle from a sighting: its best frame (a video's) or its image becomes the first
photo of a new vehicle, embedded as a registration photo is (gallery.registration.add_view)."""
from typing import NamedTuple

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from gallery.models import Vehicle
from gallery.registration import add_view
from searches.footage.models import Sighting
from searches.review import stored_frame


class StoredFile(NamedTuple):
    """A footage's stored file as gallery.storage_files.local_path takes it."""

    storage: object
    name: str


def default_label(sighting: Sighting) -> str:
    """E.g. "white car from cam1 14:03", or "car from clip.mp4 at 12.4 s" when time and camera are unknown."""
    what = sighting.describe() or "vehicle"
    where = sighting.camera.name if sighting.camera_id else sighting.footage.original_name
    if sighting.seen_at:
        return f"{what} from {where} {timezone.localtime(sighting.seen_at):%H:%M}"[:120]
    return f"{what} from {where} at {sighting.best_time_s:.1f} s"[:120]


def register_sighting(sighting: Sighting, label: str = "") -> Vehicle:
    """A new vehicle of the sighting's owner, its photo the sighting's box in its best frame.
    Raises ValueError (the file is no longer stored) or api.EngineError (it cannot be read)."""
    footage = sighting.footage
    bgr, box = stored_frame(StoredFile(default_storage, footage.file), footage.kind, footage.original_name,
                            sighting.best_frame, sighting.box, "sighting")
    with transaction.atomic():
        vehicle = Vehicle.objects.create(owner_id=sighting.owner_id,
                                         label=label.strip()[:120] or default_label(sighting))
        add_view(vehicle, bgr, box)
    return vehicle
