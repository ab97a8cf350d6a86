"""Detector tests on real photos (tests/fixtures, OpenCV samples), the real bikes.mp4 clip and
labelled frames of the real street clip, and tiny hand-built graphs that pin down the
Ultralytics and SSD decoders."""
import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine.detectors import load_detector
from engine.errors import ModelError
from engine.registry import resolve_detector
from tests.engine.onnx_builders import constant_output_graph
from tests.media import FIXTURES, STREET_CLIP, needs_omz

VEHICLE_LABELS = ("vehicle", "car", "bus", "truck", "motorcycle")


@pytest.fixture(scope="module", params=["default", "nanodet-coco"])
def detector(request):
    """The default detector (the vehicle ensemble where its files are present) and the embedded
    fallback must both find the cars."""
    return load_detector(resolve_detector(None if request.param == "default" else request.param))


def photo(name):
    img = cv2.imread(str(FIXTURES / name))
    assert img is not None, name
    return img


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# Hand-checked boxes (x1, y1, x2, y2) of the obvious car in each photo.
CARS = {
    "street_wagon.jpg": (395, 420, 695, 580),  # silver station wagon, right of the sign
    "red_car.jpg": (82, 390, 222, 480),  # red hatchback, bottom left
    "car_rear.jpg": (0, 10, 600, 482),  # blurred sedan rear filling the frame
}


@pytest.mark.parametrize("name", sorted(CARS))
def test_finds_the_car_in_photos(detector, name):
    img = photo(name)
    dets = detector.detect(img)
    cars = [d for d in dets if d.label in VEHICLE_LABELS]
    assert cars, f"no car in {name}: {dets}"
    best = max(cars, key=lambda d: iou(d.box, CARS[name]))
    assert iou(best.box, CARS[name]) > 0.7, (name, best)
    h, w = img.shape[:2]
    for d in dets:  # boxes are clipped to the image and ordered
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        assert d.label in VEHICLE_LABELS and d.score >= detector.min_score


@pytest.mark.parametrize("name", ["fruits.jpg", "football.jpg"])
def test_no_vehicle_photos_give_nothing(detector, name):
    assert detector.detect(photo(name)) == []


def test_class_filter_can_be_lifted():
    everything = load_detector(resolve_detector("nanodet-coco"), classes=None)
    labels = {d.label for d in everything.detect(photo("football.jpg"))}
    assert "person" in labels


def test_cars_in_bikes_clip(detector, bikes_frames):
    # Frame 168: a dark sedan drives behind the railing; a car is parked on the right.
    dets = detector.detect(bikes_frames[168])
    boxes = [d.box for d in dets if d.label in VEHICLE_LABELS]
    assert any(iou(b, (342, 111, 437, 166)) > 0.6 for b in boxes), dets
    assert any(iou(b, (524, 101, 603, 163)) > 0.6 for b in boxes), dets


