"""Put search jobs on the RQ queue; every worker sharing the Redis can take them.

The database is the source of truth: a job is QUEUED there with the id of the one RQ job that may
run it (`rq_job_id`, set by searches.lifecycle). Redis may lose its queue (restart without
persistence); then searches.staleness finds the job and lifecycle.requeue_lost() pushes it again.
"""
import uuid

import django_rq
from django.conf import settings

QUEUE = "default"


class QueueUnavailable(Exception):
    pass


def new_rq_id(job_pk: int) -> str:
    """A fresh RQ id per queueing: any older RQ job for the search becomes a no-op."""
    return f"vreid-search-{job_pk}-{uuid.uuid4().hex[:10]}"


def push(job_pk: int, rq_id: str) -> None:
    """Put the RQ job `rq_id` for search job `job_pk` on the queue (raises when Redis is away)."""
    django_rq.get_queue(QUEUE).enqueue(
        "searches.tasks.run_search_job", job_pk, job_id=rq_id,
        job_timeout=settings.VREID_JOB_TIMEOUT_S, result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
    )


def jobs_ahead(rq_id: str):
    """How many queued RQ jobs are ahead of `rq_id` (None when it is not waiting in the queue,
    or Redis does not answer: the page then simply says nothing about it)."""
    try:
        return django_rq.get_queue(QUEUE).get_job_position(rq_id)
    except Exception:
        return None
