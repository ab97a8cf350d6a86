"""Searches answered from the footage index: a file indexed with the search's models gets its hits
from its stored sightings, under the search's threshold and matching rules. No video is read.

One index query per job finds every sighting within the threshold of any of the job's vehicle
photos (engine.sightings.near); each file then decides its own candidates with the engine's
matcher and merges them into intervals as a live pass would (engine.sightings.match_sightings).
"""
import numpy as np
from django.core.files.storage import default_storage

from engine import api
from gallery.engine_cache import embedder_name
from gallery.index import embedded_photos
from searches.footage.index import IN_CHUNK, sightings_index
from searches.footage.models import Footage, Sighting


def job_options(job, start_frame: int = 0, camera=None) -> "api.VideoOptions":
    """The job's settings as the engine's options (colour/type rule off when the job says so; the
    file's camera's mounting, where set, over the job's camera setting)."""
    rules = {} if job.match_attributes else {"min_colour_agreement": 0.0, "min_type_agreement": 0.0}
    return api.VideoOptions(frame_stride=job.frame_stride, tracking=job.tracking, threshold=job.threshold,
                            proposals=job.proposals, start_frame=start_frame,
                            camera=(camera and camera.mounting) or job.camera, **rules)


def sightings_near(owner, vehicle_ids, engine, threshold: float) -> dict[int, float]:
    """The owner's sighting ids within `threshold` of a photo of these vehicles (the engine's
    embedder's), each with its smallest distance: one query of the owner's sightings index."""
    blobs = embedded_photos(owner, engine).filter(vehicle_id__in=vehicle_ids).values_list("embedding", flat=True)
    vectors = [np.frombuffer(bytes(blob), dtype=np.float32) for blob in blobs]
    if not vectors:
        return {}
    return api.near(sightings_index(owner.pk, embedder_name(engine), engine.embedder.dim), np.stack(vectors), threshold)


class IndexAnswers:
    def __init__(self, job, engine, gallery, options, profiles):
        self.job, self.engine, self.gallery = job, engine, gallery
        self.matcher = engine.matcher(gallery, options, profiles)
        self.merge_gap_s = options.merge_gap_s
        self._near: dict[int, float] | None = None

    def near(self) -> dict[int, float]:
        """Sighting id -> smallest distance to one of the job's vehicle photos, within the threshold."""
        if self._near is None:
            self._near = sightings_near(self.job.owner, self.gallery.ids(), self.engine, self.matcher.rules.threshold)
        return self._near

    def answer(self, footage: Footage) -> tuple[list["api.SightingHit"], list[tuple[int, "api.Refusal"]], dict]:
        """The file's hits and refused near-matches, and its candidate sightings by id."""
        near = self.near()
        ids = [pk for pk in Sighting.objects.filter(footage=footage).values_list("pk", flat=True) if pk in near]
        rows = {}
        for start in range(0, len(ids), IN_CHUNK):
            for row in Sighting.objects.filter(pk__in=ids[start:start + IN_CHUNK]):
                rows[row.pk] = row
        hits, refusals = api.match_sightings([(pk, row.as_engine()) for pk, row in sorted(rows.items())],
                                             self.matcher, self.merge_gap_s)
        return hits, refusals, rows


def thumbnail_bytes(row: Sighting) -> bytes | None:
    """The sighting's stored thumbnail (a hit answered from the index shows it)."""
    if not row.thumbnail:
        return None
    try:
        with default_storage.open(row.thumbnail.name, "rb") as fh:
            return fh.read()
    except OSError:
        return None
