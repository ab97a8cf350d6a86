"""mAP / CMC on hand-checked cases: 2-D unit vectors at chosen angles, so the ranking of a
query is the order of angle differences and every value can be worked out by hand."""
import cv2
import numpy as np
import pytest

from engine.errors import EngineError
from engine.reid_eval import evaluate, evaluate_folder, evaluate_split, parse_name, two_camera_split

# Gallery: (vehicle id, camera, angle in degrees)
GALLERY = [(1, 1, 0), (1, 2, 30), (2, 2, 10), (2, 1, 60), (1, 3, 80), (3, 1, 45)]
#           g0         g1          g2          g3          g4          g5
QUERIES = [(1, 1, 0), (2, 2, 50), (3, 1, 45), (2, 3, 12)]
#           q0         q1          q2          q3
# q0 (id 1, cam 1): by angle g0 g2 g1 g5 g3 g4; g0 is id 1 on cam 1, removed.
#    Kept: g2 g1* g5 g3 g4* -> matches at ranks 2, 5: AP = (1/2 + 2/5) / 2 = 0.45
# q1 (id 2, cam 2): by angle g5 g3 g1 g4 g2 g0; g2 is id 2 on cam 2, removed.
#    Kept: g5 g3* g1 g4 g0 -> match at rank 2: AP = 1/2
# q2 (id 3, cam 1): its only match g5 is on cam 1, removed -> no true match, skipped.
# q3 (id 2, cam 3): by angle g2* g0 g1 g5 g3* g4, nothing removed.
#    Matches at ranks 1, 5: AP = (1/1 + 2/5) / 2 = 0.7
# mAP = (0.45 + 0.5 + 0.7) / 3 = 0.55; first matches at ranks 2, 2, 1:
# CMC@1 = 1/3, CMC@5 = CMC@10 = 1.
EXPECTED = {"mAP": 0.55, "cmc": {1: 1 / 3, 5: 1.0, 10: 1.0}, "queries": 3, "skipped_queries": 1}


def unit(deg):
    return np.stack([np.cos(np.radians(deg)), np.sin(np.radians(deg))], axis=1)


def columns(rows):
    ids, cams, deg = (np.array(c) for c in zip(*rows))
    return unit(deg), ids, cams


def check(result, expected):
    assert result["mAP"] == pytest.approx(expected["mAP"])
    assert result["cmc"] == pytest.approx(expected["cmc"])
    assert (result["queries"], result["skipped_queries"]) == (
        expected["queries"], expected["skipped_queries"])


def test_hand_computed_map_and_cmc():
    qv, qi, qc = columns(QUERIES)
    gv, gi, gc = columns(GALLERY)
    check(evaluate(qv, qi, qc, gv, gi, gc), EXPECTED)
    # Lengths do not matter: vectors are L2-normalised first.
    check(evaluate(qv * 5, qi, qc, gv * 0.1, gi, gc), EXPECTED)


def test_same_camera_exclusion_changes_the_answer():
    # q0 on a camera no gallery image shares: g0 (identical vector) now counts.
    # Ranking g0* g2 g1* g5 g3 g4*: AP = (1/1 + 2/3 + 3/6) / 3 = 13/18, rank-1 hit.
    gv, gi, gc = columns(GALLERY)
    out = evaluate(unit([0]), [1], [9], gv, gi, gc, ranks=(1, 5))
    check(out, {"mAP": 13 / 18, "cmc": {1: 1.0, 5: 1.0}, "queries": 1, "skipped_queries": 0})
    out = evaluate(unit([0]), [1], [1], gv, gi, gc, ranks=(1, 5))
    check(out, {"mAP": 0.45, "cmc": {1: 0.0, 5: 1.0}, "queries": 1, "skipped_queries": 0})


def test_parse_name():
    assert parse_name("0002_c002_00030600_0.jpg") == (2, 2)
    assert parse_name("/x/image_test/0776_c020_00012345_1.jpg") == (776, 20)
    with pytest.raises(ValueError):
        parse_name("car.jpg")


def write_layout(root, query_rows, gallery_rows):
    """Uniform images whose mean colour (B, G) = 200 * (cos, sin) of the row's angle."""
    for sub, rows in (("image_query", query_rows), ("image_test", gallery_rows)):
        (root / sub).mkdir(parents=True)
        for n, (vid, cam, deg) in enumerate(rows):
            colour = (200 * np.cos(np.radians(deg)), 200 * np.sin(np.radians(deg)), 0)
            img = np.full((24, 48, 3), np.round(colour), np.uint8)
            cv2.imwrite(str(root / sub / f"{vid:04d}_c{cam:03d}_{n:08d}_0.jpg"), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 100])


