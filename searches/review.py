"""A user's review of a hit: yes, this is the vehicle (its frame becomes another photo of it, so
later searches know it from that camera and angle), or not this vehicle."""
import math

from django.utils import timezone

from engine import api
from gallery.negatives import add_negative
from gallery.registration import add_view, read_photo
from gallery.storage_files import local_path
from searches.models import Hit, SearchFile


def confirm_hit(hit: Hit) -> bool:
    """Add the hit's best frame to its vehicle's photos, once: False when it was confirmed before.
    Raises ValueError or api.EngineError when the frame cannot be read (it stays unconfirmed)."""
    if not Hit.objects.filter(pk=hit.pk, confirmed_at=None).update(confirmed_at=timezone.now()):
        return False
    try:
        add_view(hit.vehicle, *best_frame(hit))
    except Exception:
        Hit.objects.filter(pk=hit.pk).update(confirmed_at=None)
        raise
    return True


def reject_hit(hit: Hit) -> None:
    """Not this vehicle: the hit's vector becomes a negative example of the vehicle, so later
    searches refuse that look-alike (engine.matching), and the hit is removed with its thumbnail
    (searches.signals)."""
    if hit.embedding:
        thumbnail = b""
        if hit.thumbnail:
            with hit.thumbnail.open("rb") as fh:
                thumbnail = fh.read()
        blob = bytes(hit.embedding)
        add_negative(hit.vehicle, blob, hit.embedder, len(blob) // 4, hit.attributes, thumbnail,
                     source=f"{hit.file.original_name} at {hit.start_s:.1f}-{hit.end_s:.1f} s (search “{hit.job}”)")
    hit.delete()


def best_frame(hit: Hit):
    """The hit's frame (a video's) or image as BGR pixels, and its box in them."""
    return stored_frame(hit.file.file, hit.file.kind, hit.file.original_name, hit.best_frame, hit.box, "hit")


def stored_frame(stored, kind: str, original_name: str, frame: int, box, of: str):
    """Frame `frame` of a stored video, or a stored image, as BGR pixels, and `box` in them (a
    hit's or a sighting's). An image is decoded like a registration photo (bounded, in the web
    process), its box scaled to match. ValueError, naming the file, when it is no longer stored."""
    if not stored or not stored.name or not stored.storage.exists(stored.name):
        raise ValueError(f"the file of this {of} is no longer stored ({original_name})")
    with local_path(stored) as path:
        if kind == SearchFile.Kind.VIDEO:
            return api.read_frame(path, frame), box
        bgr, pixels = read_photo(path, original_name)
    scale = math.sqrt(bgr.shape[0] * bgr.shape[1] / pixels) if pixels else 1.0
    return bgr, [v * scale for v in box]
