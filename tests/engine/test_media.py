"""Bad input gives a clear MediaError naming the file, never a crash or a hang."""
import struct
import zlib

import cv2
import numpy as np
import pytest

from engine import api
from engine.media import iter_frames


def _png_claiming(path, width, height):
    """A valid 1x1 PNG whose header is rewritten to claim width x height pixels."""
    ok, buf = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))
    data = bytearray(buf.tobytes())
    ihdr = 8 + 8  # signature, then length + "IHDR"
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13]))
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def test_probe_tells_image_from_video(bikes, tmp_path):
    image = tmp_path / "car.jpg"
    cv2.imwrite(str(image), np.full((60, 80, 3), 128, np.uint8))
    assert api.probe(image).kind == "image"
    info = api.probe(bikes)
    assert (info.kind, info.width, info.height, info.frame_count) == ("video", 640, 272, 250)


@pytest.mark.parametrize("name, content, message", [
    ("empty.jpg", b"", "empty"),
    ("notes.mp4", b"this is a text file, not a video\n" * 20, "not a supported"),
    ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50, "not a readable image"),
])
def test_bad_files_raise_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(api.MediaError, match=message) as info:
        api.probe(path)
    assert name in str(info.value)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = _png_claiming(tmp_path / "bomb.png", 50_000, 50_000)
    with pytest.raises(api.MediaError, match="over the limit"):
        api.read_image(bomb)
    with pytest.raises(api.MediaError, match="bomb.png"):
        api.probe(bomb)


def test_truncated_image_is_reported(tmp_path):
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8))
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.tobytes()[: len(buf) // 3])
    with pytest.raises(api.MediaError, match="cut.jpg"):
        api.read_image(path)


def test_truncated_video_yields_what_it_has(bikes, tmp_path):
    data = bikes.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        frames = sum(1 for _ in iter_frames(cut))
    except api.MediaError as exc:  # some builds refuse a file without its index at once
        assert "cut.mp4" in str(exc)
    else:
        assert frames < 250


def test_missing_file(tmp_path):
    with pytest.raises(api.MediaError, match="not found"):
        api.probe(tmp_path / "nope.mp4")


def test_read_frame_returns_the_frame_the_pipeline_saw(bikes):
    seen = {index: frame.copy() for index, _, frame in iter_frames(bikes) if index in (0, 150, 249)}
    assert len(seen) == 3
    for index, frame in seen.items():
        assert np.array_equal(api.read_frame(bikes, index), frame)
    with pytest.raises(api.MediaError, match="no frame 5000"):
        api.read_frame(bikes, 5000)
