"""Vehicle detectors: SSD (Intel's vehicle-detection-0202, the default where present), NanoDet
(the embedded COCO model) and Ultralytics YOLOv8/YOLO11 exports (a user's own model). Each
format is a subclass naming its `format`; all return boxes in original-image pixels."""
from __future__ import annotations

import ast
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Optional

import cv2
import numpy as np

from engine.errors import ModelError
from engine.motion import box_iou
from engine.preprocess import as_bgr, check_input_size, normaliser, to_blob
from engine.registry import COCO_NAMES, ModelSpec, resolve_detector
from engine.runtime import load_model
from engine.types import Detection

# "vehicle": one-class vehicle detectors (vehicle-detection-0202); the rest are COCO names.
VEHICLE_CLASSES = ("vehicle", "car", "bus", "truck", "motorcycle")
MAX_CANDIDATES = 2000  # boxes kept for NMS, best first; bounds NMS time on busy frames
PAD_VALUE = 114  # Ultralytics letterbox grey
DEFAULT_MIN_SCORE = 0.35  # for models whose registry entry gives none
DEFAULT_NMS_IOU = 0.5
LARGE_BOX_SHARE = 0.3  # of the frame's area (see EnsembleDetector._plausible)
LARGE_BOX_SURE = 0.9  # mapped score: vehicle-detection-0202 at about 0.96
SURE = 0.5  # mapped score of a member's own threshold (EnsembleDetector.fuse)
CONTAIN_SHARE = 0.7  # an ensemble box holding this share of a surer box is dropped (EnsembleDetector.fuse)


