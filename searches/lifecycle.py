"""A search job's life, in one place: every change of its status.

    queue         a new job                          -> QUEUED
    claim         QUEUED, by the worker of its RQ job -> RUNNING
    finish, fail  RUNNING                            -> DONE, FAILED
    pause         QUEUED or RUNNING                  -> PAUSED (its worker stops and lets go)
    resume        PAUSED or FAILED, let go           -> QUEUED
    cancel        QUEUED, RUNNING or PAUSED          -> CANCELLED (its worker stops and lets go)
    delete        PAUSED or finished, let go         -> gone
    recover       RUNNING, its worker dead           -> QUEUED (FAILED after VREID_MAX_RECOVERIES)
    requeue_lost  QUEUED, its RQ job lost in Redis   -> QUEUED under a new RQ job

Each transition is one conditional UPDATE (or DELETE) of the job's row and says whether it
happened: a request that lost a race against another one (a Cancel landing while a Resume was
on its way, a Delete from another tab) changes nothing and learns so, instead of overwriting the
newer state. The users' guards are SearchJob.GUARDS, which the pages ask through can_pause & co.
A worker's writes are guarded by the RQ job it runs under (SearchJob.running_under): once the job
was paused, cancelled or queued again, they land nowhere.

Callers: the job views and the admin (queue, pause, resume, cancel, delete), searches.tasks and
searches.runner (claim, stop_reason, let_go, finish, fail), searches.staleness (recover,
requeue_lost). Every transition that happened marks the job's progress snapshot stale
(searches.progress_cache.changed), after its UPDATE.
"""
import logging
from enum import StrEnum

from django.db.models import F
from django.utils import timezone

from searches.models import SearchFile, SearchJob
from searches.progress_cache import changed
from searches.queueing import QueueUnavailable, new_rq_id, push

log = logging.getLogger(__name__)
Status = SearchJob.Status
UNFINISHED_FILES = (SearchFile.Status.PENDING, SearchFile.Status.RUNNING)


class StopReason(StrEnum):
    """Why a worker stops a job before its end (the engine carries it as Interrupted.reason)."""

    PAUSE = "pause"  # paused by its user, or queued again under another RQ job: resume later
    CANCEL = "cancel"


def _guarded(job: SearchJob, action: str):
    return SearchJob.objects.filter(pk=job.pk, **SearchJob.GUARDS[action])


# -- a user's requests (views, admin actions) -------------------------------------------------
def queue(job: SearchJob) -> bool:
    """Put a new job on the queue (unless it was cancelled or paused meanwhile)."""
    return _push(job.pk, SearchJob.objects.filter(pk=job.pk, status=Status.QUEUED, rq_job_id=""))


def resume(job: SearchJob) -> bool:
    """Queue a paused or failed job again; it continues from its files' checkpoints."""
    return _push(job.pk, _guarded(job, "resume"), error="", notice="", finished_at=None, recoveries=0)


def _push(pk: int, guard, **reset) -> bool:
    """Queue job `pk` under a fresh RQ id if `guard` still matches; raises QueueUnavailable when
    Redis does not answer (the job is then failed with that reason, not left looking queued)."""
    rq_id = new_rq_id(pk)
    if not guard.update(status=Status.QUEUED, rq_job_id=rq_id, queued_at=timezone.now(), eta_s=None, **reset):
        return False
    changed(pk)
    try:
        push(pk, rq_id)
    except Exception as exc:
        SearchJob.objects.filter(pk=pk, status=Status.QUEUED, rq_job_id=rq_id).update(
            status=Status.FAILED, finished_at=timezone.now(),
            error="The job queue (Redis) could not be reached; try again with Retry.",
        )
        changed(pk)
        raise QueueUnavailable(str(exc)) from exc
    return True


def pause(job: SearchJob) -> bool:
    """A running job's worker stops at its next poll and lets go (let_go); its file stays pending."""
    return _changed(job.pk, _guarded(job, "pause").update(status=Status.PAUSED, eta_s=None))


def cancel(job: SearchJob) -> bool:
    """The files not searched yet are cancelled now; a worker on one stops at its next poll."""
    if not _guarded(job, "cancel").update(status=Status.CANCELLED, eta_s=None, finished_at=timezone.now()):
        return False
    _cancel_unfinished_files(job.pk)
    changed(job.pk)
    return True


def delete(job: SearchJob) -> bool:
    """Delete a job no worker holds, with its files (searches.signals) and hits."""
    deleted, _ = _guarded(job, "delete").delete()
    return _changed(job.pk, deleted)


