"""Put search jobs on the RQ queue; every worker sharing the Redis can take them.

The database is the source of truth: a job is QUEUED there with the id of the one RQ job that may
run it (`rq_job_id`). Redis may lose its queue (restart without persistence); then
searches.staleness.requeue_lost_jobs() pushes the job again.
"""
import uuid

import django_rq
from django.conf import settings
from django.utils import timezone

from searches.models import SearchJob

QUEUE = "default"


def new_rq_id(job_pk: int) -> str:
    return f"vreid-search-{job_pk}-{uuid.uuid4().hex[:10]}"


def enqueue(job: SearchJob) -> None:
    """Queue (or re-queue) a job at a user's request. A fresh RQ id makes any older RQ job for it a no-op."""
    rq_id = new_rq_id(job.pk)
    SearchJob.objects.filter(pk=job.pk).update(
        rq_job_id=rq_id, status=SearchJob.Status.QUEUED, error="", finished_at=None, eta_s=None,
        queued_at=timezone.now(), recoveries=0,
    )
    job.refresh_from_db()
    try:
        push(job.pk, rq_id)
    except Exception as exc:  # Redis unreachable: the job must not look queued
        SearchJob.objects.filter(pk=job.pk, rq_job_id=rq_id).update(
            status=SearchJob.Status.FAILED, finished_at=timezone.now(),
            error="The job queue (Redis) could not be reached; try again with Retry.",
        )
        raise QueueUnavailable(str(exc)) from exc


def push(job_pk: int, rq_id: str) -> None:
    """Put the RQ job `rq_id` for search job `job_pk` on the queue (raises when Redis is away)."""
    django_rq.get_queue(QUEUE).enqueue(
        "searches.tasks.run_search_job", job_pk, job_id=rq_id,
        job_timeout=getattr(settings, "VREID_JOB_TIMEOUT_S", 7 * 24 * 3600),
        result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
    )


class QueueUnavailable(Exception):
    pass


def jobs_ahead(rq_id: str):
    """How many queued RQ jobs are ahead of `rq_id` (None when it is not waiting in the queue,
    or Redis does not answer: the page then simply says nothing about it)."""
    try:
        return django_rq.get_queue(QUEUE).get_job_position(rq_id)
    except Exception:
        return None
