"""Motion proposals for fixed cameras, where a COCO detector fails (top-down views).

Seen from high above, cars look nothing like COCO's street-level cars, and the detectors
we ship call them "kite" or "cell phone" or miss them. A fixed camera lets background
subtraction find what moves instead: `MotionProposer` turns each frame's foreground into
boxes labelled "motion", and `merge_proposals` adds them to the detector's boxes.

Limits: only moving things are found. A parked car is part of the background and is
invisible to motion (a car that stops fades into the background within about `history`
frames, and a car that leaves leaves a short-lived "ghost" where it stood). Cars that touch
merge into one box. The camera must not move.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.types import Detection

_SHADOW = 127  # MOG2 marks shadow pixels with this value, foreground with 255


class MotionProposer:
    """Background-subtraction proposals. Feed frames of one fixed camera in order.

    Works on every n-th frame as well (a video's frame_stride): `history` and `warmup`
    count the frames given to `propose`, not the frames of the video.
    """

    def __init__(self, history: int = 100, var_threshold: float = 25.0,
                 min_area: int = 150, max_area_frac: float = 0.25, warmup: int = 10,
                 min_aspect: float = 0.2, open_px: int = 3, close_px: int = 7):
        # Shadow detection on: MOG2 then tells cast shadows (a darker copy of the
        # background) apart from objects, and we drop them so boxes hug the car.
        self._bg = cv2.createBackgroundSubtractorMOG2(history, var_threshold, True)
        self.min_area = min_area
        self.max_area_frac = max_area_frac
        self.warmup = warmup
        self.min_aspect = min_aspect
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px))
        self.frames_seen = 0

    def foreground(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Update the background model; return the cleaned uint8 foreground mask (0/255)."""
        mask = self._bg.apply(frame_bgr)
        self.frames_seen += 1
        mask = np.where(mask == _SHADOW, 0, mask).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)  # sensor-noise specks
        return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)  # windows split a car

    def propose(self, frame_bgr: np.ndarray) -> list[Detection]:
        """Boxes of moving blobs in this frame; none until `warmup` frames were seen."""
        mask = self.foreground(frame_bgr)
        if self.frames_seen <= self.warmup:
            return []
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        max_area = self.max_area_frac * mask.shape[0] * mask.shape[1]
        out = []
        for x, y, w, h, area in stats[1:]:  # row 0 is the background
            if area < self.min_area or w * h > max_area:
                continue
            if min(w, h) / max(w, h) < self.min_aspect:  # lines, edges of lighting changes
                continue
            out.append(Detection((float(x), float(y), float(x + w), float(y + h)),
                                 self._score(area, w * h), "motion"))
        return out

    def _score(self, area: int, box_area: int) -> float:
        # A solid blob well above the size floor is more likely a vehicle than a fragment;
        # the fill ratio is lower for diagonal cars, so it only weighs half.
        fill = area / box_area
        size = min(1.0, area / (4 * self.min_area))
        return round(0.5 * fill + 0.5 * size, 4)


def box_iou(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise IoU and containment (intersection / smaller area) of (N,4) and (M,4) boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    wh = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:])
                 - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)[:, None]
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)[None, :]
    union = area_a + area_b - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    smaller = np.minimum(area_a, area_b)
    contain = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    return iou, contain


def merge_proposals(detections: list[Detection], proposals: list[Detection],
                    iou: float = 0.3, containment: float = 0.7) -> list[Detection]:
    """Detector boxes plus the motion boxes that no detector box already covers.

    A proposal is a duplicate when its IoU with some detection reaches `iou`, or when
    one box lies mostly inside the other (a motion blob often includes a little shadow
    or is cut by an occluder, so IoU alone misses those duplicates).
    """
    if not detections or not proposals:
        return list(detections) + list(proposals)
    ious, contain = box_iou([p.box for p in proposals], [d.box for d in detections])
    dup = (ious >= iou).any(axis=1) | (contain >= containment).any(axis=1)
    return list(detections) + [p for p, d in zip(proposals, dup) if not d]