def test_grey_and_bgra_images(detector):
    img = photo("street_wagon.jpg")
    assert detector.detect(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    assert detector.detect(cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((0, 0, 3), np.uint8))


# --- Ultralytics layout, checked with a tiny graph whose output is a fixed prediction ----

def yolo_graph(path, pred, size=64, names=None, in_shape=None):
    """An ONNX file with input 1x3xSxS and output `pred` (0 * mean(input) added so the
    output really depends on the input, like a network)."""
    pred = np.asarray(pred, np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
        helper.make_node("Add", ["pred", "m0"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       in_shape or [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(pred.shape))],
        initializer=[helper.make_tensor("pred", TensorProto.FLOAT, pred.shape, pred.ravel()),
                     helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if names:
        helper.set_model_props(model, {"names": repr(dict(enumerate(names)))})
    onnx.save(model, str(path))
    return path


def candidate(cx, cy, w, h, cls, score, n_cls=80):
    col = np.zeros(4 + n_cls, np.float32)
    col[:4] = cx, cy, w, h
    col[4 + cls] = score
    return col


def test_yolo_decoding_letterbox_and_agnostic_nms(tmp_path):
    cols = [
        candidate(32, 32, 20, 10, cls=2, score=0.9),  # car
        candidate(33, 32, 20, 10, cls=7, score=0.8),  # same object scored as truck
        candidate(10, 40, 8, 8, cls=0, score=0.95),  # person: not a vehicle
        candidate(50, 30, 6, 6, cls=2, score=0.1),  # weak car
    ]
    path = yolo_graph(tmp_path / "tiny.onnx", np.stack(cols, 1)[None])
    det = load_detector(resolve_detector(path, input_size=(64, 64)))
    # 128x64 image -> scale 0.5, 64x32 content padded 16 px top and bottom.
    dets = det.detect(np.zeros((64, 128, 3), np.uint8))
    assert len(dets) == 1
    assert dets[0].label == "car" and dets[0].score == pytest.approx(0.9)
    assert dets[0].box == pytest.approx((44, 22, 84, 42), abs=1e-3)


def test_yolo_custom_class_names_from_metadata(tmp_path):
    pred = np.stack([candidate(32, 32, 20, 20, cls=1, score=0.7, n_cls=2)], 1)[None]
    path = yolo_graph(tmp_path / "custom.onnx", pred, names=["van", "car"])
    dets = load_detector(resolve_detector(path, input_size=(64, 64))).detect(
        np.zeros((64, 64, 3), np.uint8))
    assert [d.label for d in dets] == ["car"]


def test_yolo_wrong_output_layout(tmp_path):
    path = yolo_graph(tmp_path / "bad_out.onnx", np.zeros((1, 10, 50), np.float32))
    with pytest.raises(ModelError, match=r"bad_out\.onnx.*1 x \(4\+80\) x N"):
        load_detector(resolve_detector(path, input_size=(64, 64)))


def test_wrong_input_rank(tmp_path):
    path = yolo_graph(tmp_path / "rank2.onnx", np.zeros((1, 84, 5), np.float32),
                      in_shape=[1, 12288])
    with pytest.raises(ModelError, match=r"rank2\.onnx.*rank 4"):
        load_detector(resolve_detector(path))


def test_input_size_mismatch(tmp_path):
    path = yolo_graph(tmp_path / "tiny.onnx", np.zeros((1, 84, 5), np.float32))
    with pytest.raises(ModelError, match=r"64x64.*640x640"):
        load_detector(resolve_detector(path))  # default 640x640 vs a 64x64 graph


# --- SSD layout (vehicle-detection-0202), checked with a tiny graph ---------------------

def test_ssd_decoding_stretches_boxes_and_stops_at_padding(tmp_path):
    rows = np.zeros((1, 1, 6, 7), np.float32)
    rows[0, 0, 0] = [0, 1, 0.9, 0.25, 0.5, 0.5, 1.0]  # image-relative box
    rows[0, 0, 1] = [0, 1, 0.8, 0.26, 0.5, 0.5, 1.0]  # the same vehicle again: NMS keeps one
    rows[0, 0, 2] = [0, 1, 0.2, 0.0, 0.0, 0.1, 0.1]  # too weak
    rows[0, 0, 3] = [-1, 0, 0.99, 0.0, 0.0, 1.0, 1.0]  # end of detections: the rest is padding
    rows[0, 0, 4] = [0, 1, 0.99, 0.6, 0.6, 0.9, 0.9]
    path = constant_output_graph(tmp_path / "ssd.onnx", rows, input_name="image", output_name="detection_out")
    spec = resolve_detector(path, format="ssd", input_size=(64, 64), letterbox=False, class_names=("vehicle",),
                            channel_order="BGR", scale=1.0, mean=(0, 0, 0), std=(1, 1, 1))
    dets = load_detector(spec, min_score=0.5).detect(np.zeros((100, 200, 3), np.uint8))
    assert len(dets) == 1 and dets[0].label == "vehicle" and dets[0].score == pytest.approx(0.9)
    assert dets[0].box == pytest.approx((50, 50, 100, 100), abs=1e-3)


def test_ssd_refuses_a_letterboxed_spec(tmp_path):
    path = constant_output_graph(tmp_path / "ssd.onnx", np.zeros((1, 1, 5, 7), np.float32),
                                 input_name="image", output_name="detection_out")
    spec = resolve_detector(path, format="ssd", input_size=(64, 64), letterbox=True, class_names=("vehicle",))
    with pytest.raises(ModelError, match="stretched input"):
        load_detector(spec)


@needs_omz
def test_vehicle_detector_sees_what_nanodet_misses_on_labelled_street_frames():
    """Recall and precision at IoU 0.5 on hand-labelled frames of the real street clip
    (benchmarks/labels): the ensemble finds at least what NanoDet alone finds, as precisely."""
    from benchmarks import labels as lab
    from engine.media import iter_frames
    labels = lab.load("street-parked-cars")
    wanted = set(sorted(labels.frames)[::10])
    clip = STREET_CLIP
    frames = {i: f.copy() for i, _, f in iter_frames(clip) if i in wanted}
    scores = {}
    for name in ("vehicle-ensemble", "nanodet-coco"):
        det = load_detector(resolve_detector(name))
        tp = fp = missed = 0
        for i, frame in frames.items():
            a, b, c = lab.match_frame([(d.box, d.score) for d in det.detect(frame)], labels.frames[i])
            tp, fp, missed = tp + a, fp + b, missed + c
        scores[name] = (tp / (tp + missed), tp / max(tp + fp, 1))
    (recall, precision), (nano_recall, nano_precision) = scores["vehicle-ensemble"], scores["nanodet-coco"]
    assert recall >= 0.85 and precision >= 0.8, scores
    assert recall >= nano_recall and precision >= nano_precision - 0.01, scores


# --- ensemble fusion, checked on hand-made member boxes --------------------------------

def ensemble(contain=0.7):
    from engine.detectors import EnsembleDetector

    class Member:
        model = None
    return EnsembleDetector(None, [(Member(), 0.35), (Member(), 0.6)], nms_iou=0.5, min_score=0.25, contain=contain)


def det(box, score):
    from engine.types import Detection
    return Detection(box=box, score=score, label="car")


AREA = 640.0 * 360.0


def test_ensemble_keeps_the_first_members_box_with_the_surer_score():
    first, second = det((100, 100, 200, 160), 0.55), det((98, 102, 204, 162), 0.9)
    [out] = ensemble().fuse([[first], [second]], AREA)
    assert out.box == first.box and out.score == pytest.approx(0.9)


def test_ensemble_weak_box_neither_lifts_nor_vetoes_a_sure_one():
    weak, sure = det((100, 100, 200, 160), 0.3), det((98, 102, 204, 162), 0.8)
    [out] = ensemble().fuse([[weak], [sure]], AREA)
    assert out.box == sure.box and out.score == pytest.approx(0.8)
    # A weak box where no box is yet still comes out, for the tracker.
    alone = det((400, 100, 460, 140), 0.3)
    assert alone in ensemble().fuse([[weak, alone], [sure]], AREA)


def test_ensemble_drops_a_box_over_two_cars_unless_sure():
    left, right = det((80, 100, 150, 146), 0.7), det((144, 85, 215, 140), 0.65)
    over_both = det((85, 88, 212, 148), 0.55)  # NanoDet's box over two parked cars
    assert over_both not in ensemble().fuse([[left, right, over_both], []], AREA)
    assert over_both in ensemble(contain=None).fuse([[left, right, over_both], []], AREA)
    bus = det((60, 60, 300, 200), 0.95)  # a sure box around a smaller one stays
    assert bus in ensemble().fuse([[left, bus], []], AREA)


@needs_omz
def test_ensemble_precision_on_labelled_street_frames():
    """The fusion's point, on real frames (every 10th labelled one): at its min score the default
    ensemble is at least as precise as NanoDet at its own, finding at least as much."""
    from benchmarks import labels as lab
    from engine.media import iter_frames
    labels = lab.load("street-parked-cars")
    wanted = set(sorted(labels.frames)[5::10])
    frames = {i: f.copy() for i, _, f in iter_frames(STREET_CLIP) if i in wanted}
    det_ = load_detector(resolve_detector("vehicle-ensemble"))
    tp = fp = missed = 0
    for i, frame in frames.items():
        a, b, c = lab.match_frame([(d.box, d.score) for d in det_.detect(frame)], labels.frames[i])
        tp, fp, missed = tp + a, fp + b, missed + c
    assert tp / (tp + missed) >= 0.85 and tp / (tp + fp) >= 0.83, (tp, fp, missed)
