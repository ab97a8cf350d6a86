"""RQ entry point: `searches.tasks.run_search_job(job_id)` on queue "default"."""
import logging
import time

from django.utils import timezone
from rq import get_current_job

from engine import api
from gallery.engine_cache import get_engine
from gallery.index import job_gallery, photo_count
from searches import lifecycle
from searches.dbretry import TRANSIENT, DatabaseUnavailable, with_db_retry
from searches.models import SearchJob
from searches.progress_cache import changed
from searches.runner import JobRunner
from searches.staleness import recover_stale_jobs

log = logging.getLogger(__name__)


def run_search_job(job_id: int) -> str:
    current = get_current_job()
    rq_job_id = current.id if current else ""
    try:
        return _run(job_id, rq_job_id)
    except (DatabaseUnavailable, *TRANSIENT) as exc:
        # Nothing can be recorded now. The job keeps its last heartbeat, so once the database is
        # back the recovery (searches/staleness.py) resumes it from its checkpoints.
        log.error("search job %s: database unavailable, left to recovery: %s", job_id, exc)
        return "database unavailable"


def _run(job_id: int, rq_job_id: str) -> str:
    with_db_retry(recover_stale_jobs, what="recovering stale jobs")
    # A paused/cancelled job or an outdated RQ job (re-queued since) is left alone.
    if not with_db_retry(lifecycle.claim, job_id, rq_job_id, what=f"claiming job {job_id}"):
        return "not claimed"
    job = SearchJob.objects.select_related("owner").get(pk=job_id)
    try:
        engine = get_engine(job.device)
        SearchJob.running_under(job_id, rq_job_id).update(
            ran_on=engine.device, device_fallback=engine.fallback_reason or "", models_used=engine.models)
        changed(job_id)
        # Seen only when it takes a while: a big gallery's index built, or photos re-embedded
        # after a model change.
        photos = photo_count(job.owner)
        _notice(job_id, rq_job_id, f"Preparing your gallery ({photos:,} photo{'s' if photos != 1 else ''})…")
        gallery = job_gallery(job.owner, engine, list(job.vehicles.values_list("pk", flat=True)),
                              keep_alive=_heartbeat_every(job_id, rq_job_id, seconds=10.0))
        _notice(job_id, rq_job_id, "")
        # No vehicle yet: the footage is still indexed, to be searched once one is registered.
        JobRunner(job, rq_job_id, engine, gallery).run()
    except (DatabaseUnavailable, *TRANSIENT):
        raise
    except api.EngineError as exc:
        _fail(job_id, rq_job_id, str(exc))
    except Exception:
        log.exception("search job %s failed", job_id)
        _fail(job_id, rq_job_id, "Internal error while running the search (see the worker log).")
    return SearchJob.objects.values_list("status", flat=True).get(pk=job_id)


def _heartbeat_every(job_id: int, rq_job_id: str, seconds: float):
    """A keep-alive for long preparation steps: refresh the job's heartbeat now and then."""
    last = time.monotonic()

    def keep_alive() -> None:
        nonlocal last
        if time.monotonic() - last >= seconds:
            last = time.monotonic()
            SearchJob.running_under(job_id, rq_job_id).update(heartbeat_at=timezone.now())
    return keep_alive


def _notice(job_id: int, rq_job_id: str, text: str) -> None:
    SearchJob.running_under(job_id, rq_job_id).update(notice=text)
    changed(job_id)


def _fail(job_id: int, rq_job_id: str, message: str) -> None:
    with_db_retry(lifecycle.fail, job_id, rq_job_id, message, what=f"failing job {job_id}")
