"""Store a hit by folding it into the stored hits of the same vehicle in the same file.

The hits of one vehicle in one file are kept as disjoint intervals. A new interval that overlaps
stored ones, or continues one within the merge gap, is joined with them: the engine reports a
long presence (a parked car) in pieces, and a pass resumed after a crash repeats part of what
the interrupted pass stored. A union changes nothing when repeated, so storing stays idempotent.
"""
from django.db import IntegrityError, transaction

from gallery.file_cleanup import delete_when_unused
from searches.models import Hit

BEST_FIELDS = ("distance", "best_time_s", "best_frame", "box", "thumbnail")


def store_folded(hit: Hit, gap_s: float) -> bool:
    """Insert `hit` or fold it into its neighbours; returns whether its thumbnail is now used."""
    try:
        return _store(hit, gap_s)
    except IntegrityError:  # another pass stored the same piece meanwhile: fold into that one
        hit.pk = None
        return _store(hit, gap_s)


def _store(hit: Hit, gap_s: float) -> bool:
    with transaction.atomic():
        near = list(Hit.objects.select_for_update().filter(
            file_id=hit.file_id, vehicle_id=hit.vehicle_id,
            start_s__lte=hit.end_s + gap_s, end_s__gte=hit.start_s - gap_s,
        ).order_by("start_s", "pk"))
        if not near:
            hit.save(force_insert=True)
            return True
        keep, others = near[0], near[1:]
        replaced = keep.thumbnail  # the FieldFile, before _join may take another hit's
        for other in [*others, hit]:
            _join(keep, other)
        keep.save()  # first, so the thumbnail it took over from a bridged hit counts as used
        for other in others:  # bridged by the new piece; the post_delete signal drops unused thumbnails
            other.delete()
    if replaced.name != keep.thumbnail.name:
        delete_when_unused(replaced, (Hit, "thumbnail"))
    return bool(hit.thumbnail) and keep.thumbnail.name == hit.thumbnail.name


def _join(keep: Hit, other: Hit) -> None:
    if other.start_s < keep.start_s:
        keep.start_s, keep.start_frame = other.start_s, other.start_frame
    if other.end_s > keep.end_s:
        keep.end_s, keep.end_frame = other.end_s, other.end_frame
    if other.distance < keep.distance:
        for name in BEST_FIELDS:
            setattr(keep, name, getattr(other, name))
