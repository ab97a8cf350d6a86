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
from gallery.models import VehiclePhoto
from searches.footage.index import sightings_index
from searches.footage.models import Footage, Sighting

CHUNK = 500


def job_options(job, start_frame: int = 0, camera=None) -> "api.VideoOptions":
    """The job's settings as the engine's options (colour/type rule off when the job says so; the
    file's camera's mounting, where set, over the job's camera setting)."""
    rules = {} if job.match_attributes else {"min_colour_agreement": 0.0, "min_type_agreement": 0.0}
    return api.VideoOptions(frame_stride=job.frame_stride, tracking=job.tracking, threshold=job.threshold,
                            proposals=job.proposals, start_frame=start_frame,
                            camera=(camera and camera.mounting) or job.camera, **rules)


class IndexAnswers:
    def __init__(self, job, engine, gallery, options, profiles):
        self.job, self.engine, self.gallery = job, engine, gallery
        self.matcher = engine.matcher(gallery, options, profiles)
        self.merge_gap_s = options.merge_gap_s
        self._near: dict[int, float] | None = None

    def near(self) -> dict[int, float]:
        """Sighting id -> smallest distance to one of the job's vehicle photos, within the threshold."""
        if self._near is None:
            name, dim = embedder_name(self.engine), self.engine.embedder.dim
            blobs = VehiclePhoto.objects.filter(vehicle_id__in=self.gallery.ids(), embedder=name, dim=dim)
            vectors = [np.frombuffer(bytes(b), dtype=np.float32) for b in blobs.values_list("embedding", flat=True)]
            index = sightings_index(self.job.owner_id, name, dim)
            self._near = api.near(index, np.stack(vectors), self.matcher.rules.threshold) if vectors else {}
        return self._near

    def answer(self, footage: Footage) -> tuple[list["api.SightingHit"], list[tuple[int, "api.Refusal"]], dict]:
        """The file's hits and refused near-matches, and its candidate sightings by id."""
        near = self.near()
        ids = [pk for pk in Sighting.objects.filter(footage=footage).values_list("pk", flat=True) if pk in near]
        rows = {}
        for start in range(0, len(ids), CHUNK):
            for row in Sighting.objects.filter(pk__in=ids[start:start + CHUNK]):
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
