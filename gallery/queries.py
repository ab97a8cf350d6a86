"""Per-row figures computed inside the list query, without JOIN fan-out (photos x hits)."""
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from gallery.models import VehiclePhoto


def count_of(model, fk: str):
    """A correlated COUNT subquery of the `model` rows whose `fk` is the outer row."""
    return Coalesce(
        Subquery(
            model.objects.filter(**{fk: OuterRef("pk")}).order_by().values(fk)
            .annotate(n=Count("pk")).values("n")[:1]
        ),
        0,
    )


def cover_photo_id():
    """The id of a vehicle's first photo."""
    return Subquery(VehiclePhoto.objects.filter(vehicle=OuterRef("pk")).order_by("pk").values("pk")[:1])
