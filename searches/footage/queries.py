"""Reading a user's sightings for the pages: the explore grid and the nearest sightings of a vector.

Sighting rows carry a 5 KB embedding: lists read only the columns a card shows (CARD_FIELDS), and
the explore grid pages through the indexes (owner, seen_at, id), (owner, camera, seen_at), ...
(see TimeOrdered) so that a page costs the same at 100k sightings as at 100.
"""
import numpy as np

from engine import api
from gallery.engine_cache import embedder_name
from gallery.index import job_gallery
from gallery.profiles import vehicle_profiles
from searches.footage.answer import sightings_near
from searches.footage.index import IN_CHUNK, sightings_index
from searches.footage.models import Sighting

# What a card shows (thumbnail, time, camera, colour/type, file), without the vector.
CARD_FIELDS = ("pk", "footage_id", "camera_id", "seen_at", "start_s", "end_s", "best_time_s", "colour",
               "vehicle_type", "thumbnail", "footage__original_name", "footage__kind", "camera__name")


def cards(queryset):
    return queryset.select_related("footage", "camera").only(*CARD_FIELDS)


def owned_sightings(owner):
    return Sighting.objects.filter(owner=owner)


def similar_sightings(owner, vector, embedder: str, k: int = 48, exclude=()) -> list[tuple[Sighting, float]]:
    """The owner's `k` sightings nearest to `vector` (made by `embedder`), nearest first, as
    (row, cosine distance). (The index holds no deleted rows; one deleted meanwhile is dropped.)"""
    if vector is None or not len(vector):
        return []
    index = sightings_index(owner.pk, embedder, len(vector))
    found = api.nearest(index, vector, k, exclude=tuple(exclude))
    rows = cards(owned_sightings(owner)).in_bulk([pk for pk, _ in found])
    return [(rows[pk], distance) for pk, distance in found if pk in rows]


class TimeOrdered:
    """The sightings in time order (ascending or descending), those of unknown time last, as a
    sequence Django's Paginator can page through.

    Each part reads in the order of the (owner, seen_at, id) index family, so no row is sorted
    or read but the page's: a page is the ids from the index (an index-only scan, skipping the
    offset there), then those rows. Rows of the same instant come in id order (the order they
    were indexed); those of unknown time too, which is footage by footage, in time.
    """

    def __init__(self, queryset, descending: bool = False, with_unknown: bool = True, one_footage: bool = False):
        sign = "-" if descending else ""
        if one_footage:  # a file's sightings share its start time, known or not: its (footage, start) index
            self.parts = [queryset.order_by(sign + "start_frame", sign + "pk")]
        else:
            self.parts = [queryset.filter(seen_at__isnull=False).order_by(sign + "seen_at", sign + "pk")]
            if with_unknown:
                self.parts.append(queryset.filter(seen_at__isnull=True).order_by("pk"))
        self.queryset, self._counts = queryset, None

    def counts(self) -> list[int]:
        if self._counts is None:
            self._counts = [part.order_by().count() for part in self.parts]
        return self._counts

    def count(self) -> int:
        return sum(self.counts())

    def __len__(self):
        return self.count()

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("TimeOrdered takes slices")
        start, stop = key.start or 0, key.stop if key.stop is not None else self.count()
        ids = []
        for part, size in zip(self.parts, self.counts()):
            if stop > 0 and start < size:
                ids += part.values_list("pk", flat=True)[max(start, 0):min(stop, size)]
            start, stop = start - size, stop - size
        rows = cards(self.queryset.order_by()).in_bulk(ids)
        return [rows[pk] for pk in ids if pk in rows]


# -- a vehicle's sightings: "Where it was seen" -------------------------------------------------
def vehicle_sightings(vehicle, engine, threshold=None, cameras=None, start=None, end=None,
                      match_attributes: bool = True) -> list[Sighting]:
    """The owner's sightings that are hits of `vehicle` under a search's rules (threshold, colour
    and type, negatives), each with `.distance`; in time order (unknown time last), then by
    footage and offset. `cameras`: Camera rows or ids (None: all); `start`/`end`: bounds on the
    wall-clock time (a bound leaves out sightings whose time is unknown)."""
    owner = vehicle.owner
    rules = {} if match_attributes else {"min_colour_agreement": 0.0, "min_type_agreement": 0.0}
    matcher = engine.matcher(job_gallery(owner, engine, [vehicle.pk]), api.VideoOptions(threshold=threshold, **rules),
                             vehicle_profiles([vehicle.pk], engine))
    near = sightings_near(owner, [vehicle.pk], engine, matcher.rules.threshold)
    filters = {"embedder": embedder_name(engine)}
    if cameras is not None:
        filters["camera__in"] = list(cameras)
    if start is not None:
        filters["seen_at__gte"] = start
    if end is not None:
        filters["seen_at__lte"] = end
    ids, rows = list(near), []
    for start_at in range(0, len(ids), IN_CHUNK):  # re-read by owner, with the filters
        rows += owned_sightings(owner).filter(pk__in=ids[start_at:start_at + IN_CHUNK], **filters).select_related(
            "footage", "camera")
    if not rows:
        return []
    decisions = matcher.decide(np.stack([row.vector for row in rows]),
                               [api.Attributes.from_dict(row.attributes) for row in rows])
    found = []
    for row, decision in zip(rows, decisions):
        if decision is not None and decision.accepted and int(decision.gallery_id) == vehicle.pk:
            row.distance = float(decision.distance)
            found.append(row)
    return sorted(found, key=time_order)


def time_order(row: Sighting):
    return (row.seen_at is None, row.seen_at.timestamp() if row.seen_at else 0.0, row.footage_id, row.start_s)
