"""Safe extraction of uploaded zip archives.

An archive with a path that escapes the extraction root (../, absolute, drive letters) or a
symlink is rejected as a whole; nested archives are skipped. Against zip bombs: a member
compressed more than `max_ratio`:1 is skipped (images and videos barely compress), an archive
whose members unpack to more than `max_ratio` times the archive's own size is rejected (entries
that share compressed data, which no member's own ratio shows), and the files and bytes one
request may extract (`ExtractLimits`, shared by all its archives) are checked against the headers
before anything is extracted and against the real bytes while reading.
"""
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.template.defaultfilters import filesizeformat

CHUNK = 1024 * 1024
ARCHIVE_EXTENSIONS = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"}


class ZipRejected(Exception):
    """The whole archive is refused; the message is shown to the user."""


@dataclass
class ExtractLimits:
    """What one request may still store, counted down: files and bytes unpacked from its archives
    (all of them together), and what is left of the owner's storage quota (None: no quota)."""

    files: int
    bytes: int
    max_ratio: int = 100
    quota: int | None = None


@dataclass
class ZipEntry:
    name: str  # cleaned relative path inside the archive
    skip_reason: str = ""
    file: object = None  # a temporary file with the member's bytes, unless skipped
    size: int = 0  # its bytes


def clean_member_name(raw: str) -> str:
    """The member's relative path, or ZipRejected if it could escape the extraction root."""
    name = raw.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise ZipRejected(f"The archive contains an unsafe path ({raw!r}) and was not extracted.")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise ZipRejected(f"The archive contains an empty file name ({raw!r}).")
    return "/".join(parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def skip_reason(info: zipfile.ZipInfo, name: str, max_ratio: int) -> str:
    """Why a member is not extracted, or ''."""
    if PurePosixPath(name).suffix.lower() in ARCHIVE_EXTENSIONS:
        return "Archives inside archives are not extracted."
    if info.flag_bits & 0x1:
        return "Encrypted files are not supported."
    if info.file_size > max_ratio * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        return f"Compressed {ratio}:1, more than {max_ratio}:1 (a zip bomb?); not extracted."
    return ""


def check_archive(zf: zipfile.ZipFile, archive_bytes: int, limits: ExtractLimits) -> list[zipfile.ZipInfo]:
    """Validate every member header before anything is extracted; returns the file members."""
    members = [info for info in zf.infolist() if not info.is_dir()]
    if len(members) > limits.files:
        raise ZipRejected(f"The archive holds {len(members)} files; at most {limits.files} more are "
                          "allowed in this upload.")
    for info in members:
        clean_member_name(info.filename)
        if _is_symlink(info):
            raise ZipRejected(f"The archive contains a symbolic link ({info.filename!r}) and was not extracted.")
    unpacked = sum(info.file_size for info in members
                   if not skip_reason(info, clean_member_name(info.filename), limits.max_ratio))
    if unpacked > limits.max_ratio * max(archive_bytes, 1):
        raise ZipRejected(f"The archive would unpack to {filesizeformat(unpacked)} from "
                          f"{filesizeformat(archive_bytes)}, more than {limits.max_ratio}:1 (a zip bomb?); "
                          "not extracted.")
    if unpacked > limits.bytes:
        raise ZipRejected(f"The archive unpacks to {filesizeformat(unpacked)}; {filesizeformat(limits.bytes)} "
                          "more are allowed in this upload.")
    if limits.quota is not None and unpacked > limits.quota:
        raise ZipRejected(f"The archive unpacks to {filesizeformat(unpacked)}; your storage quota has "
                          f"{filesizeformat(limits.quota)} left. Delete old searches or photos to make room.")
    limits.files -= len(members)
    return members


def _size_of(fileobj) -> int:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


def iter_zip(fileobj, limits: ExtractLimits):
    """Yield a ZipEntry per member, counting what is extracted down from `limits`. Each entry's
    temp file is closed when the next is yielded."""
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ZipRejected(f"Not a readable zip archive: {exc}") from exc
    with zf:
        for info in check_archive(zf, _size_of(fileobj), limits):
            name = clean_member_name(info.filename)
            if reason := skip_reason(info, name, limits.max_ratio):
                yield ZipEntry(name, skip_reason=reason)
                continue
            with tempfile.TemporaryFile() as tmp:
                try:
                    _copy_member(zf, info, tmp, limits)
                except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                    yield ZipEntry(name, skip_reason=f"Could not extract: {exc}")
                    continue
                size = tmp.tell()
                tmp.seek(0)
                yield ZipEntry(name, file=tmp, size=size)


def _copy_member(zf, info, out, limits: ExtractLimits) -> None:
    """Copy one member, counting real bytes: headers may lie about sizes."""
    with zf.open(info) as src:
        while chunk := src.read(CHUNK):
            limits.bytes -= len(chunk)
            if limits.bytes < 0:
                raise ZipRejected("The archive unpacks to more data than allowed in this upload.")
            out.write(chunk)
