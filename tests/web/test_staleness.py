"""A job whose worker died does not stay "running" forever."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from searches.models import SearchFile, SearchJob
from searches.staleness import fail_stale_jobs

pytestmark = pytest.mark.django_db


def test_stale_running_job_is_failed_on_page_view(alice, user):
    old = timezone.now() - timedelta(minutes=5)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, heartbeat_at=old, started_at=old)
    SearchFile.objects.create(job=job, original_name="a.mp4", status=SearchFile.Status.RUNNING)
    fresh = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, heartbeat_at=timezone.now())
    response = alice.get(reverse("searches:detail", args=[job.pk]))
    assert response.status_code == 200
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == SearchJob.Status.FAILED and "stopped responding" in job.error
    assert job.files.get().status == SearchFile.Status.PENDING  # Retry continues it
    assert fresh.status == SearchJob.Status.RUNNING
    assert fail_stale_jobs() == 0
