"""Writing the footage index: one Footage row per stored file, and the sightings of a pass.

A pass owns a footage's sightings while it runs (Footage.indexer, taken with a guarded UPDATE), so
two jobs searching the same file at once never store it twice: the second one searches without
indexing. A pass starting at frame F first deletes the stored sightings from F on: a resumed
pass finds them again (the engine reports a sighting before any checkpoint passes its start).
"""
from django.db.models import Q
from django.utils import timezone

from engine import api
from gallery.storage_files import jpeg_file
from searches.dbretry import with_db_retry
from searches.footage.models import Footage, Sighting
from searches.footage.recording import sync_sightings
from searches.models import SearchFile

THUMB_QUALITY = 80


def footage_for(search_file) -> Footage:
    """The footage of the search file's stored file (created on first use); links the file to it."""
    if search_file.footage_id:
        return search_file.footage
    owner_id = search_file.job.owner_id
    footage, _ = Footage.objects.get_or_create(
        owner_id=owner_id, file=search_file.file.name,
        defaults={"original_name": search_file.original_name[:400]})
    SearchFile.objects.filter(pk=search_file.pk).update(footage=footage)
    search_file.footage = footage
    return footage


def record_media(footage: Footage, info) -> None:
    """What the engine's probe said about the file (kind, frame rate, length)."""
    footage.kind, footage.fps, footage.duration_s = info.kind, info.fps or None, info.duration_s or None
    Footage.objects.filter(pk=footage.pk).update(kind=footage.kind, fps=footage.fps, duration_s=footage.duration_s)


def index_plan(footage: Footage, models: dict, embedder: str, frame_stride: int) -> tuple[bool, str]:
    """(whether a search can be answered from the footage's sightings, why: shown on the page)."""
    if footage.status == Footage.Status.NEW:
        return False, "Not indexed yet: processed now, and indexed for later searches."
    if footage.status != Footage.Status.INDEXED:
        return False, "Its indexing did not finish: processed again."
    if footage.embedder != embedder or footage.detector != models.get("detector"):
        return False, (f"Indexed with {footage.detector} + {footage.embedder}; this search uses "
                       f"{models.get('detector')} + {embedder}: processed again.")
    if footage.kind == "video" and footage.frame_stride and frame_stride < footage.frame_stride:
        return False, (f"Indexed looking at every {footage.frame_stride}. frame; this search looks at "
                       f"every {frame_stride}.: processed again.")
    when = timezone.localtime(footage.indexed_at).strftime("%Y-%m-%d %H:%M") if footage.indexed_at else "earlier"
    return True, (f"Answered from the footage index ({footage.sightings_count} vehicles seen, indexed {when}): "
                  "no video re-read.")


class SightingWriter:
    """Stores one pass's sightings of one footage, while the pass owns it."""

    def __init__(self, footage: Footage, search_file_pk: int, models: dict, embedder: str,
                 frame_stride: int, start_frame: int = 0):
        self.footage, self.embedder = footage, embedder
        running = SearchFile.objects.filter(status=SearchFile.Status.RUNNING).values("pk")
        free = Q(indexer__isnull=True) | Q(indexer=search_file_pk) | ~Q(indexer__in=running)
        self.active = bool(with_db_retry(
            Footage.objects.filter(free, pk=footage.pk).update,
            indexer=search_file_pk, status=Footage.Status.INDEXING, detector=models.get("detector", ""),
            embedder=embedder, frame_stride=frame_stride, what="claiming footage for indexing"))
        if self.active:
            # (post_delete still fires per row: each thumbnail goes after the commit)
            with_db_retry(Sighting.objects.filter(footage=footage, start_frame__gte=start_frame).delete,
                          what="clearing sightings a new pass finds again")
        footage.refresh_from_db()

    def add(self, sighting: "api.Sighting") -> None:
        if not self.active:
            return
        attrs = sighting.attributes
        row = Sighting(
            footage=self.footage, owner_id=self.footage.owner_id, camera_id=self.footage.camera_id,
            seen_at=self.footage.seconds_at(sighting.start_s), start_s=sighting.start_s, end_s=sighting.end_s,
            start_frame=sighting.start_frame, end_frame=sighting.end_frame, best_frame=sighting.best_frame,
            best_time_s=sighting.best_time_s, box=[round(float(v), 1) for v in sighting.box],
            colour=attrs.colour if attrs else "", vehicle_type=attrs.type if attrs else "",
            attributes=attrs.to_dict() if attrs else None, crops=sighting.crops,
            embedding=sighting.vector.astype("float32").tobytes(), embedder=self.embedder)
        if sighting.thumbnail is not None:
            row.thumbnail.save("s.jpg", jpeg_file(api.encode_jpeg(sighting.thumbnail, quality=THUMB_QUALITY)),
                               save=False)
        with_db_retry(row.save, what="storing a sighting")

    def finish(self, complete: bool) -> None:
        """Release the footage: indexed when the pass went through to the end, else partial."""
        if not self.active:
            return
        count = Sighting.objects.filter(footage=self.footage).count()
        status = Footage.Status.INDEXED if complete else Footage.Status.PARTIAL
        with_db_retry(Footage.objects.filter(pk=self.footage.pk, indexer__isnull=False).update,
                      status=status, indexer=None, sightings_count=count,
                      indexed_at=timezone.now() if complete else None, what="finishing the footage index")
        self.active = False
        self.catch_up_edit()

    def catch_up_edit(self) -> None:
        """The user changed the camera or start time while the pass ran (searches.footage.files):
        the sightings stored since carry the old ones."""
        now = Footage.objects.filter(pk=self.footage.pk).values("camera_id", "recorded_at").first()
        if now and (now["camera_id"], now["recorded_at"]) != (self.footage.camera_id, self.footage.recorded_at):
            self.footage.camera_id, self.footage.recorded_at = now["camera_id"], now["recorded_at"]
            with_db_retry(sync_sightings, self.footage, what="updating sightings to an edited footage")
