"""Speed and time left from recent speed, not the average since the start: an empty hour of a
fixed camera runs many times faster than a busy minute, and the estimate follows the change
within a few seconds."""
from __future__ import annotations

import math
from typing import Optional


class SpeedMeter:
    """Frames per second as an exponential moving average over about `window_s` seconds."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self.fps: Optional[float] = None
        self._last: Optional[tuple[float, int]] = None  # (time, frames done)

    def update(self, now: float, frames_done: int) -> Optional[float]:
        if self._last is None:
            self._last = (now, frames_done)
            return self.fps
        last_t, last_n = self._last
        dt = now - last_t
        if dt <= 0:
            return self.fps
        speed = (frames_done - last_n) / dt
        weight = 1.0 - math.exp(-dt / self.window_s)  # older samples fade with time, not count
        self.fps = speed if self.fps is None else self.fps + weight * (speed - self.fps)
        self._last = (now, frames_done)
        return self.fps

    def eta(self, frames_left: int) -> Optional[float]:
        if self.fps is None or self.fps <= 0:
            return None
        return max(frames_left, 0) / self.fps
