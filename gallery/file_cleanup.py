"""Delete stored files once no row points at them, after the transaction that deleted the rows.

The post_delete signals run inside the transaction that deletes the rows. On SQLite a transaction
holds the database's only write lock, and checking and deleting thousands of files there (a
search with 4000 files) kept every other user's writes waiting until they failed. So the signals
only note the names; once the transaction has committed, the names are checked in batches (one
query per batch and table) and the files that no row uses any more are deleted. A rolled-back
delete leaves its rows, so the check keeps their files.
"""
import logging
import re
import threading
from collections import defaultdict
from pathlib import Path, PurePosixPath

from django.db import transaction

log = logging.getLogger(__name__)
BATCH = 500
PER_FILE_FOLDER = re.compile(r"[0-9a-f]{32}")  # searches.models.job_file_upload_to: one folder per file
_local = threading.local()


def delete_when_unused(fieldfile, *used_by) -> None:
    """Delete `fieldfile`'s stored file after the current transaction commits (at once outside
    one), unless a row of one of the `used_by` (model, field name) pairs still points at it."""
    if not fieldfile.name:
        return
    _queue().append((fieldfile.storage, fieldfile.name, tuple(used_by)))
    transaction.on_commit(flush)  # the first to run takes the whole queue; the others find it empty


def _queue() -> list:
    if not hasattr(_local, "queue"):
        _local.queue = []
    return _local.queue


def flush() -> None:
    queue, _local.queue = _queue(), []
    names = defaultdict(dict)  # (storage, used_by) -> names, in order, once each
    for storage, name, used_by in queue:
        names[storage, used_by][name] = None
    for (storage, used_by), group in names.items():
        group = list(group)
        for start in range(0, len(group), BATCH):
            batch = group[start:start + BATCH]
            used = set()
            for model, field in used_by:
                used.update(model.objects.filter(**{f"{field}__in": batch}).values_list(field, flat=True))
            for name in batch:
                if name not in used:
                    remove(storage, name)


def remove(storage, name: str) -> None:
    """Delete a stored file, and the folder that was made for it alone (job uploads)."""
    try:
        storage.delete(name)
    except OSError as exc:  # a name the file system refused (too long) was never written
        log.debug("deleting %s: %s", name, exc)
    folder = PurePosixPath(name).parent
    if PER_FILE_FOLDER.fullmatch(folder.name):
        try:
            Path(storage.path(str(folder))).rmdir()
        except (NotImplementedError, OSError):  # no local folders, or not empty
            pass
