"""Jobs whose worker died must not stay "running" forever."""
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from searches.models import SearchFile, SearchJob


def fail_stale_jobs() -> int:
    """Mark running jobs without a recent heartbeat as failed; returns how many."""
    now = timezone.now()
    timeout = settings.VREID_HEARTBEAT_TIMEOUT_S
    cutoff = now - timedelta(seconds=timeout)
    stale = SearchJob.objects.filter(status=SearchJob.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    ids = list(stale.values_list("pk", flat=True))
    if ids:
        SearchJob.objects.filter(pk__in=ids, status=SearchJob.Status.RUNNING).update(
            status=SearchJob.Status.FAILED, finished_at=now, heartbeat_at=None, eta_s=None,
            error=f"The worker running this job stopped responding (no heartbeat for {timeout} s). "
                  "Use Retry to continue with the remaining files.",
        )
        SearchFile.objects.filter(job_id__in=ids, status=SearchFile.Status.RUNNING).update(
            status=SearchFile.Status.PENDING
        )
    # A worker that died while pausing leaves a heartbeat behind; clear it so Resume works.
    SearchJob.objects.filter(heartbeat_at__lt=cutoff).exclude(status=SearchJob.Status.RUNNING).update(
        heartbeat_at=None
    )
    return len(ids)
