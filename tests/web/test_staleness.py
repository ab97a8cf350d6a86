"""A job whose worker died, or whose queue entry was lost, does not stay "running"/"queued" forever."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rq.job import Job

from searches import staleness
from searches.models import SearchFile, SearchJob
from searches.staleness import fail_stale_jobs, recover_all, requeue_lost_jobs

pytestmark = pytest.mark.django_db


def stale_job(user, recoveries=0, **fields):
    old = timezone.now() - timedelta(minutes=5)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, heartbeat_at=old, started_at=old,
                                   rq_job_id="vreid-search-dead", recoveries=recoveries, **fields)
    SearchFile.objects.create(job=job, original_name="a.mp4", status=SearchFile.Status.RUNNING, resume_frame=120)
    return job


def test_stale_running_job_is_resumed_on_page_view(alice, user, queue):
    job = stale_job(user)
    fresh = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, heartbeat_at=timezone.now())
    response = alice.get(reverse("searches:detail", args=[job.pk]))
    assert response.status_code == 200
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == SearchJob.Status.QUEUED and "stopped responding" in job.notice, job.notice
    assert job.recoveries == 1 and job.heartbeat_at is None and job.rq_job_id != "vreid-search-dead"
    assert queue.job_ids == [job.rq_job_id]  # a worker picks it up again
    search_file = job.files.get()
    assert search_file.status == SearchFile.Status.PENDING and search_file.resume_frame == 120  # checkpoint kept
    assert fresh.status == SearchJob.Status.RUNNING
    assert fail_stale_jobs() == 0


def test_a_job_that_keeps_killing_its_worker_fails_with_the_reason(user, queue, settings):
    settings.VREID_MAX_RECOVERIES = 3
    job = stale_job(user, recoveries=3)
    assert recover_all()["stale"] == 1
    job.refresh_from_db()
    assert job.status == SearchJob.Status.FAILED and job.finished_at is not None
    assert "stopped responding" in job.error and "3 times" in job.error and "Retry" in job.error
    assert job.files.get().status == SearchFile.Status.PENDING
    assert queue.count == 0


def test_dead_work_horse_recovers_its_job_at_once(user, queue):
    job = stale_job(user)
    SearchJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())  # not stale yet
    assert staleness.recover_dead_job(job.pk, "another-rq-id", "died") == 0  # only the job's own RQ job
    assert staleness.recover_dead_job(job.pk, "vreid-search-dead", "the worker process running it died") == 1
    job.refresh_from_db()
    assert job.status == SearchJob.Status.QUEUED and "process running it died" in job.notice
    assert queue.job_ids == [job.rq_job_id]


def test_queued_job_lost_from_redis_is_queued_again(user, queue, monkeypatch):
    monkeypatch.setattr(staleness, "QUEUED_GRACE_S", 0.0)
    from searches import lifecycle

    lost = SearchJob.objects.create(owner=user)
    lifecycle.queue(lost)
    kept = SearchJob.objects.create(owner=user)
    lifecycle.queue(kept)
    lost.refresh_from_db()
    kept.refresh_from_db()
    Job.fetch(lost.rq_job_id, connection=queue.connection).delete()  # as if Redis had restarted
    assert requeue_lost_jobs() == 1
    lost_before = lost.rq_job_id
    lost.refresh_from_db()
    assert lost.status == SearchJob.Status.QUEUED and lost.rq_job_id != lost_before
    assert set(queue.job_ids) == {lost.rq_job_id, kept.rq_job_id}
    assert requeue_lost_jobs() == 0

    queue.connection.flushdb()  # everything lost
    assert requeue_lost_jobs() == 2 and queue.count == 2


def test_recent_queued_jobs_are_left_alone(user, queue):
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.QUEUED, rq_job_id="not-pushed-yet",
                                   queued_at=timezone.now())
    assert requeue_lost_jobs() == 0  # lifecycle.queue() may still be about to push it
    job.refresh_from_db()
    assert job.rq_job_id == "not-pushed-yet"
