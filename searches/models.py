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
    """A search and its life: its status changes only through searches.lifecycle."""

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
    # What a user's request needs of the job: searches.lifecycle guards its UPDATE with these
    # lookups, and the pages offer a button only where allows() says the UPDATE would happen.
    # A job with a heartbeat is held by a worker (running, or still stopping after a pause).
    GUARDS = {
        "pause": {"status__in": (Status.QUEUED, Status.RUNNING)},
        "resume": {"status__in": (Status.PAUSED, Status.FAILED), "heartbeat_at": None},
        "cancel": {"status__in": (Status.QUEUED, Status.RUNNING, Status.PAUSED)},
        "delete": {"status__in": (Status.PAUSED, *FINISHED), "heartbeat_at": None},
    }
    DEVICES = [("cpu", "CPU"), ("cuda", "GPU (CUDA)")]
    # No worker holds it: finished, or paused and stopped. Deleting any other job would pull the
    # rows from under a worker (see JobDeleteView and the admin).
    DELETABLE = models.Q(status__in=FINISHED) | models.Q(status=Status.PAUSED, heartbeat_at=None)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_jobs")
    name = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status, default=Status.QUEUED, db_index=True)

    device = models.CharField(max_length=8, choices=DEVICES, default="cpu")
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
    # Frames per second: the current pass's while running, the whole search's once done.
    speed_fps = models.FloatField(null=True, blank=True)
    elapsed_s = models.FloatField(default=0.0, help_text="Seconds spent searching (not queued or paused)")
    error = models.TextField(blank=True, help_text="Why the search failed")
    notice = models.TextField(blank=True, help_text="What the search is doing or did (preparing, resumed, unreadable files)")
    # The device the worker really ran on, and why it is not the one asked for.
    ran_on = models.CharField(max_length=8, choices=DEVICES, blank=True)
    device_fallback = models.TextField(blank=True)
    # The models the search ran with, by role ({"detector": ..., "embedder": ..., "attributes": ...}).
    models_used = models.JSONField(default=dict, blank=True)
    class Camera(models.TextChoices):
        MOVING = "moving", "Moving camera / every frame"
        FIXED = "fixed", "Fixed camera (fast: the detector runs where something moves)"

    camera = models.CharField(
        max_length=8, choices=Camera, default=Camera.MOVING,
        help_text="Fixed: the detector runs where something moves, follows moving vehicles five times "
                  "a second, and looks at a still scene now and then; every frame while the camera "
                  "moves or after a cut.")
    # Colour and type must agree with the registered vehicle's (engine.matching).
    match_attributes = models.BooleanField(
        default=True, verbose_name="Colour and type must agree",
        help_text="Refuse a look-alike whose colour or type confidently differs from the registered vehicle's")
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

    @classmethod
    def running_under(cls, pk: int, rq_job_id: str):
        """The job while it runs under this RQ job: every write of a worker is guarded so, and
        lands nowhere once the job was paused, cancelled or re-queued."""
        return cls.objects.filter(pk=pk, status=cls.Status.RUNNING, rq_job_id=rq_job_id)

    def get_absolute_url(self):
        return reverse("searches:detail", args=[self.pk])

    def allows(self, action: str) -> bool:
        """Whether this row, as loaded, meets the guard of `action` (see GUARDS)."""
        for lookup, wanted in self.GUARDS[action].items():
            field, _, operator = lookup.partition("__")
            value = getattr(self, field)
            if not (value in wanted if operator == "in" else value == wanted):
                return False
        return True

    can_pause = property(lambda self: self.allows("pause"))
    can_resume = property(lambda self: self.allows("resume"))
    can_cancel = property(lambda self: self.allows("cancel"))
    can_delete = property(lambda self: self.allows("delete"))

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_settled(self) -> bool:
        """Nothing will change it until its user acts: no worker holds it and none is to take it."""
        return self.status not in (self.Status.QUEUED, self.Status.RUNNING) and self.heartbeat_at is None

    @property
    def is_stopping(self) -> bool:
        """Paused or cancelled, and its worker has not let go yet."""
        return not self.is_settled and self.status not in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress_percent(self) -> int:
        return percent(self.progress)

    @property
    def fell_back(self) -> bool:
        return bool(self.ran_on) and self.ran_on != self.device


class SearchFile(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        SKIPPED = "skipped"  # not searched: not an image or video, or refused (error says why)
        CANCELLED = "cancelled"  # its search was cancelled before it was done

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
    # Of the analysed frames (this pass): the detector ran on these, the motion gate skipped those.
    frames_detected = models.PositiveIntegerField(default=0)
    frames_skipped = models.PositiveIntegerField(default=0)
    resume_frame = models.PositiveIntegerField(default=0)
    # Vehicles the detector saw (a video: its tracks), so "no hits" can tell "no vehicle in view"
    # from "vehicles, but none of yours". Unknown (empty) for a video searched in several passes.
    vehicles_seen = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    elapsed_s = models.FloatField(default=0.0, help_text="Seconds spent searching this file, all passes")
    speed_fps = models.FloatField(null=True, blank=True, help_text="Frames per second of its latest pass")
    # Where its answers came from: this search processed it (indexing it), or the footage index
    # answered (searches.footage); source_note says why, for the page.
    class Source(models.TextChoices):
        PROCESSED = "processed", "Processed"
        INDEX = "index", "Footage index"

    footage = models.ForeignKey("searches.Footage", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="search_files")
    source = models.CharField(max_length=10, choices=Source, blank=True)
    source_note = models.CharField(max_length=300, blank=True)

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
    # Its user said it is the vehicle and its frame became a photo of it (searches.review).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The matched track's vector and colour/type: a rejected hit becomes a negative example.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedder = models.CharField(max_length=200, blank=True, editable=False)
    attributes = models.JSONField(null=True, blank=True)

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

    # Wall-clock times, where the file's recording start is known (select_related file__footage).
    @property
    def start_at(self):
        return self.file.footage.seconds_at(self.start_s) if self.file.footage_id else None

    @property
    def end_at(self):
        return self.file.footage.seconds_at(self.end_s) if self.file.footage_id else None


class NearMiss(models.Model):
    """A candidate within the threshold of a vehicle that the matching rules refused (colour or
    type disagrees, or closer to a rejected look-alike): kept so that staff can see why."""

    job = models.ForeignKey(SearchJob, on_delete=models.CASCADE, related_name="near_misses")
    file = models.ForeignKey(SearchFile, on_delete=models.CASCADE, related_name="near_misses")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="near_misses")
    distance = models.FloatField()
    reason = models.CharField(max_length=300)
    time_s = models.FloatField(default=0.0)
    frame = models.PositiveIntegerField(default=0)
    box = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "file__position", "time_s", "pk"]
        verbose_name_plural = "near misses"

    def __str__(self):
        return f"{self.vehicle} refused in {self.file} at {self.time_s:.1f}s"


from searches.footage.models import Camera, Footage, Sighting  # noqa: E402,F401  (models of this app)