# -- workers (searches.tasks, searches.runner) ------------------------------------------------
def claim(pk: int, rq_id: str) -> bool:
    """The worker running RQ job `rq_id` takes job `pk`, if that is still the job's RQ job."""
    now = timezone.now()
    if not SearchJob.objects.filter(pk=pk, status=Status.QUEUED, rq_job_id=rq_id).update(
            status=Status.RUNNING, heartbeat_at=now):
        return False
    SearchJob.objects.filter(pk=pk, started_at__isnull=True).update(started_at=now)
    changed(pk)
    return True


def stop_reason(pk: int, rq_id: str) -> StopReason | None:
    """Why the worker running job `pk` under `rq_id` must stop now (None: carry on)."""
    status, current_rq_id = SearchJob.objects.filter(pk=pk).values_list("status", "rq_job_id").get()
    if status == Status.CANCELLED:
        return StopReason.CANCEL
    if status != Status.RUNNING or current_rq_id != rq_id:
        return StopReason.PAUSE
    return None


def let_go(pk: int, rq_id: str, reason: StopReason) -> None:
    """The worker stopped as asked: the job may be resumed or deleted now."""
    SearchJob.objects.filter(pk=pk, rq_job_id=rq_id).update(heartbeat_at=None, eta_s=None)
    if reason == StopReason.CANCEL:  # files it started after the cancel
        _cancel_unfinished_files(pk)
    changed(pk)


def finish(pk: int, rq_id: str, notice: str, **figures) -> bool:
    return _changed(pk, SearchJob.running_under(pk, rq_id).update(
        status=Status.DONE, progress=1.0, eta_s=None, notice=notice, finished_at=timezone.now(),
        heartbeat_at=None, **figures,
    ))


def fail(pk: int, rq_id: str, error: str) -> bool:
    return _changed(pk, SearchJob.running_under(pk, rq_id).update(
        status=Status.FAILED, error=error, notice="", finished_at=timezone.now(), heartbeat_at=None, eta_s=None,
    ))


# -- recovery (searches.staleness) -------------------------------------------------------------
def recover(pk: int, guard, reason: str, limit: int, count: bool = True) -> bool:
    """Queue job `pk` again if `guard` (a queryset of it, as found dead) still matches, or fail
    it once it was resumed automatically `limit` times; count=False: this resume is not counted."""
    now = timezone.now()
    rq_id = new_rq_id(pk)
    resumable = guard.filter(recoveries__lt=limit) if count else guard
    if resumable.update(status=Status.QUEUED, rq_job_id=rq_id, queued_at=now, heartbeat_at=None, eta_s=None,
                        recoveries=F("recoveries") + (1 if count else 0),
                        notice=f"Resumed automatically where it stopped: {reason}."):
        _unfinish_files(pk)
        changed(pk)
        log.warning("search job %s: %s; queued again as %s", pk, reason, rq_id)
        try:
            push(pk, rq_id)
        except Exception as exc:  # Redis away too: requeue_lost() pushes it once Redis is back
            log.warning("search job %s: could not reach the queue (%s); will retry", pk, exc)
        return True
    failed = guard.update(
        status=Status.FAILED, finished_at=now, heartbeat_at=None, eta_s=None, notice="",
        error=f"Stopped: {reason}, and it was already resumed automatically {limit} times. "
              "Use Retry to continue with the remaining files.",
    )
    if failed:
        _unfinish_files(pk)
        changed(pk)
        log.error("search job %s failed: %s (after %s automatic resumes)", pk, reason, limit)
    return bool(failed)


def requeue_lost(pk: int, lost_rq_id: str) -> bool:
    """Push a queued job whose RQ job `lost_rq_id` is gone from Redis again, under a new id."""
    rq_id = new_rq_id(pk)
    if not SearchJob.objects.filter(pk=pk, status=Status.QUEUED, rq_job_id=lost_rq_id).update(
            rq_job_id=rq_id, queued_at=timezone.now()):
        return False
    changed(pk)
    log.warning("search job %s: RQ job %s is gone or ended without running it; queued again as %s",
                pk, lost_rq_id, rq_id)
    push(pk, rq_id)
    return True


def _changed(pk: int, rows: int) -> bool:
    """Whether a transition's UPDATE/DELETE happened; if it did, job `pk`'s progress snapshot
    (searches.progress_cache) is no longer trusted."""
    if rows:
        changed(pk)
    return bool(rows)


# -- its files ---------------------------------------------------------------------------------
def _cancel_unfinished_files(pk: int) -> None:
    SearchFile.objects.filter(job_id=pk, status__in=UNFINISHED_FILES).update(status=SearchFile.Status.CANCELLED)


def _unfinish_files(pk: int) -> None:
    """The file a dead worker was on starts again (from its checkpoint) on the next run."""
    SearchFile.objects.filter(job_id=pk, status=SearchFile.Status.RUNNING).update(status=SearchFile.Status.PENDING)
