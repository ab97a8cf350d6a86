"""Review that re-ranks now: after a hit is confirmed (its view became a photo of the vehicle) or
rejected (its vector became a negative of the vehicle), that vehicle's query is run again over the
footage index for every finished file of the job that the index can answer (searches.footage.store
.index_plan), and the vehicle's unreviewed hits in those files are replaced by the new answer.
Confirmed hits stay. Other vehicles' hits are not touched. Files the index cannot answer (not
indexed, or with other models) keep their hits: re-ranking them would mean reading the video.

Small jobs are re-ranked in the request; a job whose answerable footage holds more than
SYNC_MAX_SIGHTINGS sightings is re-ranked by a worker (RQ, queue "default").
"""
import logging
import time

import django_rq

from gallery.engine_cache import embedder_name, get_engine
from gallery.index import job_gallery
from gallery.models import Vehicle
from gallery.profiles import vehicle_profiles
from searches.footage.answer import IndexAnswers, job_options
from searches.footage.store import index_plan
from searches.hit_store import HitStore
from searches.models import Hit, SearchFile, SearchJob
from searches.queueing import QUEUE

log = logging.getLogger(__name__)
# Measured on the dev machine (2 shared cores; bikes.mp4's sightings replicated with noise): a
# re-rank over 20 sightings takes 0.2-0.3 s; over 5k sightings (500 candidates) 0.3 s, 20k (2,000
# candidates) 0.8 s, with the index already loaded in the process (1.5-2.5 s when the process
# first loads it). Above this many, a worker does it.
SYNC_MAX_SIGHTINGS = 20_000


def answerable_files(job: SearchJob, engine) -> list[SearchFile]:
    """The job's finished files whose footage the index answers with the job's settings."""
    name, files = embedder_name(engine), []
    for search_file in job.files.filter(status=SearchFile.Status.DONE, footage__isnull=False).select_related("footage"):
        if index_plan(search_file.footage, engine.models, name, job.frame_stride)[0]:
            files.append(search_file)
    return files


def rerank(job: SearchJob, vehicle: Vehicle, engine=None) -> int:
    """Replace `vehicle`'s unreviewed hits in the job's answerable files by the index's answer under
    the vehicle's current photos and negatives; returns how many hits it has there now."""
    engine = engine or get_engine()
    files = answerable_files(job, engine)
    if not files:
        return 0
    gallery = job_gallery(job.owner, engine, list(job.vehicles.values_list("pk", flat=True)))
    # The job's whole gallery, as in the search: a sighting nearer another of its vehicles stays that one's.
    answers = IndexAnswers(job, engine, gallery, job_options(job), vehicle_profiles(gallery.ids(), engine))
    store, count = HitStore(job, job.rq_job_id, embedder_name(engine)), 0
    for search_file in files:
        hits, _, rows = answers.answer(search_file.footage)
        for old in Hit.objects.filter(job=job, file=search_file, vehicle=vehicle, confirmed_at=None):
            old.delete()  # one by one: the post_delete signal removes each thumbnail
        for found in hits:
            if int(found.interval.gallery_id) == vehicle.pk:  # stored only while the job is not queued again
                store.answered(search_file, found, rows)
        count += Hit.objects.filter(job=job, file=search_file, vehicle=vehicle).count()
    return count


def after_review(job: SearchJob, vehicle: Vehicle) -> str:
    """Re-rank after a review, now or on a worker; what to tell the user ("" when nothing to do)."""
    try:
        engine = get_engine()
        files = answerable_files(job, engine)
        if not files:
            return ""
        sightings = sum(f.footage.sightings_count for f in files)
        if sightings > SYNC_MAX_SIGHTINGS:
            django_rq.get_queue(QUEUE).enqueue("searches.footage.rerank.rerank_task", job.pk, vehicle.pk,
                                               job_timeout=3600, result_ttl=3600)
            return "The remaining hits are being re-ranked from the footage index; reload in a moment."
        started = time.monotonic()
        count = rerank(job, vehicle, engine)
        log.info("re-ranked job %s vehicle %s over %s sightings in %.3f s", job.pk, vehicle.pk, sightings,
                 time.monotonic() - started)
    except Exception:  # the review itself is done; re-ranking is a bonus the user must not lose it to
        log.exception("re-ranking job %s vehicle %s failed", job.pk, vehicle.pk)
        return "The remaining hits could not be re-ranked now; the next search uses this review."
    return f"Re-ranked from the footage index: {vehicle.label} has {count} hit{'s' if count != 1 else ''} in this search now."


def rerank_task(job_pk: int, vehicle_pk: int) -> str:
    """RQ entry point for a big job's re-rank (the job or vehicle may be gone by then)."""
    job = SearchJob.objects.filter(pk=job_pk).select_related("owner").first()
    vehicle = Vehicle.objects.filter(pk=vehicle_pk, owner_id=job.owner_id if job else None).first()
    if job is None or vehicle is None:
        return "gone"
    return f"{rerank(job, vehicle)} hits"
