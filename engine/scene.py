"""Scene cuts: a montage, an edited clip or a camera that switches views must not link the
boxes of one shot to those of the next into one track.

Cheap on purpose (a 64x36 grey thumbnail per analysed frame): a cut changes most pixels AND the
brightness histogram, while fast motion in one shot changes pixels but keeps the histogram.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

THUMB = (64, 36)
BINS = 32


class CutDetector:
    def __init__(self, min_pixel_change: float = 30.0, min_histogram_change: float = 0.15):
        self.min_pixel_change = min_pixel_change  # mean absolute grey difference, 0..255
        self.min_histogram_change = min_histogram_change  # total variation distance, 0..1
        self._previous: Optional[tuple[np.ndarray, np.ndarray]] = None

    def is_cut(self, frame: np.ndarray) -> bool:
        """Whether `frame` starts a new shot (compared with the previous frame given)."""
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA)
        hist = cv2.calcHist([thumb], [0], None, [BINS], [0, 256]).ravel()
        hist /= max(float(hist.sum()), 1.0)
        previous, self._previous = self._previous, (thumb.astype(np.float32), hist)
        if previous is None:
            return False
        pixels = float(np.abs(self._previous[0] - previous[0]).mean())
        histogram = 0.5 * float(np.abs(hist - previous[1]).sum())
        return pixels >= self.min_pixel_change and histogram >= self.min_histogram_change
