"""Merge per-track matches into per-vehicle time intervals.

One vehicle often yields several tracks (occlusion, leaving and re-entering the view, a
detector miss longer than the tracker's patience). Matches of the same gallery id that overlap
in time or are separated by at most `gap_s` become one Interval.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from engine.types import Attributes, Box, Interval


@dataclass
class TrackMatch:
    """One finished track that matched one gallery id."""

    track_id: int
    gallery_id: int
    distance: float  # best (smallest) cosine distance over the track's embedded crops
    first_frame: int
    last_frame: int
    first_s: float
    last_s: float
    best_frame: int  # frame of the crop with the smallest distance
    best_time_s: float
    best_box: Box
    frame: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    frame_scale: float = 1.0  # pixels of `frame` per pixel of the video (frames are shrunk)
    vector: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    attributes: Optional[Attributes] = None


class IntervalMerger:
    """Incremental merging, so a long video can report hits while it is still processing.

    Contract for `close_before(t_s)`: every match added later has `first_s >= t_s`. A caller
    should pass min(current time, first_s of the oldest still-active track).
    An interval spanning `max_span_s` or more is emitted as it stands (a parked car is reported
    in pieces); a later piece of the same vehicle may then continue it (see join_pieces).
    """

    def __init__(self, gap_s: float = 2.0, max_span_s: float = math.inf):
        self.gap_s = gap_s
        self.max_span_s = max_span_s
        self._open: dict[int, list[Interval]] = {}  # gallery id -> open intervals

    def add(self, match: TrackMatch) -> None:
        new = _interval(match)
        kept = []
        for iv in self._open.get(match.gallery_id, []):
            if self._touch(iv, new):  # may bridge several open intervals: fold them all in
                new = _merge(iv, new)
            else:
                kept.append(iv)
        self._open[match.gallery_id] = kept + [new]

    def close_before(self, t_s: float) -> list[Interval]:
        """Emit intervals that no later match can extend (end < t_s - gap_s), and long ones."""
        return self._emit(lambda iv: iv.end_s < t_s - self.gap_s or iv.end_s - iv.start_s >= self.max_span_s)

    def oldest_open_frame(self, default: int) -> int:
        """First frame of the earliest interval not emitted yet (`default` when none is open)."""
        return min((iv.start_frame for ivs in self._open.values() for iv in ivs), default=default)

    def flush(self) -> list[Interval]:
        """Emit everything still open (end of video)."""
        return self._emit(lambda iv: True)

    def _touch(self, a: Interval, b: Interval) -> bool:
        return a.start_s <= b.end_s + self.gap_s and b.start_s <= a.end_s + self.gap_s

    def _emit(self, done) -> list[Interval]:
        out = []
        for gid, ivs in list(self._open.items()):
            out += [iv for iv in ivs if done(iv)]
            self._open[gid] = [iv for iv in ivs if not done(iv)]
            if not self._open[gid]:
                del self._open[gid]
        return sorted(out, key=lambda iv: (iv.gallery_id, iv.start_s))


def merge_intervals(matches: Iterable[TrackMatch], gap_s: float = 2.0) -> list[Interval]:
    """All matches at once; sorted by (gallery_id, start_s)."""
    merger = IntervalMerger(gap_s)
    for m in matches:
        merger.add(m)
    return merger.flush()


def join_pieces(intervals: Iterable[Interval], gap_s: float = 2.0) -> list[Interval]:
    """Join the intervals of each vehicle that overlap or lie within gap_s (the pieces of a long
    presence); sorted by (gallery_id, start_s)."""
    joined: list[Interval] = []
    for iv in sorted(intervals, key=lambda iv: (iv.gallery_id, iv.start_s)):
        last = joined[-1] if joined else None
        if last is not None and last.gallery_id == iv.gallery_id and iv.start_s <= last.end_s + gap_s:
            joined[-1] = _merge(last, iv)
        else:
            joined.append(iv)
    return joined


def _interval(m: TrackMatch) -> Interval:
    return Interval(gallery_id=m.gallery_id, start_s=m.first_s, end_s=m.last_s,
                    start_frame=m.first_frame, end_frame=m.last_frame,
                    best_frame=m.best_frame, best_time_s=m.best_time_s,
                    best_distance=m.distance, box=m.best_box, track_ids=[m.track_id],
                    frame=m.frame, frame_scale=m.frame_scale, vector=m.vector, attributes=m.attributes)


def _merge(a: Interval, b: Interval) -> Interval:
    best = a if a.best_distance <= b.best_distance else b
    return Interval(gallery_id=a.gallery_id, start_s=min(a.start_s, b.start_s),
                    end_s=max(a.end_s, b.end_s), start_frame=min(a.start_frame, b.start_frame),
                    end_frame=max(a.end_frame, b.end_frame), best_frame=best.best_frame,
                    best_time_s=best.best_time_s, best_distance=best.best_distance,
                    box=best.box, track_ids=sorted(set(a.track_ids) | set(b.track_ids)),
                    frame=best.frame, frame_scale=best.frame_scale, vector=best.vector,
                    attributes=best.attributes)
