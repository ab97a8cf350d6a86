"""Per-user storage quota (VREID_USER_QUOTA_MB; 0 = none): what a user's uploads occupy.

Counted from the byte size each row records when its file is stored (no walk over the storage):
search files, a file that a job and its re-runs share counted once, plus gallery photos (image and
crop) and registration uploads not picked yet.
"""
from django.conf import settings
from django.db.models import Exists, OuterRef, PositiveBigIntegerField, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.template.defaultfilters import filesizeformat

MB = 1024 * 1024


def quota_bytes() -> int | None:
    return settings.VREID_USER_QUOTA_MB * MB if settings.VREID_USER_QUOTA_MB > 0 else None


def storage_used(user) -> int:
    """One query: a sum per table, each a subquery of the user's rows."""
    from django.contrib.auth import get_user_model

    from gallery.models import PendingPhoto, VehiclePhoto
    from searches.models import SearchFile

    earlier_same_file = SearchFile.objects.filter(file=OuterRef("file"), pk__lt=OuterRef("pk"))
    files = SearchFile.objects.filter(job__owner=OuterRef("pk")).exclude(file="").exclude(Exists(earlier_same_file))
    photos = VehiclePhoto.objects.filter(vehicle__owner=OuterRef("pk"))
    pending = PendingPhoto.objects.filter(owner=OuterRef("pk"))
    total = sum((_sum_of(rows) for rows in (files, photos, pending)), Value(0))
    return get_user_model().objects.filter(pk=user.pk).values_list(total, flat=True).get()


def _sum_of(rows):
    """Their stored_bytes summed, as a scalar subquery (0 when there are none)."""
    summed = rows.order_by().annotate(one=Value(1)).values("one").annotate(total=Sum("stored_bytes")).values("total")
    return Coalesce(Subquery(summed, output_field=PositiveBigIntegerField()), 0)


def bytes_left(user) -> int | None:
    """What the user may still store; None without a quota."""
    quota = quota_bytes()
    return None if quota is None else max(0, quota - storage_used(user))


def usage(user) -> dict:
    """For the pages: used, allowed (None: no quota) and the percentage used."""
    used, quota = storage_used(user), quota_bytes()
    return {"used": used, "quota": quota, "percent": min(100, round(100 * used / quota)) if quota else None}


def quota_message(needed: int, left: int) -> str:
    return (f"Not stored: {filesizeformat(needed)} would go past your storage quota "
            f"({filesizeformat(left)} left of {filesizeformat(quota_bytes())}). "
            "Delete old searches or photos to make room.")
