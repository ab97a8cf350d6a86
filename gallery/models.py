"""Registered vehicles and the photos (with their embeddings) that describe them."""
import hashlib
import re
import uuid
from pathlib import PurePath

import numpy as np
from django.conf import settings
from django.db import models
from django.urls import reverse

from engine import api


def _user_path(folder: str, user_id: int, filename: str) -> str:
    """A random name; of the uploader's name only a short alphanumeric extension is kept."""
    ext = PurePath(filename).suffix.lower()[:10]
    ext = ext if re.fullmatch(r"\.[a-z0-9]{1,9}", ext) else ".jpg"
    return f"{folder}/user_{user_id}/{uuid.uuid4().hex}{ext}"


def photo_upload_to(instance, filename):
    return _user_path("gallery/photos", instance.vehicle.owner_id, filename)


def crop_upload_to(instance, filename):
    return _user_path("gallery/crops", instance.vehicle.owner_id, filename)


def negative_upload_to(instance, filename):
    return _user_path("gallery/negatives", instance.vehicle.owner_id, filename)


def pending_upload_to(instance, filename):
    return _user_path("gallery/photos", instance.owner_id, filename)


class Vehicle(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vehicles")
    label = models.CharField(max_length=120)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label", "pk"]

    def __str__(self):
        return self.label

    def get_absolute_url(self):
        return reverse("gallery:vehicle", args=[self.pk])


def describe_attributes(data) -> str:
    """"white car" from stored colour/type probabilities ("" when there are none)."""
    attributes = api.Attributes.from_dict(data)
    return attributes.describe() if attributes else ""


def embedding_digest(blob) -> str:
    return hashlib.sha1(bytes(blob)).hexdigest()[:16]


class VehiclePhoto(models.Model):
    """One view of a vehicle. Several photos per vehicle improve recall."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=photo_upload_to, max_length=300)
    crop = models.FileField(upload_to=crop_upload_to, max_length=300)
    box = models.JSONField(help_text="x1, y1, x2, y2 in pixels of the image")
    embedding = models.BinaryField(help_text="float32 vector, L2-normalised")
    dim = models.PositiveIntegerField()
    embedder = models.CharField(max_length=200)
    # The per-user index version is made of these (gallery.index), so checking that a stored
    # index is current reads a few bytes per photo instead of every vector.
    vector_digest = models.CharField(max_length=16, blank=True, editable=False)
    # Colour and type probabilities (engine Attributes.to_dict()); empty without the attribute model.
    attributes = models.JSONField(null=True, blank=True)
    stored_bytes = models.PositiveBigIntegerField(default=0, editable=False, help_text="image + crop, for the quota")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.vehicle} photo {self.pk}"

    def save(self, *args, **kwargs):
        self.vector_digest = embedding_digest(self.embedding)
        fields = kwargs.get("update_fields")
        if fields is not None and "embedding" in fields:
            kwargs["update_fields"] = [*fields, "vector_digest"]
        super().save(*args, **kwargs)

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.embedding), dtype=np.float32)

    @property
    def describe(self) -> str:
        """"white car (92 %)": colour and type, where the attribute model gave them."""
        return describe_attributes(self.attributes)

    def set_vector(self, vector: np.ndarray, embedder: str) -> None:
        vector = np.asarray(vector, dtype=np.float32).ravel()
        self.embedding = vector.tobytes()
        self.vector_digest = embedding_digest(self.embedding)  # also for bulk_create, which skips save()
        self.dim = int(vector.shape[0])
        self.embedder = embedder


class PendingPhoto(models.Model):
    """An uploaded photo whose vehicle box the user has not picked yet."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    image = models.FileField(upload_to=pending_upload_to, max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    detections = models.JSONField(default=list, help_text="[{box, score, label}, ...]")
    vehicle = models.ForeignKey(
        Vehicle, null=True, blank=True, on_delete=models.CASCADE,
        help_text="When set, the photo is added to this vehicle",
    )
    stored_bytes = models.PositiveBigIntegerField(default=0, editable=False, help_text="for the quota")
    created = models.DateTimeField(auto_now_add=True)

    def get_absolute_url(self):
        return reverse("gallery:pick", args=[self.pk])


class NegativeExample(models.Model):
    """A view the user said is NOT this vehicle (a rejected hit): later searches refuse a
    candidate that lies closer to it than to the vehicle's own photos (engine.matching)."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="negatives")
    embedding = models.BinaryField(help_text="float32 vector, L2-normalised")
    dim = models.PositiveIntegerField()
    embedder = models.CharField(max_length=200)
    attributes = models.JSONField(null=True, blank=True)
    thumbnail = models.FileField(upload_to=negative_upload_to, max_length=300, blank=True)
    source = models.CharField(max_length=400, blank=True, help_text="Where the rejected view came from")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"not {self.vehicle}: {self.source}"

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.embedding), dtype=np.float32)
