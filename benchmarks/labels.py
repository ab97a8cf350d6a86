"""Hand-labelled vehicle boxes of real clips (benchmarks/labels/*.json, see its README) and the
scoring that compares detections and search results with them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.motion import box_iou

LABELS = Path(__file__).resolve().parent / "labels"
SCORE_STEPS = tuple(round(0.15 + 0.05 * i, 2) for i in range(17))  # 0.15 .. 0.95


@dataclass(frozen=True)
class Box:
    box: tuple[float, float, float, float]
    vehicle: int
    ignore: bool  # under the minimum height: neither required nor penalised
    occluded: bool


@dataclass
class ClipLabels:
    clip: str
    frame_step: int
    frames: dict[int, list[Box]]

    def ids(self) -> set[int]:
        return {b.vehicle for boxes in self.frames.values() for b in boxes if not b.ignore}

    def frames_of(self, vehicle: int, with_ignored: bool = False) -> list[int]:
        return sorted(f for f, boxes in self.frames.items()
                      if any(b.vehicle == vehicle and (with_ignored or not b.ignore) for b in boxes))


def load(name: str) -> ClipLabels:
    data = json.loads((LABELS / f"{name}.json").read_text())
    frames = {int(k): [Box(tuple(map(float, b["box"])), int(b["id"]), bool(b.get("ignore")), bool(b.get("occluded")))
                       for b in v] for k, v in data["frames"].items()}
    return ClipLabels(data["clip"], int(data["frame_step"]), frames)


def iou(a, b) -> float:
    return float(box_iou([a], [b])[0][0, 0])


def match_frame(detections: list[tuple[tuple, float]], truth: list[Box], min_iou: float = 0.5) -> tuple[int, int, int]:
    """(true positives, false positives, missed) of one frame: detections (box, score) matched to
    labelled boxes greedily by score at IoU >= min_iou. A detection on an ignored box (too small)
    counts neither way; an ignored box is never missed."""
    used = set()
    tp = fp = 0
    for box, _score in sorted(detections, key=lambda d: -d[1]):
        best, best_iou = None, min_iou
        for i, t in enumerate(truth):
            overlap = iou(box, t.box) if i not in used else 0.0
            if overlap >= best_iou:
                best, best_iou = i, overlap
        if best is None:
            fp += 1
        else:
            used.add(best)
            tp += 0 if truth[best].ignore else 1
    missed = sum(1 for i, t in enumerate(truth) if i not in used and not t.ignore)
    return tp, fp, missed


def pr_curve(per_frame: dict[int, list[tuple[tuple, float]]], labels: ClipLabels,
             thresholds=SCORE_STEPS) -> list[dict]:
    """Recall and precision at IoU 0.5 for each score threshold."""
    rows = []
    for t in thresholds:
        tp = fp = missed = 0
        for frame, truth in labels.frames.items():
            dets = [d for d in per_frame.get(frame, []) if d[1] >= t]
            a, b, c = match_frame(dets, truth)
            tp, fp, missed = tp + a, fp + b, missed + c
        rows.append({"score": round(float(t), 2), "recall": tp / max(tp + missed, 1),
                     "precision": tp / max(tp + fp, 1), "tp": tp, "fp": fp, "missed": missed})
    return rows


def score_intervals(intervals: dict[int, list[tuple[float, float]]], labels: ClipLabels, fps: float,
                    slack_s: float = 0.5) -> dict:
    """Search results against the labels: `intervals` maps a labelled vehicle id to the (start_s,
    end_s) intervals reported for it. Interval recall: the share of labelled frames of each
    vehicle inside one of its intervals; a false interval holds no labelled frame of its vehicle
    (within `slack_s`); a false frame is a labelled frame inside an interval whose vehicle is
    not in it."""
    covered = total = false_intervals = false_frames = 0
    for vehicle in labels.ids():
        truth = labels.frames_of(vehicle)
        spans = intervals.get(vehicle, [])
        total += len(truth)
        covered += sum(1 for f in truth if any(s - 1e-6 <= f / fps <= e + 1e-6 for s, e in spans))
        for s, e in spans:
            if not any(s - slack_s <= f / fps <= e + slack_s for f in labels.frames_of(vehicle, with_ignored=True)):
                false_intervals += 1
        present = set(labels.frames_of(vehicle, with_ignored=True))
        false_frames += sum(1 for f in labels.frames if f not in present
                            and any(s + slack_s < f / fps < e - slack_s for s, e in spans))
    reported = sum(len(v) for v in intervals.values())
    return {"interval_recall": covered / max(total, 1), "labelled_frames": total,
            "intervals": reported, "false_intervals": false_intervals, "false_frames": false_frames}
