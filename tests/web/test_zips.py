"""Safe zip extraction: traversal, absolute paths, symlinks, nested archives, size and count caps,
the compression ratio of every member and of the archive as a whole."""
import copy
import io
import os
import zipfile

import pytest

from searches.zips import ExtractLimits, ZipRejected, clean_member_name, iter_zip
from tests.web.conftest import zip_bytes

MB = 1024 * 1024


def make_zip(members: dict, symlinks=()) -> io.BytesIO:
    return io.BytesIO(zip_bytes(members.items(), symlinks=symlinks))


def extract(buf, max_files=100, max_bytes=10 * MB, limits=None):
    limits = limits or ExtractLimits(max_files, max_bytes)
    return [(e.name, e.skip_reason, e.file.read() if e.file else None) for e in iter_zip(buf, limits)]


def test_plain_archive_extracts_relative_paths():
    entries = extract(make_zip({"a.jpg": b"A", "dir/b.mp4": b"B", "./c.png": b"C"}))
    assert entries == [("a.jpg", "", b"A"), ("dir/b.mp4", "", b"B"), ("c.png", "", b"C")]


@pytest.mark.parametrize("name", ["../evil.jpg", "a/../../evil.jpg", "/etc/passwd", "C:/x.jpg", "..\\evil.jpg"])
def test_unsafe_paths_reject_the_archive(name):
    with pytest.raises(ZipRejected, match="unsafe path"):
        extract(make_zip({"ok.jpg": b"x", name: b"y"}))


@pytest.mark.parametrize("name", ["ok.jpg", "a/b/c.mp4", "./x.png"])
def test_clean_names_pass(name):
    assert ".." not in clean_member_name(name)


def test_symlink_rejects_the_archive():
    with pytest.raises(ZipRejected, match="symbolic link"):
        extract(make_zip({"ok.jpg": b"x"}, symlinks=[("link.jpg", "/etc/passwd")]))


def test_nested_archives_are_skipped():
    inner = make_zip({"x.jpg": b"x"}).getvalue()
    entries = extract(make_zip({"inner.zip": inner, "a.jpg": b"A"}))
    assert entries[0][0] == "inner.zip" and "not extracted" in entries[0][1] and entries[0][2] is None
    assert entries[1] == ("a.jpg", "", b"A")


def test_too_many_files():
    with pytest.raises(ZipRejected, match="at most 3 more"):
        extract(make_zip({f"{i}.jpg": b"x" for i in range(4)}), max_files=3)


def test_uncompressed_size_cap_catches_a_zip_bomb():
    bomb = make_zip({"zeros.mp4": b"\0" * (3 * MB)})
    assert len(bomb.getvalue()) < 50_000  # compresses to almost nothing
    with pytest.raises(ZipRejected, match="1.0\xa0MB more are allowed"):
        extract(bomb, max_bytes=1 * MB, limits=ExtractLimits(100, 1 * MB, max_ratio=10**6))


def test_not_a_zip():
    with pytest.raises(ZipRejected, match="Not a readable zip"):
        extract(io.BytesIO(b"this is not a zip"))


def test_high_ratio_member_is_skipped_and_the_rest_extracted():
    archive = make_zip({"zeros.mp4": b"\0" * (2 * MB), "a.jpg": b"A" * 100, "small.txt": b"\0" * 1000})
    entries = extract(archive, max_bytes=10 * MB)
    assert entries[0][0] == "zeros.mp4" and "zip bomb" in entries[0][1] and entries[0][2] is None
    assert entries[1] == ("a.jpg", "", b"A" * 100)
    assert entries[2][1] == ""  # 1000 zeros compress to less than 100:1


def test_every_member_s_ratio_is_checked_however_small():
    """2000 members of 1 MiB of zeros (2.25 MB) wrote 2 GB: members up to 1 MiB were exempt."""
    bomb = make_zip({f"{i}.mp4": b"\0" * MB for i in range(50)})
    assert len(bomb.getvalue()) < 100_000
    entries = extract(bomb, max_bytes=100 * MB)
    assert len(entries) == 50 and all("zip bomb" in reason and data is None for _, reason, data in entries)


def test_an_archive_that_unpacks_to_more_than_the_ratio_times_its_size_is_rejected():
    """Entries sharing one member's compressed data (an overlapping zip bomb): each entry's own
    ratio looks harmless, the archive as a whole unpacks to far more than the ratio allows."""
    buf = io.BytesIO()
    data = os.urandom(20_000) * 5  # 100 kB that compress about 5:1
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("clip.mp4", data)
        for _ in range(200):  # directory entries only, same name: the data is stored once
            zf.filelist.append(copy.copy(zf.filelist[0]))
    buf.seek(0)
    with pytest.raises(ZipRejected) as rejected:
        extract(buf, max_files=1000, max_bytes=100 * MB, limits=ExtractLimits(1000, 100 * MB, max_ratio=100))
    assert "zip bomb" in str(rejected.value) or "Overlapped entries" in str(rejected.value)  # Python ≥ 3.11.8 refuses it itself