def mean_colour(images):
    return np.array([img.reshape(-1, 3).mean(axis=0) for img in images])


def test_folder_matches_hand_values(tmp_path):
    write_layout(tmp_path, QUERIES, GALLERY)
    (tmp_path / "image_test" / "0009_c001_broken_0.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "image_test" / "notes.jpg").write_bytes(b"")  # name does not parse
    (tmp_path / "image_test" / "list.txt").write_text("ignored: not an image")
    calls = []
    out = evaluate_folder(tmp_path, mean_colour, batch_size=4,
                          progress=lambda done, total: calls.append((done, total)))
    check(out, EXPECTED)
    assert (out["query_images"], out["gallery_images"]) == (4, 6)
    assert (out["unreadable"], out["unparsable"]) == (1, 1)
    assert calls[-1] == (11, 11)  # 4 query + 7 parsable gallery files


def test_folder_errors(tmp_path):
    with pytest.raises(EngineError, match="not found"):
        evaluate_folder(tmp_path / "missing", mean_colour)
    with pytest.raises(EngineError, match="image_query"):
        evaluate_folder(tmp_path, mean_colour)
    (tmp_path / "image_query").mkdir()
    (tmp_path / "image_test").mkdir()
    (tmp_path / "image_query" / "car.jpg").write_bytes(b"")
    with pytest.raises(EngineError, match="no images named"):
        evaluate_folder(tmp_path, mean_colour)


def write_two_camera(root, rows, split_name):
    """Two-camera layout: uniform images coloured by angle (as write_layout), a split file
    listing them in the given order."""
    folder = root / "images" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for name, deg in rows:
        colour = (200 * np.cos(np.radians(deg)), 200 * np.sin(np.radians(deg)), 0)
        cv2.imwrite(str(folder / name), np.full((24, 48, 3), np.round(colour), np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 100])
    (root / split_name).write_text("\n".join(name for name, _ in rows))  # no final newline


def test_two_camera_split_reader(tmp_path):
    write_two_camera(tmp_path, [("car_0007_cam2.jpg", 0), ("motorcycle_0012_cam1.jpg", 0)],
                     "val.txt")
    img = tmp_path / "images" / "train"
    expected = [(img / "car_0007_cam2.jpg", "car_0007", 2),
                (img / "motorcycle_0012_cam1.jpg", "motorcycle_0012", 1)]
    assert two_camera_split(tmp_path, "val.txt") == expected
    assert two_camera_split(tmp_path, tmp_path / "val.txt") == expected
    with pytest.raises(EngineError, match="not found"):
        two_camera_split(tmp_path, "test.txt")
    (tmp_path / "bad.txt").write_text("car_0007_cam2.jpg\n0002_c002_00030600_0.jpg\n")
    with pytest.raises(EngineError, match="not named like"):
        two_camera_split(tmp_path, "bad.txt")


def test_split_matches_hand_values(tmp_path):
    # Two cameras only, cam1 the query side: q car_1 at 0 deg, q bus_2 at 50 deg;
    # gallery car_1 at 30, bus_2 at 10, truck_3 at 45 (a distractor without a query).
    # q car_1: by angle bus_2 car_1* truck_3 -> AP 1/2, first match at rank 2.
    # q bus_2: by angle truck_3 car_1 bus_2* -> AP 1/3, first match at rank 3.
    write_two_camera(tmp_path, [("car_1_cam1.jpg", 0), ("bus_2_cam1.jpg", 50),
                                ("car_1_cam2.jpg", 30), ("bus_2_cam2.jpg", 10),
                                ("truck_3_cam2.jpg", 45)], "val.txt")
    out = evaluate_split(tmp_path, "val.txt", mean_colour, batch_size=2, ranks=(1, 2, 3))
    check(out, {"mAP": (1 / 2 + 1 / 3) / 2, "cmc": {1: 0.0, 2: 0.5, 3: 1.0},
                "queries": 2, "skipped_queries": 0})
    assert (out["query_images"], out["gallery_images"], out["unreadable"]) == (2, 3, 0)
    # Camera 2 as the query side: 3 queries, truck_3 has no match on camera 1.
    out = evaluate_split(tmp_path, "val.txt", mean_colour, query_cam=2)
    assert (out["queries"], out["skipped_queries"]) == (2, 1)
