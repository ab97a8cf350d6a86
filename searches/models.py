"""Search jobs over uploaded images and videos, their files, and the hits found."""
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db import models
from django.urls import reverse
from django.utils.text import get_valid_filename

from gallery.models import Vehicle

STORED_NAME_BYTES = 120  # file systems limit a name's bytes (most: 255), not its characters


def job_file_upload_to(instance, filename):
    """A fresh folder per file; the name keeps only letters, digits, '-', '_' and '.', cut to
    STORED_NAME_BYTES bytes of UTF-8 with its extension kept."""
    try:
        name = get_valid_filename(PurePath(filename).name).lstrip(".") or "file"
    except SuspiciousFileOperation:  # nothing usable left of the name
        name = "file"
    return f"jobs/user_{instance.job.owner_id}/{uuid.uuid4().hex}/{cut_utf8(name, STORED_NAME_BYTES)}"


def cut_utf8(name: str, limit: int) -> str:
    """`name` in at most `limit` bytes of UTF-8, cut inside the stem (never inside a character)."""
    if len(name.encode()) <= limit:
        return name
    path = PurePath(name)
    ext = path.suffix if len(path.suffix.encode()) <= 16 else ""
    stem = name[: len(name) - len(ext)].encode()[: limit - len(ext.encode())].decode(errors="ignore")
    return (stem + ext).lstrip(".") or "file"


def hit_thumb_upload_to(instance, filename):
    return f"jobs/user_{instance.job.owner_id}/hits/job_{instance.job_id}/{uuid.uuid4().hex}.jpg"


def percent(fraction: float) -> int:
    """0..1 progress as a whole percentage, clamped."""
    return int(round(100 * min(max(fraction, 0.0), 1.0)))


class SearchJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PAUSED = "paused"
        CANCELLED = "cancelled"
        DONE = "done"
        FAILED = "failed"

    class Proposals(models.TextChoices):
        DETECTOR = "detector", "Detector (moving or parked cameras)"
        BOTH = "both", "Motion + detector (fixed top-down cameras)"

    FINISHED = (Status.CANCELLED, Status.DONE, Status.FAILED)
    # No worker holds it: finished, or paused and stopped. Deleting any other job would pull the
    # rows from under a worker (see JobDeleteView and the admin).
    DELETABLE = models.Q(status__in=FINISHED) | models.Q(status=Status.PAUSED, heartbeat_at=None)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_jobs")
    name = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status, default=Status.QUEUED, db_index=True)

    device = models.CharField(max_length=8, choices=[("cpu", "CPU"), ("cuda", "GPU (CUDA)")], default="cpu")
    frame_stride = models.PositiveIntegerField(default=2, help_text="Look at every n-th frame")
    threshold = models.FloatField(
        null=True, blank=True, help_text="Cosine distance for a match; empty = the model's default"
    )
    tracking = models.BooleanField(default=True)
    proposals = models.CharField(max_length=12, choices=Proposals, default=Proposals.DETECTOR)
    vehicles = models.ManyToManyField(
        Vehicle, blank=True, related_name="search_jobs", help_text="None selected = all your vehicles"
    )

    progress = models.FloatField(default=0.0)
    eta_s = models.FloatField(null=True, blank=True)
    speed_fps = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    rq_job_id = models.CharField(max_length=100, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # Automatic resumes after a worker died (see searches/staleness.py); reset by a user's Resume.
    recoveries = models.PositiveIntegerField(default=0)
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return self.name or f"Search {self.pk}"

    def skip_unfinished_files(self) -> None:
        """A cancelled job: the files it had not finished are listed as skipped."""
        self.files.filter(status__in=[SearchFile.Status.PENDING, SearchFile.Status.RUNNING]).update(
            status=SearchFile.Status.SKIPPED, error="Cancelled"
        )

    @classmethod
    def running_under(cls, pk: int, rq_job_id: str):
        """The job while it runs under this RQ job: every write of a worker is guarded so, and
        lands nowhere once the job was paused, cancelled or re-queued."""
        return cls.objects.filter(pk=pk, status=cls.Status.RUNNING, rq_job_id=rq_job_id)

    def get_absolute_url(self):
        return reverse("searches:detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int:
        return percent(self.progress)


class SearchFile(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        SKIPPED = "skipped"

    class Kind(models.TextChoices):
        IMAGE = "image"
        VIDEO = "video"
        OTHER = "other"

    job = models.ForeignKey(SearchJob, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=job_file_upload_to, max_length=400, blank=True, db_index=True)
    # Bytes of the stored file, for the owner's storage quota (a re-run's rows share the file).
    stored_bytes = models.PositiveBigIntegerField(default=0, editable=False)
    original_name = models.CharField(max_length=400)
    kind = models.CharField(max_length=8, choices=Kind, default=Kind.OTHER)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    error = models.TextField(blank=True)
    progress = models.FloatField(default=0.0)
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(null=True, blank=True)
    resume_frame = models.PositiveIntegerField(default=0)
    # Vehicles the detector saw (a video: its tracks), so "no hits" can tell "no vehicle in view"
    # from "vehicles, but none of yours". Unknown (empty) for a video searched in several passes.
    vehicles_seen = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self):
        return self.original_name

    @property
    def progress_percent(self) -> int:
        return percent(self.progress)


class Hit(models.Model):
    job = models.ForeignKey(SearchJob, on_delete=models.CASCADE, related_name="hits")
    file = models.ForeignKey(SearchFile, on_delete=models.CASCADE, related_name="hits")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="hits")
    start_s = models.FloatField(default=0.0)
    end_s = models.FloatField(default=0.0)
    best_time_s = models.FloatField(default=0.0)
    best_frame = models.PositiveIntegerField(default=0)
    start_frame = models.PositiveIntegerField(default=0)
    end_frame = models.PositiveIntegerField(default=0)
    distance = models.FloatField()
    box = models.JSONField()
    thumbnail = models.FileField(upload_to=hit_thumb_upload_to, max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["file__position", "start_s", "pk"]
        constraints = [
            # A resumed or repeated pass over a file cannot store the same hit twice.
            models.UniqueConstraint(fields=["file", "vehicle", "start_frame"], name="hit_unique_per_file_start"),
        ]

    def __str__(self):
        return f"{self.vehicle} in {self.file} at {self.start_s:.1f}s"

    def get_absolute_url(self):
        return reverse("searches:hit", args=[self.job_id, self.pk])
