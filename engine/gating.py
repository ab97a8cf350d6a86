"""Motion-gated detection for fixed cameras (`VideoOptions(camera="fixed")`).

Most frames of a fixed camera show nothing new: the detector would find the same boxes as in
the last frame it saw. `MotionGate` compares each analysed frame, shrunk to a 160 px wide grey
thumbnail, with the thumbnail of the last frame the detector ran on, and lets the detector run
only when that is needed:

- "first":    the first frame;
- "motion":   some pixels changed since the last detection (a vehicle moves, arrives, leaves,
              or drifts slowly: the comparison is with the last *detected* frame, so slow change
              adds up until it shows). While the tracker can coast (every track it follows has
              a known velocity, none waits for confirmation), motion is detected at most every
              `motion_period_s` and the tracks coast on their Kalman predictions in between
              ("coast": a skipped frame the tracker does not see at all), provided the camera
              has held still for `steady_s`: a camera that drifts too slowly to count as a pan
              moves every track the tracker's constant velocity does not know of;
- "camera":   the whole picture shifted (phase correlation of the thumbnails: a pan, a shake),
              or most of it changed (a zoom, a light switched on): gating is off for `hold_s`
              after, every frame is detected;
- "cut":      a scene cut (engine.scene.CutDetector): off for `hold_s` too;
- "hold":     within `hold_s` of a camera change or a cut;
- "track":    the tracker has a new (tentative) track, which needs a detection in the next frame
              to be confirmed;
- "periodic": nothing moved for `period_s`: detect anyway, now and then (a stopped vehicle, a
              detector that needed a second look, light that changed too slowly to show).
              When such a re-check finds only the boxes already held (`settled`), the period
              doubles, up to `max_period_s`; any other reason to detect restores `period_s`.

On a held frame (skipped, not coasted) the picture is the one the detector last saw (no pixel
changed beyond sensor noise), so the tracker sees the confirmed tracks of that detection again
with the same boxes (ByteTracker.hold): tracks stay alive and where they are, and every
time-based rule (track ends, idle and segment splits, interval merging) sees every analysed frame
as without gating. A box the detector found once and no track took is not repeated (a false
positive must not become a track by being copied), and a new track gets a real detection in the
next frame.

Cost: two resizes and a subtraction of 160x90 pixels, ~0.3 ms a frame (720p), against ~35-70 ms
for the detector.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

import cv2
import numpy as np

CAMERA_MODES = ("moving", "fixed")
GATE_WIDTH = 160
# Grey levels (0..255) a thumbnail pixel must change by to count: compressed video of a still
# scene moves thumbnail pixels by up to ~10 (measured on street-parked-cars.mp4).
PIXEL_CHANGE = 16
COAST = "coast"  # last_reason of a frame skipped while tracks coast
DRIFT_WINDOW_S = 0.25


class MotionGate:
    def __init__(self, width: int = GATE_WIDTH, pixel_change: int = PIXEL_CHANGE,
                 min_changed_px: int = 2, camera_fraction: float = 0.25,
                 camera_shift_px: float = 0.4, period_s: float = 2.0, hold_s: float = 1.0,
                 max_period_s: float = 30.0, motion_period_s: float = 0.2,
                 drift_px_s: float = 2.0, steady_s: float = 2.0):
        self.width = width
        self.pixel_change = pixel_change
        self.min_changed_px = min_changed_px  # thumbnail pixels: a vehicle 40 px wide is ~100
        self.camera_fraction = camera_fraction  # this share of the picture changed: not a vehicle
        # Global shift, thumbnail pixels: a 4 px pan at 640 px is 1; a vehicle moving through a
        # still street shifts the correlation peak by < 0.1 (street-parked-cars.mp4).
        self.camera_shift_px = camera_shift_px
        # Nothing moved for this long: detect anyway. 1 s spent half the detector's time on the
        # still stretches of benchmarks/bench_long.py's clip; 2 s found the same intervals.
        # Re-checks that keep finding the same boxes back off to max_period_s: 8 s cut that clip's
        # detections at 10 minutes from 835 to 648, 30 s its re-checks from 99 to 41, with the
        # same intervals (a vehicle that arrives or leaves moves, and that is detected at once).
        self.period_s = self.base_period_s = period_s
        self.max_period_s = max(period_s, max_period_s)
        self.hold_s = hold_s
        # Moving vehicles that the tracker follows are detected this often: at 0.2 s a car
        # crossing the view moves a fraction of its length, which the Kalman prediction covers.
        self.motion_period_s = motion_period_s
        # Camera drift, thumbnail pixels per second, measured over DRIFT_WINDOW_S: passing
        # vehicles move the street clip's correlation peak by at most 1.2 px/s, the hand-held
        # shots of bikes.mp4 by 2 px/s or more in 71 % of their frames. No coasting for steady_s
        # after drift: coasting there cost bikes.mp4 0.054 of its interval recall; 1 s of
        # steadiness gave back 0.046 of it, 2 s all (the street clip the same at either).
        self.drift_px_s = drift_px_s
        self.steady_s = steady_s
        self.reasons: Counter = Counter()  # frames detected, by reason
        self.skipped = 0  # held and coasted frames
        self.coasted = 0
        self.last_reason: Optional[str] = None  # None: held; COAST: coasted; else why it detected
        self._ref: Optional[np.ndarray] = None
        self._ref_s = 0.0
        self._off_until = -1.0
        self._anchor: Optional[np.ndarray] = None  # the thumbnail drift is measured from
        self._anchor_s = 0.0
        self._steady_from = 0.0  # no drift seen since

    def thumbnail(self, frame: np.ndarray) -> np.ndarray:
        """The frame, grey and `width` pixels wide. Sampled down to twice that size first (a
        bilinear resize reads only the pixels it needs), then averaged: a third of the cost of
        converting every pixel of a 720p frame, and each thumbnail pixel still averages ~16
        source pixels, which keeps sensor and compression noise far below PIXEL_CHANGE."""
        height = max(1, round(frame.shape[0] * self.width / frame.shape[1]))
        if frame.shape[1] > 4 * self.width:
            frame = cv2.resize(frame, (2 * self.width, 2 * height), interpolation=cv2.INTER_LINEAR)
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        return cv2.resize(grey, (self.width, height), interpolation=cv2.INTER_AREA)

    def check(self, frame: np.ndarray, time_s: float, cut: bool = False, track_waits: bool = False,
              may_coast: bool = False) -> bool:
        """Whether the detector must run on this frame (see the module doc for the reasons);
        `track_waits`: a new track needs this frame's detection; `may_coast`: the tracker can
        follow its tracks without it for motion_period_s."""
        return self.check_thumbnail(self.thumbnail(frame), time_s, cut, track_waits, may_coast)

    def check_thumbnail(self, thumb: np.ndarray, time_s: float, cut: bool = False, track_waits: bool = False,
                        may_coast: bool = False) -> bool:
        """check() on a frame already shrunk by thumbnail() (the pipeline shares it with the cut detector)."""
        self._measure_drift(thumb, time_s, cut)
        reason = self._reason(thumb, time_s, cut, track_waits, may_coast)
        self.last_reason = reason
        if reason is None or reason == COAST:
            self.skipped += 1
            self.coasted += reason == COAST
            return False
        self.reasons[reason] += 1
        if reason != "periodic":
            self.period_s = self.base_period_s  # something happened: look again soon
        self._ref, self._ref_s = thumb, time_s
        return True

    def settled(self, nothing_new: bool) -> None:
        """After a periodic detection: whether it found just what was held. A still scene that
        keeps showing the same boxes is looked at less and less often (the held boxes keep its
        tracks alive meanwhile), up to max_period_s; anything new restores the base period."""
        if nothing_new:
            self.period_s = min(2 * self.period_s, self.max_period_s)
        else:
            self.period_s = self.base_period_s

    @property
    def detected(self) -> int:
        return sum(self.reasons.values())

    @property
    def coasting(self) -> bool:
        return self.last_reason == COAST

    def _reason(self, thumb: np.ndarray, time_s: float, cut: bool, track_waits: bool,
                may_coast: bool = False) -> Optional[str]:
        if self._ref is None or self._ref.shape != thumb.shape:
            return "first"
        if cut:
            self._off_until = time_s + self.hold_s
            return "cut"
        changed = self._changed(self._ref, thumb)
        if changed >= self.camera_fraction * thumb.size or (
                changed >= self.min_changed_px and _shift(self._ref, thumb) >= self.camera_shift_px):
            self._off_until = time_s + self.hold_s
            return "camera"
        if time_s < self._off_until:
            return "hold"
        if changed >= self.min_changed_px:
            coast = (may_coast and not track_waits and time_s >= self._steady_from
                     and time_s - self._ref_s < self.motion_period_s - 1e-9)
            return COAST if coast else "motion"
        if track_waits:
            return "track"
        if time_s - self._ref_s >= self.period_s - 1e-9:
            return "periodic"
        return None

    def _measure_drift(self, thumb: np.ndarray, time_s: float, cut: bool) -> None:
        """Every DRIFT_WINDOW_S, the global shift since the last measure (over a window: a shift
        of a twentieth of a pixel between two frames is below what phase correlation resolves)."""
        if cut or self._anchor is None or self._anchor.shape != thumb.shape:
            self._anchor, self._anchor_s, self._steady_from = thumb, time_s, time_s + self.steady_s
            return
        elapsed = time_s - self._anchor_s
        if elapsed < DRIFT_WINDOW_S - 1e-9:
            return
        # A picture that did not change did not drift: no transform on still stretches.
        if (self._changed(self._anchor, thumb) >= self.min_changed_px
                and _shift(self._anchor, thumb) >= self.drift_px_s * elapsed):
            self._steady_from = time_s + self.steady_s
        self._anchor, self._anchor_s = thumb, time_s

    def _changed(self, before: np.ndarray, after: np.ndarray) -> int:
        """Thumbnail pixels that changed by PIXEL_CHANGE or more."""
        return int(np.count_nonzero(cv2.absdiff(after, before) >= self.pixel_change))


def _shift(before: np.ndarray, after: np.ndarray) -> float:
    """How far the whole picture moved, thumbnail pixels (phase correlation); 0 when the peak is
    too weak to call it a shift of the whole picture."""
    (dx, dy), response = cv2.phaseCorrelate(before.astype(np.float32), after.astype(np.float32))
    return (dx * dx + dy * dy) ** 0.5 if response >= 0.3 else 0.0
