"""Negative examples: a rejected hit's vector kept as "not this vehicle" (see gallery.profiles)."""
from django.core.files.base import ContentFile

from gallery.models import NegativeExample


def add_negative(vehicle, vector_blob: bytes, embedder: str, dim: int, attributes=None,
                 thumbnail_bytes: bytes = b"", source: str = "") -> NegativeExample:
    negative = NegativeExample(vehicle=vehicle, embedding=vector_blob, embedder=embedder, dim=dim,
                               attributes=attributes, source=source[:400])
    if thumbnail_bytes:
        negative.thumbnail.save("negative.jpg", ContentFile(thumbnail_bytes), save=False)
    negative.save()
    return negative
