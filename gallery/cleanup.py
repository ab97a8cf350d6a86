"""Registration uploads the user never finished (no box picked) are deleted after a while."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from gallery.models import PendingPhoto


def delete_abandoned_uploads() -> int:
    """Delete pending photos older than VREID_PENDING_TTL_H hours; their files go with them
    (gallery/signals.py). Returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.VREID_PENDING_TTL_H)
    count = 0
    for pending in PendingPhoto.objects.filter(created__lt=cutoff).iterator():
        pending.delete()  # one by one, so the post_delete signal removes each file
        count += 1
    return count
