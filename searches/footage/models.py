"""Cameras, indexed footage and the sightings found in it (see searches.footage)."""
import uuid

import numpy as np
from django.conf import settings
from django.db import models
from django.urls import reverse

from engine import api


class Camera(models.Model):
    """Where footage was recorded: a user's own name for a place (a folder upload's folder)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cameras")
    name = models.CharField(max_length=100)
    # How its files are searched, whatever each search's own setting says ("" = as the search says):
    # a camera that never moves gets the fast motion-gated mode for every file of it (issue 12).
    mounting = models.CharField(max_length=8, blank=True, choices=[
        ("", "As each search says"), ("fixed", "Fixed (fast: the detector runs where something moves)"),
        ("moving", "Moving / every frame")])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="camera_unique_per_owner")]

    def __str__(self):
        return self.name


class Footage(models.Model):
    """One stored file as indexed: the jobs that searched it (a re-run shares its file) share it."""

    class Status(models.TextChoices):
        NEW = "new", "Not indexed"
        INDEXING = "indexing", "Being indexed"
        INDEXED = "indexed", "Indexed"
        PARTIAL = "partial", "Partly indexed"  # its pass was paused, cancelled or failed

    class TimeSource(models.TextChoices):
        UNKNOWN = "", "Unknown"
        METADATA = "metadata", "From the file's metadata"
        FILE_NAME = "file name", "From the file name"
        USER = "user", "Entered by you"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="footage")
    file = models.CharField(max_length=400, help_text="Storage name of the file (SearchFile.file)")
    original_name = models.CharField(max_length=400)
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.SET_NULL, related_name="footage")
    recorded_at = models.DateTimeField(null=True, blank=True, help_text="When the recording started")
    recorded_at_source = models.CharField(max_length=10, choices=TimeSource, default=TimeSource.UNKNOWN, blank=True)
    kind = models.CharField(max_length=8, default="")
    fps = models.FloatField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.NEW)
    # What it was indexed with: another detector or embedder (or a coarser stride) means a new pass.
    detector = models.CharField(max_length=200, blank=True)
    embedder = models.CharField(max_length=200, blank=True)
    frame_stride = models.PositiveIntegerField(null=True, blank=True)
    indexed_at = models.DateTimeField(null=True, blank=True)
    # The SearchFile whose pass writes its sightings now (guards against two passes at once).
    indexer = models.PositiveBigIntegerField(null=True, blank=True)
    sightings_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        verbose_name_plural = "footage"
        constraints = [models.UniqueConstraint(fields=["owner", "file"], name="footage_unique_per_file")]
        indexes = [models.Index(fields=["owner", "camera", "recorded_at"])]

    def __str__(self):
        return self.original_name

    def seconds_at(self, offset_s: float):
        """Wall-clock time `offset_s` seconds into the file (None when its start is unknown)."""
        from datetime import timedelta
        return self.recorded_at + timedelta(seconds=offset_s) if self.recorded_at else None


def sighting_thumb_upload_to(instance, filename):
    return f"sightings/user_{instance.owner_id}/{instance.footage_id}/{uuid.uuid4().hex[:12]}.jpg"


class Sighting(models.Model):
    """One vehicle seen in footage (a track, or a detection in an image), matched or not."""

    footage = models.ForeignKey(Footage, on_delete=models.CASCADE, related_name="sightings")
    # Copies of the footage's owner, camera and time, so that explore's filters need no join.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seen_at = models.DateTimeField(null=True, blank=True, help_text="Wall-clock time of its start")
    start_s = models.FloatField()
    end_s = models.FloatField()
    start_frame = models.PositiveIntegerField()
    end_frame = models.PositiveIntegerField()
    best_frame = models.PositiveIntegerField()
    best_time_s = models.FloatField()
    box = models.JSONField()
    colour = models.CharField(max_length=16, blank=True)
    vehicle_type = models.CharField(max_length=16, blank=True)
    attributes = models.JSONField(null=True, blank=True)  # probabilities, for the matching rules
    embedding = models.BinaryField(editable=False, help_text="float32 unit vector: mean of its embedded crops")
    embedder = models.CharField(max_length=200, editable=False)
    crops = models.PositiveSmallIntegerField(default=1)
    thumbnail = models.FileField(upload_to=sighting_thumb_upload_to, max_length=300, blank=True)

    class Meta:
        ordering = ["seen_at", "footage_id", "start_s", "pk"]
        indexes = [
            models.Index(fields=["owner", "seen_at", "id"]),
            models.Index(fields=["owner", "camera", "seen_at"]),
            models.Index(fields=["owner", "colour", "seen_at"]),
            models.Index(fields=["owner", "vehicle_type", "seen_at"]),
            models.Index(fields=["owner", "colour", "vehicle_type", "seen_at"]),  # both filters, and their count
            models.Index(fields=["footage", "start_frame"]),
            models.Index(fields=["owner", "embedder", "id"]),
        ]

    def __str__(self):
        return f"{self.describe() or 'vehicle'} in {self.footage} at {self.start_s:.1f}s"

    def get_absolute_url(self):
        return reverse("footage:sighting", args=[self.pk])

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.embedding), dtype=np.float32)

    def describe(self) -> str:
        return f"{self.colour} {self.vehicle_type}".strip()

    def as_engine(self) -> "api.Sighting":
        return api.Sighting(self.start_s, self.end_s, self.start_frame, self.end_frame, self.best_frame,
                            self.best_time_s, tuple(self.box), self.vector, self.crops,
                            api.Attributes.from_dict(self.attributes))
