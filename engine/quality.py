"""How useful a crop is for re-identification; used to pick the best few crops of a track.

score = size * sharpness * edge * aspect, each in [0, 1]:
- size: small crops are upscaled to the embedder's input and lose identity detail;
- sharpness: motion blur and defocus wash out the details that tell two cars apart;
- edge: a box touching the frame border shows only part of the vehicle;
- aspect: very thin boxes are usually partial views or detector errors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from engine.types import Box

FULL_SIZE_PX = 160.0  # sqrt(area) at which a crop counts as big enough (embedders use ~224)
SHARP_REF = 100.0  # variance of Laplacian that scores 0.5 (OpenCV's usual blur cut-off)
SHARP_SIDE = 128  # crops are resized to this before measuring, so scale does not matter
EDGE_MARGIN_PX = 2.0
EDGE_PENALTY = 0.6  # per side touching the border
ASPECT_RANGE = (0.4, 3.5)  # plausible width / height of a vehicle box, any viewpoint


def crop_quality(frame_shape: Sequence[int], box: Box,
                 crop_bgr: Optional[np.ndarray] = None) -> float:
    """Quality in [0, 1] of the crop `box` of a frame of shape (h, w[, c]); higher is better.

    Without `crop_bgr` sharpness is not measured (counts as 1).
    """
    x1, y1, x2, y2 = box
    w, h = max(x2 - x1, 0.0), max(y2 - y1, 0.0)
    if w < 1 or h < 1:
        return 0.0
    size = min(1.0, math.sqrt(w * h) / FULL_SIZE_PX)
    sharp = 1.0 if crop_bgr is None else 0.25 + 0.75 * sharpness(crop_bgr)
    return size * sharp * _edge_factor(frame_shape, box) * _aspect_factor(w / h)


def sharpness(crop_bgr: np.ndarray) -> float:
    """Variance of the Laplacian at a fixed scale, squashed to [0, 1)."""
    if crop_bgr is None or crop_bgr.size == 0:
        return 0.0
    gray = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    gray = cv2.resize(gray, (SHARP_SIDE, SHARP_SIDE), interpolation=cv2.INTER_AREA)
    var = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return var / (var + SHARP_REF)


def _edge_factor(frame_shape: Sequence[int], box: Box) -> float:
    fh, fw = frame_shape[0], frame_shape[1]
    x1, y1, x2, y2 = box
    touching = sum([x1 <= EDGE_MARGIN_PX, y1 <= EDGE_MARGIN_PX,
                    x2 >= fw - 1 - EDGE_MARGIN_PX, y2 >= fh - 1 - EDGE_MARGIN_PX])
    return EDGE_PENALTY ** touching


def _aspect_factor(aspect: float) -> float:
    lo, hi = ASPECT_RANGE
    if aspect < lo:
        return aspect / lo
    if aspect > hi:
        return hi / aspect
    return 1.0
