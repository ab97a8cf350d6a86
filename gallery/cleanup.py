"""Registration uploads the user never finished (no box picked) are deleted after a while."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from gallery.models import PendingPhoto


def delete_abandoned_uploads() -> int:
    """Delete pending photos older than VREID_PENDING_TTL_H hours; their files go with them
    (gallery/signals.py). Returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.VREID_PENDING_TTL_H)
    _, deleted = PendingPhoto.objects.filter(created__lt=cutoff).delete()  # post_delete runs per row
    return deleted.get(PendingPhoto._meta.label, 0)
