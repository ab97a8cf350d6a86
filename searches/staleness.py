"""Recovery: no job stays "running" or "queued" forever, whatever died.

* A RUNNING job whose heartbeat is older than VREID_HEARTBEAT_TIMEOUT_S lost its worker (killed,
  out of memory, machine gone, or the database was away for longer than the worker's retries).
  It is queued again and resumes each unfinished file from its saved checkpoint
  (SearchFile.resume_frame, written with every progress update); hits already stored are kept and
  the resumed pass cannot store them twice (see JobRunner.run_file and the unique constraint on
  Hit). After VREID_MAX_RECOVERIES automatic resumes (default 3) the job is failed with the
  reason instead: a file that kills its worker every time must not loop forever.
* A QUEUED job whose RQ job is no longer in Redis (Redis restarted without persistence, flushed)
  or ended without running it is pushed to the queue again.

Who runs this: every worker on start and every VREID_RECOVER_EVERY_S while it waits for work
(searches/worker.py), a worker whose work-horse died right away, and the job pages (cheaply:
the Redis check at most every RECONCILE_EVERY_S per web process).
"""
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from searches import lifecycle
from searches.models import SearchJob
from searches.progress_cache import changed
from searches.queueing import QUEUE

log = logging.getLogger(__name__)
Status = SearchJob.Status
RECONCILE_EVERY_S = 30.0  # web processes: the Redis check for lost queued jobs, at most this often
QUEUED_GRACE_S = 10.0  # a job queued this recently may not have reached Redis yet
_last_reconcile = 0.0


def max_recoveries() -> int:
    return int(settings.VREID_MAX_RECOVERIES)


def _stale_running(cutoff):
    return SearchJob.objects.filter(status=Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def recover_stale_jobs() -> int:
    """Re-queue (or, after too many tries, fail) running jobs without a recent heartbeat."""
    timeout = settings.VREID_HEARTBEAT_TIMEOUT_S
    cutoff = timezone.now() - timedelta(seconds=timeout)
    rows = list(_stale_running(cutoff).values_list("pk", "rq_job_id"))
    recovered = 0
    for pk, rq_id in rows:
        guard = _stale_running(cutoff).filter(pk=pk, rq_job_id=rq_id)
        recovered += recover_job(pk, guard, f"its worker stopped responding (no heartbeat for {timeout} s)")
    return recovered


def recover_dead_job(job_pk: int, rq_id: str, reason: str, count: bool = True) -> int:
    """The worker saw the process running RQ job `rq_id` die: recover the job now.

    count=False when the worker itself is shutting down (a deploy, not a crash): that resume
    does not use up one of the job's automatic resumes.
    """
    return recover_job(job_pk, SearchJob.running_under(job_pk, rq_id), reason, count=count)


def recover_job(pk: int, guard, reason: str, count: bool = True) -> int:
    """Re-queue or fail job `pk` if `guard` (a queryset of it) still matches; returns 1 if it did."""
    return int(lifecycle.recover(pk, guard, reason, max_recoveries(), count=count))


def requeue_lost_jobs(connection=None) -> int:
    """Push QUEUED jobs whose RQ job is gone from Redis again; returns how many.

    Raises redis errors when Redis is unreachable (callers decide whether that matters).
    """
    import django_rq
    from rq.job import Job, JobStatus

    connection = connection or django_rq.get_connection(QUEUE)
    grace = timezone.now() - timedelta(seconds=QUEUED_GRACE_S)
    rows = list(
        SearchJob.objects.filter(status=Status.QUEUED)
        .filter(Q(queued_at__lt=grace) | Q(queued_at__isnull=True))
        .values_list("pk", "rq_job_id")
    )
    if not rows:
        return 0
    alive = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
    found = Job.fetch_many([rq_id for _, rq_id in rows], connection=connection)
    lost = [(pk, rq_id) for (pk, rq_id), rq_job in zip(rows, found)
            if not rq_id or rq_job is None or rq_job.get_status(refresh=False) not in alive]
    return sum(lifecycle.requeue_lost(pk, rq_id) for pk, rq_id in lost)


def clear_leftover_heartbeats() -> int:
    """A worker that died while pausing leaves a heartbeat behind; clear it so Resume works."""
    cutoff = timezone.now() - timedelta(seconds=settings.VREID_HEARTBEAT_TIMEOUT_S)
    leftover = SearchJob.objects.filter(heartbeat_at__lt=cutoff).exclude(status=Status.RUNNING)
    # Read first: an UPDATE matching nothing still takes SQLite's write lock, on every page view.
    pks = list(leftover.values_list("pk", flat=True))
    if not pks:
        return 0
    cleared = leftover.filter(pk__in=pks).update(heartbeat_at=None)
    for pk in pks:  # settled now: their pages stop polling
        changed(pk)
    return cleared


def recover_all() -> dict:
    """Everything above; for workers (which must survive a missing Redis or database here)."""
    from gallery.cleanup import delete_abandoned_uploads

    done = {"stale": recover_stale_jobs(), "heartbeats": clear_leftover_heartbeats(),
            "abandoned_uploads": delete_abandoned_uploads()}
    done["lost"] = _requeue_lost_quietly()
    return done


def _requeue_lost_quietly() -> int:
    try:
        return requeue_lost_jobs()
    except Exception as exc:  # redis.ConnectionError and friends: next round
        log.warning("could not check the queue for lost jobs: %s", exc)
        return 0


def lost_job_check_due() -> bool:
    """Whether this web process should look for queued jobs lost from Redis now (no query)."""
    return time.monotonic() - _last_reconcile >= RECONCILE_EVERY_S


def fail_stale_jobs() -> int:
    """Page views: recover dead running jobs and clear leftover heartbeats (two indexed reads
    when there is nothing to do), and now and then look for queued jobs lost from Redis. Returns how many running jobs it recovered.

    (The historical name: stale jobs used to be failed; now they are resumed up to a limit.)
    """
    global _last_reconcile
    recovered = recover_stale_jobs()
    clear_leftover_heartbeats()
    if lost_job_check_due():
        _last_reconcile = time.monotonic()
        _requeue_lost_quietly()
    return recovered


def needs_recovery_check(status, queued_at, heartbeat_at, started_at) -> bool:
    """Whether fail_stale_jobs() could change anything for this job, judged from the figures
    already at hand (the snapshot's or the loaded row's; no query): its heartbeat is overdue, or
    it is queued past the grace period and this process's periodic check for jobs lost from
    Redis is due."""
    now = timezone.now()
    if status == Status.QUEUED:
        queued_long = queued_at is None or queued_at < now - timedelta(seconds=QUEUED_GRACE_S)
        return queued_long and lost_job_check_due()
    cutoff = now - timedelta(seconds=settings.VREID_HEARTBEAT_TIMEOUT_S)
    if heartbeat_at is not None:
        return heartbeat_at < cutoff
    return status == Status.RUNNING and started_at is not None and started_at < cutoff


def recovery_due(figures: dict) -> bool:
    """needs_recovery_check() on the figures of a progress snapshot."""
    return needs_recovery_check(figures["status"], figures["queued_at"], figures["heartbeat_at"],
                                 figures["started_at"])
