"""ByteTrack-style multi-object tracker (Zhang et al. 2022, "ByteTrack").

Each track has a constant-velocity Kalman filter on (cx, cy, aspect, h). Every frame:
  1. confirmed and lost tracks are matched to high-score detections by IoU;
  2. tracks still unmatched (not lost ones) are matched to low-score detections, which keeps
     a vehicle through a frame where it is partly occluded or blurred;
  3. tentative tracks (fewer than `min_hits` hits) get the remaining high-score detections;
  4. high-score detections left over start tentative tracks.
A confirmed track unmatched for more than `max_lost` processed frames ends. The class label
is ignored when matching: detectors flip car/truck/bus between frames.

Between two updates the caller may let tracks coast for a few frames with no detection at all
(motion-gated detection, engine.gating): `update(detections, frames=k)` then predicts each
track k frames ahead, so velocities stay per frame and a coasted frame is not a miss.

The Kalman filter is a few lines of numpy (as in ByteTrack's own kalman_filter.py), so no
filterpy dependency.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.types import Box, Detection

# Noise scales relative to box height, ByteTrack's values.
_STD_POS = 1.0 / 20
_STD_VEL = 1.0 / 160
COAST_MIN_HITS = 3  # detections a track needs before its velocity is trusted for coasting


class KalmanBox:
    """Constant-velocity Kalman filter; state (cx, cy, a, h, vcx, vcy, va, vh), a = w / h."""

    _F = np.eye(8) + np.eye(8, k=4)  # x += v each frame
    _H = np.eye(4, 8)  # we observe (cx, cy, a, h)

    def __init__(self, box: Box):
        z = _to_xyah(box)
        h = z[3]
        self.mean = np.r_[z, np.zeros(4)]
        std = [2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2, 2 * _STD_POS * h,
               10 * _STD_VEL * h, 10 * _STD_VEL * h, 1e-5, 10 * _STD_VEL * h]
        self.cov = np.diag(np.square(std))

    def predict(self, freeze_height: bool = False) -> None:
        if freeze_height:  # ByteTrack: a lost box should not keep growing or shrinking
            self.mean[7] = 0.0
        h = self.mean[3]
        std = [_STD_POS * h, _STD_POS * h, 1e-2, _STD_POS * h,
               _STD_VEL * h, _STD_VEL * h, 1e-5, _STD_VEL * h]
        self.mean = self._F @ self.mean
        self.cov = self._F @ self.cov @ self._F.T + np.diag(np.square(std))

    def update(self, box: Box) -> None:
        h = self.mean[3]
        r = np.diag(np.square([_STD_POS * h, _STD_POS * h, 1e-1, _STD_POS * h]))
        s = self._H @ self.cov @ self._H.T + r
        gain = np.linalg.solve(s, self._H @ self.cov).T  # cov H^T S^-1 (S symmetric)
        self.mean = self.mean + gain @ (_to_xyah(box) - self._H @ self.mean)
        self.cov = self.cov - gain @ s @ gain.T

    @property
    def box(self) -> Box:
        cx, cy, a, h = self.mean[:4]
        w = a * h
        return (float(cx - w / 2), float(cy - h / 2), float(cx + w / 2), float(cy + h / 2))


@dataclass(frozen=True)
class Track:
    """A confirmed track as seen in one frame (a snapshot; the tracker keeps its own state)."""

    track_id: int
    box: Box  # Kalman-filtered box in this frame
    det_index: Optional[int]  # index of this frame's detection in update()'s input, or None
    hits: int  # frames with a matched detection
    age: int  # frames since the track started
    label: str  # label of the latest matched detection
    score: float  # score of the latest matched detection


class _State:
    def __init__(self, det: Detection, det_index: int, frame: int):
        self.kf = KalmanBox(det.box)
        self.track_id = 0  # assigned on confirmation, so ids are dense and increasing
        self.hits, self.start, self.last_seen = 1, frame, frame
        self.label, self.score = det.label, det.score
        self.det_index: Optional[int] = det_index

    def hit(self, det: Detection, det_index: int, frame: int) -> None:
        self.kf.update(det.box)
        self.hits += 1
        self.last_seen = frame
        self.label, self.score, self.det_index = det.label, det.score, det_index


class ByteTracker:
    def __init__(self, high_thresh: float = 0.5, low_thresh: float = 0.1,
                 match_iou: float = 0.3, max_lost: int = 30, min_hits: int = 2):
        self.high_thresh, self.low_thresh = high_thresh, low_thresh
        self.match_iou, self.max_lost, self.min_hits = match_iou, max_lost, min_hits
        self.frame = 0
        self._next_id = 1
        self._confirmed: list[_State] = []  # tracked or lost
        self._tentative: list[_State] = []
        self._removed: list[int] = []  # ended confirmed ids not yet reported
        self._matched: list[_State] = []  # confirmed tracks matched at the last update, in its order

    def reset(self) -> None:
        """Forget every track (a scene cut); new tracks keep getting new ids."""
        self._confirmed, self._tentative, self._matched = [], [], []

    @property
    def active_ids(self) -> list[int]:
        """Confirmed tracks that have not ended (including those lost for a few frames)."""
        return [t.track_id for t in self._confirmed]

    @property
    def has_tentative(self) -> bool:
        """Whether a new track waits for the detection that confirms it (in the next frame)."""
        return bool(self._tentative)

    @property
    def can_coast(self) -> bool:
        """Whether the tracks may skip the next frames' detections: no new track waits for its
        confirmation, and every track seen at the last update has moved for a few detections,
        so its Kalman velocity is known."""
        return not self._tentative and all(t.hits >= COAST_MIN_HITS for t in self._confirmed
                                           if t.last_seen == self.frame)

    def update(self, detections: Sequence[Detection], frames: int = 1) -> list[Track]:
        """Advance `frames` processed frames (more than 1: the tracks coasted on their
        predictions since the last update); returns the confirmed tracks matched in this one."""
        previous = self.frame
        self.frame += max(1, frames)
        for t in self._confirmed + self._tentative:
            for _ in range(self.frame - previous):
                t.kf.predict(freeze_height=t.last_seen < previous)
            t.det_index = None
        high = [i for i, d in enumerate(detections) if d.score >= self.high_thresh]
        low = [i for i, d in enumerate(detections) if self.low_thresh <= d.score < self.high_thresh]

        # 1. confirmed (tracked + lost) tracks with high-score detections
        unmatched, high = self._associate(self._confirmed, high, detections)
        # 2. tracks that were seen last frame, with low-score detections
        recent = [t for t in unmatched if t.last_seen == previous]
        self._associate(recent, low, detections)
        # 3. tentative tracks with the high-score detections left
        stale, high = self._associate(self._tentative, high, detections)
        self._tentative = [t for t in self._tentative if t not in stale]  # one miss ends them
        # 4. new tentative tracks
        self._tentative += [_State(detections[i], i, self.frame) for i in high]

        self._promote()
        self._expire()
        self._matched = [t for t in self._confirmed if t.det_index is not None]
        return [self._snapshot(t) for t in self._matched]

    def hold(self, frames: int = 1) -> list[Track]:
        """Advance `frames` processed frames in which the picture did not change (motion-gated
        detection, engine.gating): the tracks matched at the last update are seen again where
        they were, each with the same detection (`det_index` counts in the order the last
        update returned them). Costs no Kalman step: nothing moved."""
        self.frame += max(1, frames)
        for i, t in enumerate(self._matched):
            t.hits += 1
            t.last_seen, t.det_index = self.frame, i
        self._expire()  # the tracks lost before the picture stopped changing still age
        return [self._snapshot(t) for t in self._matched]

    def removed_since_last(self) -> list[int]:
        """Ids of confirmed tracks that ended since the previous call."""
        removed, self._removed = self._removed, []
        return removed

    def finish(self) -> list[int]:
        """End every track (end of video); returns all ended ids not yet reported."""
        self._removed += self.active_ids
        self._confirmed, self._tentative, self._matched = [], [], []
        return self.removed_since_last()

    # --- internals ------------------------------------------------------------------------
    def _associate(self, tracks: list[_State], det_ids: list[int],
                   detections: Sequence[Detection]) -> tuple[list[_State], list[int]]:
        """Hungarian matching on IoU; returns (unmatched tracks, unmatched detection indices)."""
        if not tracks or not det_ids:
            return list(tracks), list(det_ids)
        iou = iou_matrix([t.kf.box for t in tracks], [detections[i].box for i in det_ids])
        rows, cols = linear_sum_assignment(-iou)
        used_t, used_d = set(), set()
        for r, c in zip(rows, cols):
            if iou[r, c] >= self.match_iou:
                tracks[r].hit(detections[det_ids[c]], det_ids[c], self.frame)
                used_t.add(r)
                used_d.add(c)
        return ([t for i, t in enumerate(tracks) if i not in used_t],
                [d for j, d in enumerate(det_ids) if j not in used_d])

    def _promote(self) -> None:
        ready = [t for t in self._tentative if t.hits >= self.min_hits]
        for t in ready:
            t.track_id, self._next_id = self._next_id, self._next_id + 1
        self._confirmed += ready
        self._tentative = [t for t in self._tentative if t.hits < self.min_hits]

    def _expire(self) -> None:
        alive = [t for t in self._confirmed if self.frame - t.last_seen <= self.max_lost]
        self._removed += [t.track_id for t in self._confirmed if t not in alive]
        self._confirmed = alive

    def _snapshot(self, t: _State) -> Track:
        return Track(t.track_id, t.kf.box, t.det_index, t.hits, self.frame - t.start + 1,
                     t.label, t.score)


def _to_xyah(box: Box) -> np.ndarray:
    x1, y1, x2, y2 = box
    h = max(y2 - y1, 1e-6)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / h, h])


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """Pairwise IoU of two lists of (x1, y1, x2, y2) boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)