class Detector:
    """Shared pre/post-processing; subclasses only decode raw outputs into
    (boxes x1y1x2y2 in network-input pixels, class-score matrix N x C)."""

    format = ""

    def __init__(self, spec: ModelSpec, model, classes: Optional[Iterable[str]],
                 min_score: float, nms_iou: float):
        self.spec, self.model = spec, model
        self.min_score, self.nms_iou = float(min_score), float(nms_iou)
        self.input_name = self._check_input()
        names = list(spec.class_names)
        wanted = names if classes is None else list(classes)
        # A custom model may know only some vehicle classes (say just "car"): keep those.
        present = [c for c in wanted if c in names]
        if not present:
            raise ModelError(f"{spec.path}: none of the classes {wanted} is among the "
                             f"model's class names {names[:10]}...")
        self.class_ids = np.array([names.index(c) for c in present], dtype=np.int64)
        self.class_names = names
        self._mul, self._add = normaliser(spec)

    def _check_input(self) -> str:
        inp = self.model.inputs[0]
        if len(inp.shape) != 4:
            raise ModelError(f"{self.spec.path}: detector input must be NCHW (rank 4), "
                             f"got shape {inp.shape}")
        check_input_size(self.spec, inp.shape)
        return inp.name

    # -- preprocessing -------------------------------------------------------------
    def _preprocess(self, bgr: np.ndarray) -> tuple[np.ndarray, tuple]:
        """NCHW float32 input and (sx, sy, pad_x, pad_y) to map boxes back."""
        bgr = as_bgr(bgr)
        h, w = bgr.shape[:2]
        th, tw = self.spec.input_size
        if self.spec.letterbox:
            r = min(th / h, tw / w)
            nh, nw = max(1, round(h * r)), max(1, round(w * r))
            px, py = (tw - nw) // 2, (th - nh) // 2
            canvas = np.full((th, tw, 3), PAD_VALUE, np.uint8)
            canvas[py:py + nh, px:px + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
            img, meta = canvas, (r, r, px, py)
        else:
            img = cv2.resize(bgr, (tw, th), interpolation=cv2.INTER_LINEAR)
            meta = (tw / w, th / h, 0, 0)
        return to_blob([img], self._mul, self._add, self.spec.channel_order == "RGB"), meta

    # -- postprocessing ------------------------------------------------------------
    def _select(self, boxes: np.ndarray, scores: np.ndarray, meta: tuple,
                width: int, height: int) -> list[Detection]:
        """Best wanted class per candidate, score filter, class-agnostic NMS (a car
        also scored as "truck" must come out once), map to image pixels and clip."""
        sub = scores[:, self.class_ids]
        best = sub.argmax(1)
        conf = sub[np.arange(len(sub)), best]
        keep = np.flatnonzero(conf >= self.min_score)
        if keep.size == 0:
            return []
        keep = keep[np.argsort(-conf[keep])[:MAX_CANDIDATES]]
        sx, sy, px, py = meta
        b = boxes[keep].astype(np.float32)
        b = (b - np.array([px, py, px, py], np.float32)) / np.array([sx, sy, sx, sy], np.float32)
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
        wh = b[:, 2:] - b[:, :2]
        ok = (wh > 1).all(1)  # drop boxes that clipping reduced to nothing
        b, wh, c, cls = b[ok], wh[ok], conf[keep][ok], self.class_ids[best[keep]][ok]
        if len(b) == 0:
            return []
        xywh = np.concatenate([b[:, :2], wh], 1)
        idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), c.tolist(), self.min_score,
                                          self.nms_iou)).reshape(-1)
        return [Detection(box=tuple(float(v) for v in b[i]), score=float(c[i]),
                          label=self.class_names[cls[i]]) for i in idx]

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Detections of the wanted classes in a BGR image, best score first."""
        if bgr is None or bgr.size == 0:
            raise ValueError("detect() needs a non-empty BGR image")
        x, meta = self._preprocess(bgr)
        outputs = self.model.run({self.input_name: x})
        boxes, scores = self._decode(outputs)
        return self._select(boxes, scores, meta, bgr.shape[1], bgr.shape[0])

    def _decode(self, outputs: list) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class NanoDetDetector(Detector):
    """NanoDet-Plus head: per stride, class scores (N x C, already sigmoid) and box
    side distances (N x 4*(R+1)) as a distribution over R+1 bins ("GFL" integral)."""

    format = "nanodet"

    def __init__(self, *args):
        super().__init__(*args)
        self._levels = self._match_outputs()
        self._centers = np.concatenate([lv[3] for lv in self._levels])
        self._strides = np.concatenate([np.full(len(lv[3]), lv[2], np.float32)
                                        for lv in self._levels])

    def _match_outputs(self) -> list:
        """Pair score/box outputs by anchor count and derive each level's stride.
        Returns [(score_idx, box_idx, stride, centers N x 2)] ordered by stride."""
        th, tw = self.spec.input_size
        n_cls = len(self.spec.class_names)
        by_n: dict[int, dict] = {}
        for i, out in enumerate(self.model.outputs):
            shape = out.shape
            if len(shape) != 3 or not isinstance(shape[1], int):
                raise ModelError(f"{self.spec.path}: unexpected NanoDet output "
                                 f"'{out.name}' shape {shape}, want 1 x N x C")
            kind = "cls" if shape[2] == n_cls else "box" if shape[2] % 4 == 0 else None
            if kind is None:
                raise ModelError(f"{self.spec.path}: output '{out.name}' has {shape[2]} "
                                 f"channels: neither {n_cls} classes nor 4 x bins")
            by_n.setdefault(shape[1], {})[kind] = i
        levels = []
        for n, pair in by_n.items():
            stride = next((s for s in (8, 16, 32, 64, 128)
                           if math.ceil(th / s) * math.ceil(tw / s) == n), None)
            if stride is None or set(pair) != {"cls", "box"}:
                raise ModelError(f"{self.spec.path}: NanoDet outputs with {n} anchors do "
                                 f"not form a score/box pair at a stride of {th}x{tw}")
            gw = math.ceil(tw / stride)
            ys, xs = np.divmod(np.arange(n), gw)
            centers = (np.stack([xs, ys], 1).astype(np.float32) + 0.5) * stride
            levels.append((pair["cls"], pair["box"], stride, centers))
        return sorted(levels, key=lambda lv: lv[2])

    def _decode(self, outputs):
        scores = np.concatenate([outputs[c][0] for c, _, _, _ in self._levels])
        reg = np.concatenate([outputs[b][0] for _, b, _, _ in self._levels])
        bins = reg.shape[1] // 4
        reg = reg.reshape(len(reg), 4, bins)
        # Softmax over bins, expectation = distance in stride units.
        p = np.exp(reg - reg.max(2, keepdims=True))
        dist = (p @ np.arange(bins, dtype=np.float32)) / p.sum(2)
        dist *= self._strides[:, None]
        # Anchor = cell centre ((i + 0.5) * stride): checked by flipping images, where a
        # corner anchor shifts boxes by half a stride (see models/nanodet-coco.md).
        c = self._centers
        boxes = np.concatenate([c - dist[:, :2], c + dist[:, 2:]], 1)
        return boxes, scores


class YoloDetector(Detector):
    """Ultralytics YOLOv8/YOLO11 export: one output 1 x (4+C) x N with rows cx, cy, w, h
    (input pixels) then C class scores (already sigmoid); no objectness."""

    format = "yolo"

    def __init__(self, *args):
        super().__init__(*args)
        out = self.model.outputs
        n_cls = len(self.spec.class_names)
        shape = out[0].shape
        if len(out) != 1 or len(shape) != 3 or shape[1] not in (4 + n_cls, "4+C"):
            raise ModelError(
                f"{self.spec.path}: YOLO output must be one tensor 1 x (4+{n_cls}) x N "
                f"(Ultralytics YOLOv8/11 export, nms=False); got "
                f"{[o.shape for o in out]}. Pass class_names if the model has other classes.")

    def _decode(self, outputs):
        pred = outputs[0][0]  # (4+C, N)
        cx, cy, w, h = pred[:4]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
        return boxes, pred[4:].T


class SsdDetector(Detector):
    """OpenVINO/Caffe SSD head (`DetectionOutput`): one output 1 x 1 x N x 7 with rows
    [image_id, label, confidence, x_min, y_min, x_max, y_max], boxes in 0..1 of the (stretched)
    input. Rows after the first image_id of -1 are padding."""

    format = "ssd"

    def __init__(self, *args):
        super().__init__(*args)
        shape = self.model.outputs[0].shape
        if len(self.model.outputs) != 1 or len(shape) != 4 or shape[-1] != 7:
            raise ModelError(f"{self.spec.path}: SSD output must be one tensor 1 x 1 x N x 7 "
                             f"(DetectionOutput); got {[o.shape for o in self.model.outputs]}")
        if self.spec.letterbox:
            raise ModelError(f"{self.spec.path}: SSD boxes are relative to a stretched input; "
                             "set letterbox to false")

    def _decode(self, outputs):
        rows = outputs[0].reshape(-1, 7)
        end = np.flatnonzero(rows[:, 0] < 0)
        rows = rows[: end[0] if end.size else len(rows)]
        th, tw = self.spec.input_size
        boxes = rows[:, 3:7] * np.array([tw, th, tw, th], np.float32)
        # Labels index class_names directly for one-class models (label 0 or 1 both mean the
        # class); a multi-class SSD numbers them from 1 after a background class.
        labels = rows[:, 1].astype(np.int64)
        n_cls = len(self.spec.class_names)
        labels = np.zeros_like(labels) if n_cls == 1 else np.clip(labels - 1, 0, n_cls - 1)
        scores = np.zeros((len(rows), n_cls), np.float32)
        scores[np.arange(len(rows)), labels] = rows[:, 2]
        return boxes, scores


def _metadata_names(model) -> Optional[tuple[str, ...]]:
    """Class names an Ultralytics export stores in its metadata ("{0: 'person', ...}")."""
    raw = model.metadata.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
        return tuple(str(names[i]) for i in sorted(names))
    except (ValueError, SyntaxError, TypeError, KeyError):
        return None


class EnsembleDetector:
    """Several detectors whose boxes are pooled, each member counting from its own threshold.
    Members' scores are not comparable (vehicle-detection-0202 at 0.6 is as sure as NanoDet at
    0.4), so each score is mapped so that the member's threshold becomes 0.5: the ensemble's
    min_score is 0.5 for every member and its weak boxes start at 0.25."""

    format = "ensemble"

    def __init__(self, spec: ModelSpec, members: list[tuple[Detector, float]], nms_iou: float, min_score: float,
                 contain: Optional[float] = CONTAIN_SHARE):
        self.spec, self.members, self.nms_iou, self.min_score = spec, members, nms_iou, min_score
        self.contain = contain
        self.model = members[0][0].model  # for device notes: every member runs on the same device

    @staticmethod
    def _mapped(score: float, threshold: float) -> float:
        if score < threshold:
            return 0.5 * score / threshold
        return 0.5 + 0.5 * (score - threshold) / max(1.0 - threshold, 1e-6)

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        per_member = [[replace(d, score=self._mapped(d.score, threshold)) for d in detector.detect(bgr)]
                      for detector, threshold in self.members]
        return self.fuse(per_member, float(bgr.shape[0] * bgr.shape[1]))

    def fuse(self, per_member: list[list[Detection]], area: float) -> list[Detection]:
        """Members' (mapped) boxes into one list, best first.

        Boxes at or above their member's threshold (mapped: 0.5) come first, members in priority
        order: a box overlapping an earlier one (IoU >= nms_iou) is the same vehicle; the earlier
        member's box stays and takes the higher score (a car both members are sure of scores as
        the surer). Measured on the labelled street clip, letting the members' boxes compete in
        one NMS made the winning box flip between members from frame to frame, which broke tracks
        of parked cars (benchmarks/RESULTS.md, Quality). Weaker boxes, down to min_score (the
        tracker's low score when loaded for tracking), are added after, only where no box is yet.
        Last, a box holding most of a surer box (`contain`) is dropped unless it is sure itself:
        on the street clip those are one box over two parked cars or a second box around one."""
        kept: list[Detection] = []
        for strong in (True, False):
            for i, found in enumerate(per_member):
                others = per_member[:i] + per_member[i + 1:]
                for d in found:
                    if d.score < self.min_score or (d.score >= SURE) != strong \
                            or not self._plausible(d, area, others):
                        continue
                    hit = _best_overlap(d.box, [k.box for k in kept], self.nms_iou)
                    if hit is None:
                        kept.append(d)
                    elif strong and d.score > kept[hit].score:
                        kept[hit] = replace(kept[hit], score=d.score)
        kept.sort(key=lambda d: -d.score)
        return kept if self.contain is None else _drop_containers(kept, self.contain, LARGE_BOX_SURE)

    @staticmethod
    def _plausible(det: Detection, area: float, others: list[list[Detection]]) -> bool:
        """A box over most of the frame is what vehicle-detection-0202 also "sees" in a plain sky
        or a bowl of fruit: it stands only when sure, or when another member agrees."""
        x1, y1, x2, y2 = det.box
        if (x2 - x1) * (y2 - y1) < LARGE_BOX_SHARE * area or det.score >= LARGE_BOX_SURE:
            return True
        return _overlaps(det.box, [o.box for found in others for o in found], 0.5)


def _best_overlap(box, boxes, min_iou: float) -> Optional[int]:
    """Index of the box in `boxes` overlapping `box` most, if by at least min_iou."""
    if not boxes:
        return None
    iou = box_iou([box], boxes)[0][0]
    best = int(np.argmax(iou))
    return best if iou[best] >= min_iou else None


def _drop_containers(dets: list[Detection], share: float, sure: float) -> list[Detection]:
    """Detections (best first) less those that hold at least `share` of the area of a better
    detection kept before them, unless their own score is at least `sure`."""
    kept: list[Detection] = []
    for d in dets:
        if d.score < sure and kept:
            k = np.array([k.box for k in kept], np.float32)
            iw = (np.minimum(k[:, 2], d.box[2]) - np.maximum(k[:, 0], d.box[0])).clip(0)
            ih = (np.minimum(k[:, 3], d.box[3]) - np.maximum(k[:, 1], d.box[1])).clip(0)
            inside = iw * ih >= share * (k[:, 2] - k[:, 0]) * (k[:, 3] - k[:, 1])
            if inside.any():
                continue
        kept.append(d)
    return kept


def _overlaps(box, boxes, min_iou: float) -> bool:
    """Whether `box` overlaps any of `boxes` by at least min_iou."""
    return bool(boxes) and bool((box_iou([box], boxes)[0] >= min_iou).any())


def _load_ensemble(spec: ModelSpec, device, classes, min_score, nms_iou, threads) -> EnsembleDetector:
    members = spec.extra.get("members") or {}
    if not members:
        raise ModelError(f"ensemble detector '{spec.name}' names no members")
    loaded = []
    for name, threshold in members.items():
        member = resolve_detector(name)
        # Each member keeps boxes down to half its threshold (mapped: the ensemble's 0.25).
        loaded.append((load_detector(member, device, classes, min_score=0.5 * float(threshold), threads=threads),
                       float(threshold)))
    contain = spec.extra.get("contain", CONTAIN_SHARE)
    return EnsembleDetector(spec, loaded, nms_iou if nms_iou is not None else (spec.nms_iou or DEFAULT_NMS_IOU),
                            min_score if min_score is not None else (spec.min_score or 0.5),
                            contain=None if contain is None else float(contain))


FORMATS = {cls.format: cls for cls in Detector.__subclasses__()}


def load_detector(spec: ModelSpec, device: str = "cpu",
                  classes: Optional[Iterable[str]] = VEHICLE_CLASSES,
                  min_score: Optional[float] = None, nms_iou: Optional[float] = None,
                  threads: Optional[int] = None) -> Detector:
    """A detector for `spec` with `.detect(bgr) -> list[Detection]`.

    classes=None keeps every class the model knows; min_score and nms_iou default to the spec's.
    """
    if spec.format == "ensemble":
        return _load_ensemble(spec, device, classes, min_score, nms_iou, threads)
    if spec.format not in FORMATS:
        raise ModelError(f"{spec.path}: unknown detector format {spec.format!r}")
    model = load_model(spec.path, device, threads, runtime=spec.runtime)
    if spec.format == "yolo":
        names = _metadata_names(model)
        if names and names != spec.class_names and spec.class_names == COCO_NAMES:
            # A custom-trained export: its own names beat the COCO default.
            spec = replace(spec, class_names=names)
    min_score = min_score if min_score is not None else (spec.min_score or DEFAULT_MIN_SCORE)
    nms_iou = nms_iou if nms_iou is not None else (spec.nms_iou or DEFAULT_NMS_IOU)
    return FORMATS[spec.format](spec, model, classes, min_score, nms_iou)
