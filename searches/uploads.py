"""Turn uploaded files (single files, folders, zip archives) into a job's SearchFile rows.

Files are stored first, with no transaction open; `save_rows()` then inserts all the rows in one
short transaction. (On SQLite a transaction holds the database's only write lock: extracting a
big archive inside one made every other user's writes fail.) Used as a context manager, the
adder deletes the files it stored when the rows were not saved: an error, a rolled-back
transaction, a refused archive.

What one request may store is bounded by the per-upload caps on what archives unpack to
(VREID_ZIP_MAX_FILES, VREID_ZIP_MAX_MB) and by the user's storage quota (vreid_site.storage_quota).
"""
import logging
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files import File

from engine import api
from gallery.file_cleanup import remove
from searches.footage.upload import UploadFootage
from searches.models import SearchFile
from searches.zips import ExtractLimits, ZipRejected, iter_zip
from vreid_site.storage_quota import MB, quota_message

log = logging.getLogger(__name__)


def file_kind(name: str) -> str:
    ext = PurePosixPath(name).suffix.lower()
    if ext in api.IMAGE_EXTENSIONS:
        return SearchFile.Kind.IMAGE
    if ext in api.VIDEO_EXTENSIONS:
        return SearchFile.Kind.VIDEO
    return SearchFile.Kind.OTHER


class JobFileAdder:
    """Adds files to a new job in upload order. `quota_left`: bytes the owner may still store
    (None: no quota); `footage`: the upload's camera and start time, for the files' Footage rows.
    Used as a context manager: an error before the rows are committed (the transaction rolled
    back) deletes the files it stored."""

    def __init__(self, job, quota_left: int | None = None, footage: UploadFootage | None = None):
        self.job, self.rows, self.stored, self.footage = job, [], set(), footage
        self.limits = ExtractLimits(settings.VREID_ZIP_MAX_FILES, settings.VREID_ZIP_MAX_MB * MB,
                                    settings.VREID_ZIP_MAX_RATIO, quota_left)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard(self.rows)

    def add(self, name: str, fileobj=None, skip_reason: str = "", size: int = 0) -> SearchFile:
        """An unsaved row for one file, the file stored unless skipped (`size`: its bytes)."""
        kind = file_kind(name)
        quota = self.limits.quota
        if not skip_reason and kind == SearchFile.Kind.OTHER:
            skip_reason = "Not an image or video file this tool reads."
        if not skip_reason and quota is not None and size > quota:
            skip_reason = quota_message(size, quota)
        row = SearchFile(job=self.job, original_name=name[:400], kind=kind, position=len(self.rows))
        if not skip_reason:
            skip_reason = self._store(row, PurePosixPath(name).name, fileobj)
        if skip_reason:
            row.status, row.error = SearchFile.Status.SKIPPED, skip_reason
        self.rows.append(row)
        return row

    def _store(self, row, base_name: str, fileobj) -> str:
        """Store the file; '' or why it could not be stored (nothing is left behind then)."""
        field = row.file.field
        name = field.generate_filename(row, base_name)
        try:
            row.file.name = field.storage.save(name, File(fileobj, name=base_name), max_length=field.max_length)
        except OSError as exc:
            log.warning("storing %s: %s", name, exc)
            remove(field.storage, name)  # a partly written file, its folder
            row.file.name = ""
            return f"Could not be stored: {exc.strerror or exc}."
        self.stored.add(row.file.name)
        row.stored_bytes = row.file.size
        self._count(row.stored_bytes)
        if self.footage:
            self.footage.describe(row)
        return ""

    def _count(self, stored_bytes: int) -> None:
        if self.limits.quota is not None:
            self.limits.quota -= stored_bytes

    def add_upload(self, upload, name: str = "") -> list[SearchFile]:
        """`name`: what the page shows (a folder upload's relative path); default the file's name."""
        name = name or upload.name
        if PurePosixPath(upload.name).suffix.lower() != ".zip":
            return [self.add(name, upload, size=upload.size)]
        first = len(self.rows)
        try:
            for entry in iter_zip(upload, self.limits):
                self.add(f"{name}/{entry.name}", entry.file, entry.skip_reason, size=entry.size)
        except ZipRejected as exc:
            self.discard(self.rows[first:])  # an archive is taken whole or not at all
            del self.rows[first:]
            self.add(name, skip_reason=str(exc))
        if len(self.rows) == first:  # only folders, or nothing at all
            self.add(name, skip_reason="The archive holds no files.")
        return self.rows[first:]

    def default_name(self) -> str:
        """A job's name when its user gave none: its first file's."""
        more = f" + {len(self.rows) - 1} more" if len(self.rows) > 1 else ""
        return self.rows[0].original_name[:150] + more if self.rows else ""

    def discard(self, rows) -> None:
        """Delete the stored files of `rows` (not saved, or rolled back)."""
        for row in rows:
            if row.file.name in self.stored:
                remove(row.file.storage, row.file.name)
                self.stored.discard(row.file.name)
                self._count(-row.stored_bytes)

    def save_rows(self) -> None:
        """Insert the rows, inside the caller's short transaction."""
        for row in self.rows:
            row.job = self.job  # saved by now
        if self.footage:
            self.footage.save(self.rows)
        SearchFile.objects.bulk_create(self.rows, batch_size=500)

    def copy_from(self, source_job) -> None:
        """Re-run: rows for the new (saved) job that point at the same stored files."""
        rows = [
            SearchFile(
                job=self.job, original_name=old.original_name, kind=old.kind, position=position,
                duration_s=old.duration_s, fps=old.fps, width=old.width, height=old.height,
                frames_total=old.frames_total, file=old.file.name, stored_bytes=old.stored_bytes,
                footage_id=old.footage_id,  # the same file: the same camera, time and sightings
                **({} if old.file.name else {"status": SearchFile.Status.SKIPPED, "error": old.error}),
            )
            for position, old in enumerate(source_job.files.order_by("position", "pk"))
        ]
        SearchFile.objects.bulk_create(rows, batch_size=500)
