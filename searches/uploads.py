"""Turn uploaded files (single files, folders, zip archives) into a job's SearchFile rows."""
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files import File

from engine import api
from searches.models import SearchFile
from searches.zips import ZipRejected, iter_zip


def file_kind(name: str) -> str:
    ext = PurePosixPath(name).suffix.lower()
    if ext in api.IMAGE_EXTENSIONS:
        return SearchFile.Kind.IMAGE
    if ext in api.VIDEO_EXTENSIONS:
        return SearchFile.Kind.VIDEO
    return SearchFile.Kind.OTHER


class JobFileAdder:
    """Adds files to a job in upload order."""

    def __init__(self, job):
        self.job = job
        self.position = job.files.count()

    def add(self, name: str, fileobj=None, skip_reason: str = "") -> SearchFile:
        kind = file_kind(name)
        if not skip_reason and kind == SearchFile.Kind.OTHER:
            skip_reason = "Not an image or video file this tool reads."
        row = SearchFile(job=self.job, original_name=name[:400], kind=kind, position=self.position)
        self.position += 1
        if skip_reason:
            row.status, row.error = SearchFile.Status.SKIPPED, skip_reason
        else:
            row.file.save(PurePosixPath(name).name, File(fileobj, name=PurePosixPath(name).name), save=False)
        row.save()
        return row

    def add_upload(self, upload, name: str = "") -> list[SearchFile]:
        """`name`: what the page shows (a folder upload's relative path); default the file's name."""
        name = name or upload.name
        if PurePosixPath(upload.name).suffix.lower() != ".zip":
            return [self.add(name, upload)]
        rows = []
        try:
            for entry in iter_zip(
                upload, settings.VREID_ZIP_MAX_FILES, settings.VREID_ZIP_MAX_MB * 1024 * 1024,
                settings.VREID_ZIP_MAX_RATIO,
            ):
                rows.append(self.add(f"{name}/{entry.name}", entry.file, entry.skip_reason))
        except ZipRejected as exc:
            for row in rows:  # an archive is taken whole or not at all
                row.delete()
            rows = [self.add(name, skip_reason=str(exc))]
        if not rows:  # only folders, or nothing at all
            rows = [self.add(name, skip_reason="The archive holds no files.")]
        return rows

    def copy_from(self, source_job) -> None:
        """Re-run: the new job points at the same stored files."""
        for old in source_job.files.order_by("position", "pk"):
            row = SearchFile(
                job=self.job, original_name=old.original_name, kind=old.kind, position=self.position,
                duration_s=old.duration_s, fps=old.fps, width=old.width, height=old.height,
                frames_total=old.frames_total,
            )
            row.file.name = old.file.name
            if not old.file.name:
                row.status, row.error = SearchFile.Status.SKIPPED, old.error
            self.position += 1
            row.save()
