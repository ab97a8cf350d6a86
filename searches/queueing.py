"""Put search jobs on the RQ queue; every worker sharing the Redis can take them."""
import uuid

import django_rq
from django.conf import settings
from django.utils import timezone

from searches.models import SearchJob

QUEUE = "default"


def enqueue(job: SearchJob) -> None:
    """Queue (or re-queue) a job. A fresh RQ id makes any older RQ job for it a no-op."""
    rq_id = f"vreid-search-{job.pk}-{uuid.uuid4().hex[:10]}"
    SearchJob.objects.filter(pk=job.pk).update(
        rq_job_id=rq_id, status=SearchJob.Status.QUEUED, error="", finished_at=None, eta_s=None
    )
    job.refresh_from_db()
    try:
        django_rq.get_queue(QUEUE).enqueue(
            "searches.tasks.run_search_job", job.pk, job_id=rq_id,
            job_timeout=getattr(settings, "VREID_JOB_TIMEOUT_S", 7 * 24 * 3600),
            result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
        )
    except Exception as exc:  # Redis unreachable: the job must not look queued
        SearchJob.objects.filter(pk=job.pk).update(
            status=SearchJob.Status.FAILED, finished_at=timezone.now(),
            error="The job queue (Redis) could not be reached; try again with Retry.",
        )
        raise QueueUnavailable(str(exc)) from exc


class QueueUnavailable(Exception):
    pass
