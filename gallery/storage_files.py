"""Helpers to hand stored media to the engine, which needs local file paths."""
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import PurePath

from django.core.files.base import ContentFile


@contextmanager
def local_path(fieldfile):
    """A local filesystem path for a stored file; copies remote storage to a temp file."""
    try:
        yield fieldfile.storage.path(fieldfile.name)
        return
    except NotImplementedError:
        pass
    suffix = PurePath(fieldfile.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as tmp:
        with fieldfile.storage.open(fieldfile.name, "rb") as src:
            shutil.copyfileobj(src, tmp, 1024 * 1024)
    try:
        yield tmp.name
    finally:
        os.unlink(tmp.name)


def jpeg_file(data: bytes, name: str = "image.jpg") -> ContentFile:
    return ContentFile(data, name=name)


def user_message(exc: Exception, stored_name: str, original_name: str) -> str:
    """An engine error message naming the user's file, not the storage's internal name."""
    message = str(exc)
    stored = PurePath(stored_name).name
    return message.replace(stored, PurePath(original_name).name) if stored else message
