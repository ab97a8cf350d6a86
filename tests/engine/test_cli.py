"""`python -m engine` end to end, in process: register, search image/folder/video, eval-reid."""
import json
import shutil

import cv2
import numpy as np
import pytest

from engine.cli import main
from tests.engine.conftest import STREET_FRAMES
from tests.media import FIXTURES


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_register_then_find_it_in_a_folder(tmp_path, capsys):
    gallery = tmp_path / "gallery"
    code, out, _ = _run(capsys, "register", FIXTURES / "street_wagon.jpg", "--gallery", gallery,
                        "--label", "silver wagon")
    assert code == 0 and "registered 'silver wagon' as id 1" in out
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("street_wagon.jpg", "fruits.jpg", "car_rear.jpg"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "notes.mp4").write_text("not a video")
    code, out, err = _run(capsys, "search", folder, "--gallery", gallery, "--json")
    assert code == 0
    report = json.loads(out)
    found = {(h["label"], h["file"].rsplit("/", 1)[-1]) for h in report["hits"]}
    assert ("silver wagon", "street_wagon.jpg") in found
    assert not any(f == "fruits.jpg" for _, f in found)
    assert [e["file"].rsplit("/", 1)[-1] for e in report["errors"]] == ["notes.mp4"]


def test_video_search_prints_a_table(tmp_path, capsys, bikes, bikes_frames):
    frame_path = tmp_path / "frame150.png"
    cv2.imwrite(str(frame_path), bikes_frames[150])
    gallery = tmp_path / "g"
    assert _run(capsys, "register", frame_path, "--gallery", gallery, "--label", "dark car")[0] == 0
    code, out, _ = _run(capsys, "search", bikes, "--gallery", gallery, "--stride", "3")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("dark car")]
    assert rows, out
    start = rows[0].split()[3]  # label has a space: "dark", "car", file, from, to
    minutes, seconds = start.split(":")
    assert STREET_FRAMES[0] / 25 - 0.5 <= float(seconds) <= 154 / 25
    # Short segments: the car comes in pieces, and the table joins them into the same rows.
    code, out, _ = _run(capsys, "search", bikes, "--gallery", gallery, "--stride", "3", "--segment-s", "0.5")
    pieces = [line for line in out.splitlines() if line.startswith("dark car")]
    assert code == 0 and len(pieces) == len(rows) and pieces[0].split()[3] == start
    # Fixed-camera gating: the same rows.
    code, out, _ = _run(capsys, "search", bikes, "--gallery", gallery, "--stride", "3", "--camera", "fixed")
    assert code == 0 and [line for line in out.splitlines() if line.startswith("dark car")] == rows
    code, _, err = _run(capsys, "search", bikes, "--gallery", gallery, "--segment-s", "0")
    assert code == 2 and "segment_s must be more than 0" in err


def test_errors_are_messages_not_tracebacks(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    gallery = tmp_path / "g"
    code, _, err = _run(capsys, "register", FIXTURES / "fruits.jpg", "--gallery", gallery, "--label", "x")
    assert code == 2 and "no vehicle found" in err
    code, _, err = _run(capsys, "register", FIXTURES / "car_rear.jpg", "--gallery", gallery, "--label", "x")
    assert code == 0
    code, _, err = _run(capsys, "search", empty, "--gallery", gallery)
    assert code == 2 and "holds no images or videos" in err
    code, _, err = _run(capsys, "search", empty, "--gallery", tmp_path / "missing")
    assert code == 2 and "error:" in err


def test_eval_reid_on_a_tiny_layout(tmp_path, capsys):
    """Two vehicles, two cameras; plain colours make the embedding easy: rank-1 must be 1."""
    colours = {1: (0, 0, 255), 2: (255, 0, 0)}
    for folder, cams in (("image_query", (1,)), ("image_test", (1, 2))):
        (tmp_path / folder).mkdir()
        for vid, colour in colours.items():
            for cam in cams:
                img = np.full((64, 96, 3), colour, np.uint8)
                cv2.imwrite(str(tmp_path / folder / f"{vid:04d}_c{cam:03d}_0001.jpg"), img)
    code, out, _ = _run(capsys, "eval-reid", tmp_path, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["mAP"] == pytest.approx(1.0)
    assert result["cmc"]["1"] == pytest.approx(1.0)


def test_register_without_a_detected_vehicle_takes_a_box_or_the_whole_image(tmp_path, capsys):
    gallery = tmp_path / "g"
    code, _, err = _run(capsys, "register", FIXTURES / "fruits.jpg", "--gallery", gallery, "--label", "x")
    assert code == 2 and "--box x1,y1,x2,y2" in err and "--whole" in err
    code, out, _ = _run(capsys, "register", FIXTURES / "fruits.jpg", "--gallery", gallery, "--label", "bowl",
                        "--box", "100,100,300,250")
    assert code == 0 and "registered 'bowl' as id 1 (box 100,100,300,250)" in out
    code, out, _ = _run(capsys, "register", FIXTURES / "car_rear.jpg", "--gallery", gallery, "--label", "rear",
                        "--whole")
    assert code == 0 and "as id 2 (box 0,0,600,482)" in out
    code, _, err = _run(capsys, "register", FIXTURES / "fruits.jpg", "--gallery", gallery, "--label", "y",
                        "--box", "10,10,12,300")
    assert code == 2 and "too small or outside" in err
