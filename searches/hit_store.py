"""What a pass finds, stored for one job: hits, folded into the stored hits they overlap or
continue (searches.hit_merge), only while the job's runner still owns it; and a few refused
near-matches per file, for staff to see why they are not hits."""
from django.db import IntegrityError

from engine import api
from gallery.models import Vehicle
from gallery.storage_files import jpeg_file
from searches.dbretry import with_db_retry
from searches.footage.answer import thumbnail_bytes
from searches.hit_merge import store_folded
from searches.models import Hit, NearMiss, SearchJob

MERGE_GAP_S = api.VideoOptions().merge_gap_s  # hits closer than this are one hit
MAX_NEAR_MISSES_PER_FILE = 50  # refused near-matches kept per file (for staff; a busy file has many)
THUMB_SIDE = 480


def hit_picture(bgr, box, frame_scale: float, label: str) -> bytes:
    """The hit's frame with its box drawn, as a JPEG thumbnail."""
    drawn = api.draw_boxes(bgr, [tuple(v * frame_scale for v in box)], [label])
    return api.encode_jpeg(drawn, max_side=THUMB_SIDE)


def interval_times(iv) -> dict:
    """A hit's time fields from an engine Interval."""
    return dict(start_s=iv.start_s, end_s=iv.end_s, best_time_s=iv.best_time_s, best_frame=iv.best_frame,
                start_frame=iv.start_frame, end_frame=iv.end_frame)


class HitStore:
    def __init__(self, job: SearchJob, rq_job_id: str, embedder: str):
        self.job, self.rq_job_id, self.embedder = job, rq_job_id, embedder
        self.vehicles = {v.pk: v for v in Vehicle.objects.filter(owner=job.owner)}
        self.refusals_kept: dict[int, int] = {}

    def hit(self, search_file, vehicle_id, distance, box, times: dict, picture, vector=None,
            attributes=None) -> bool:
        """Store one hit; `picture(label)` gives its JPEG thumbnail (or None). Returns whether it
        was stored (False: its vehicle is gone, or the job is no longer this runner's)."""
        vehicle = self.vehicles.get(int(vehicle_id))
        if vehicle is None:  # deleted while the job ran
            return False
        hit = Hit(job=self.job, file=search_file, vehicle=vehicle, distance=float(distance),
                  box=[round(float(v), 1) for v in box], attributes=attributes.to_dict() if attributes else None,
                  **times)
        if vector is not None:
            hit.embedding = vector.astype("float32").tobytes()
            hit.embedder = self.embedder
        jpeg = picture(f"{vehicle.label} {distance:.2f}")
        if jpeg:
            hit.thumbnail.save("hit.jpg", jpeg_file(jpeg), save=False)
        used = False
        try:
            used = with_db_retry(self._insert, hit, what="storing a hit")
        except IntegrityError:
            if Vehicle.objects.filter(pk=vehicle.pk).exists():
                raise
            del self.vehicles[vehicle.pk]  # deleted while the job runs: only its hits are dropped
        finally:
            # Not stored: joined into a hit with a better frame, or the database stayed away
            # (the pass ends; the resumed one stores the hit again with its own thumbnail).
            if not used and hit.thumbnail:
                hit.thumbnail.delete(save=False)
        return True

    def answered(self, search_file, found, rows) -> bool:
        """Store a hit answered from the footage index (searches.footage.answer: `found` is an
        engine SightingHit, `rows` its sightings by id); its thumbnail is its best sighting's: no
        frame is read."""
        iv, row = found.interval, rows[found.best_sighting]
        return self.hit(search_file, iv.gallery_id, iv.best_distance, iv.box, interval_times(iv),
                        lambda _: thumbnail_bytes(row), iv.vector, iv.attributes)

    def _owned(self) -> bool:
        # Re-queued since (by recovery, or paused and resumed): the new owner redoes this part.
        # Paused or cancelled but not re-queued: what was flushed on stopping is kept.
        return SearchJob.objects.filter(pk=self.job.pk, rq_job_id=self.rq_job_id).exists()

    def _insert(self, hit: Hit) -> bool:
        return self._owned() and store_folded(hit, MERGE_GAP_S)

    def near_miss(self, search_file, refusal) -> None:
        vehicle = self.vehicles.get(int(refusal.gallery_id))
        if vehicle is None or self.refusals_kept.get(search_file.pk, 0) >= MAX_NEAR_MISSES_PER_FILE:
            return
        if not with_db_retry(self._owned, what="checking the job's owner"):
            return
        self.refusals_kept[search_file.pk] = self.refusals_kept.get(search_file.pk, 0) + 1
        box = [round(float(v), 1) for v in refusal.box] if refusal.box is not None else None
        with_db_retry(NearMiss.objects.create, job=self.job, file=search_file, vehicle=vehicle,
                      distance=float(refusal.distance), reason=refusal.reason[:300], time_s=float(refusal.time_s),
                      frame=int(refusal.frame), box=box, what="storing a near miss")
