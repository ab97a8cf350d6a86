"""Safe zip extraction: traversal, absolute paths, symlinks, nested archives, size and count caps."""
import io

import pytest

from searches.zips import ZipRejected, clean_member_name, iter_zip
from tests.web.conftest import zip_bytes

MB = 1024 * 1024


def make_zip(members: dict, symlinks=()) -> io.BytesIO:
    return io.BytesIO(zip_bytes(members.items(), symlinks=symlinks))


def extract(buf, max_files=100, max_bytes=10 * MB):
    return [(e.name, e.skip_reason, e.file.read() if e.file else None) for e in iter_zip(buf, max_files, max_bytes)]


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
    with pytest.raises(ZipRejected, match="at most 3"):
        extract(make_zip({f"{i}.jpg": b"x" for i in range(4)}), max_files=3)


def test_uncompressed_size_cap_catches_a_zip_bomb():
    bomb = make_zip({"zeros.mp4": b"\0" * (3 * MB)})
    assert len(bomb.getvalue()) < 50_000  # compresses to almost nothing
    with pytest.raises(ZipRejected, match="at most 1 MB"):
        extract(bomb, max_bytes=1 * MB)


def test_not_a_zip():
    with pytest.raises(ZipRejected, match="Not a readable zip"):
        extract(io.BytesIO(b"this is not a zip"))


def test_high_ratio_member_is_skipped_and_the_rest_extracted():
    archive = make_zip({"zeros.mp4": b"\0" * (2 * MB), "a.jpg": b"A" * 100, "small.txt": b"\0" * 1000})
    entries = extract(archive, max_bytes=10 * MB)
    assert entries[0][0] == "zeros.mp4" and "zip bomb" in entries[0][1] and entries[0][2] is None
    assert entries[1] == ("a.jpg", "", b"A" * 100)
    assert entries[2][1] == ""  # small members may compress well
