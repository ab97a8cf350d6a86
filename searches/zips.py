"""Safe extraction of uploaded zip archives.

An archive with a path that escapes the extraction root (../, absolute, drive letters) or a
symlink is rejected as a whole; nested archives are skipped; the number of files and the total
uncompressed size are capped (checked against the header and while reading, against zip bombs),
and a member compressed more than `max_ratio`:1 is skipped (images and videos barely compress).
"""
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

CHUNK = 1024 * 1024
ARCHIVE_EXTENSIONS = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"}
RATIO_MIN_BYTES = 1024 * 1024  # small members may compress well (headers, blank images)


class ZipRejected(Exception):
    """The whole archive is refused; the message is shown to the user."""


@dataclass
class ZipEntry:
    name: str  # cleaned relative path inside the archive
    skip_reason: str = ""
    file: object = None  # a temporary file with the member's bytes, unless skipped


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


def check_archive(zf: zipfile.ZipFile, max_files: int, max_bytes: int) -> list[zipfile.ZipInfo]:
    """Validate every member header before anything is extracted; returns the file members."""
    members = [info for info in zf.infolist() if not info.is_dir()]
    if len(members) > max_files:
        raise ZipRejected(f"The archive holds {len(members)} files; at most {max_files} are allowed.")
    total = 0
    for info in members:
        clean_member_name(info.filename)
        if _is_symlink(info):
            raise ZipRejected(f"The archive contains a symbolic link ({info.filename!r}) and was not extracted.")
        total += info.file_size
    if total > max_bytes:
        raise ZipRejected(f"The archive unpacks to {total // 2**20} MB; at most {max_bytes // 2**20} MB are allowed.")
    return members


def iter_zip(fileobj, max_files: int, max_bytes: int, max_ratio: int = 100):
    """Yield a ZipEntry per member. Each entry's temp file is closed when the next is yielded."""
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ZipRejected(f"Not a readable zip archive: {exc}") from exc
    with zf:
        members = check_archive(zf, max_files, max_bytes)
        budget = max_bytes
        for info in members:
            name = clean_member_name(info.filename)
            if PurePosixPath(name).suffix.lower() in ARCHIVE_EXTENSIONS:
                yield ZipEntry(name, skip_reason="Archives inside archives are not extracted.")
                continue
            if info.flag_bits & 0x1:
                yield ZipEntry(name, skip_reason="Encrypted files are not supported.")
                continue
            if info.file_size > RATIO_MIN_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
                ratio = info.file_size // max(info.compress_size, 1)
                yield ZipEntry(name, skip_reason=(
                    f"Compressed {ratio}:1, more than {max_ratio}:1 (a zip bomb?); not extracted."))
                continue
            with tempfile.TemporaryFile() as tmp:
                try:
                    budget = _copy_member(zf, info, tmp, budget)
                except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                    yield ZipEntry(name, skip_reason=f"Could not extract: {exc}")
                    continue
                tmp.seek(0)
                yield ZipEntry(name, file=tmp)


def _copy_member(zf, info, out, budget: int) -> int:
    """Copy one member, counting real bytes: headers may lie about sizes."""
    with zf.open(info) as src:
        while chunk := src.read(CHUNK):
            budget -= len(chunk)
            if budget < 0:
                raise ZipRejected("The archive unpacks to more data than allowed.")
            out.write(chunk)
    return budget
