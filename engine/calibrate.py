"""Calibrate an embedder's match threshold on footage, without labels.

Tracks give the pairs: crops of one track taken far apart in time show the same vehicle (other
light, angle, occlusion), and two tracks in view at the same time show different vehicles. The
threshold is the largest distance that accepts at most `max_false_match` of the different-vehicle
pairs; the report also gives the share of same-vehicle pairs it accepts.

The tracker can be wrong (an identity switch makes a "same" pair of two vehicles), so only long,
confident tracks are used; the pairs are a lower bound on how well the embedder separates.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Optional

import numpy as np
from scipy.stats import mannwhitneyu

from engine.draw import crop
from engine.media import iter_frames
from engine.quality import crop_quality
from engine.tracker import ByteTracker

MIN_TRACK_S = 1.0  # shorter tracks are too likely to be a flicker or a half-seen vehicle
MIN_CROP_HEIGHT = 24


@dataclass
class TrackSample:
    clip: str
    track_id: int
    first_s: float
    last_s: float
    times: list[float] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list, repr=False)


def collect_tracks(engine, path, stride: int = 2, every_s: float = 1.0,
                   max_crops: int = 8) -> list[TrackSample]:
    """Tracks of `path` with a crop every `every_s` seconds (sharp, uncut ones preferred)."""
    tracker = ByteTracker(high_thresh=engine.min_score, low_thresh=engine.low_score)
    samples: dict[int, TrackSample] = {}
    for _, time_s, frame in iter_frames(path, stride):
        detections = engine.detect_for_tracking(frame)
        for track in tracker.update(detections):
            if track.det_index is None:
                continue
            det = detections[track.det_index]
            box = det.box
            if det.score < engine.min_score or box[3] - box[1] < MIN_CROP_HEIGHT:
                continue
            sample = samples.setdefault(track.track_id, TrackSample(str(path), track.track_id, time_s, time_s))
            sample.last_s = time_s
            if (not sample.times or time_s - sample.times[-1] >= every_s) and len(sample.crops) < max_crops:
                if crop_quality(frame.shape, box) > 0:
                    sample.times.append(time_s)
                    sample.crops.append(crop(frame, box).copy())
    return [s for s in samples.values() if s.last_s - s.first_s >= MIN_TRACK_S and len(s.crops) >= 2]


def pair_distances(embed: Callable[[list], np.ndarray], tracks: Sequence[TrackSample],
                   min_gap_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(same-vehicle distances, different-vehicle distances), cosine."""
    vectors = [embed(t.crops) for t in tracks]
    same = []
    for t, v in zip(tracks, vectors):
        for i, j in combinations(range(len(t.crops)), 2):
            if abs(t.times[i] - t.times[j]) >= min_gap_s:
                same.append(1.0 - float(v[i] @ v[j]))
    different = []
    for (a, va), (b, vb) in combinations(list(zip(tracks, vectors)), 2):
        overlap = a.clip == b.clip and a.first_s <= b.last_s and b.first_s <= a.last_s
        if overlap:
            different.extend((1.0 - va @ vb.T).ravel().tolist())
    return np.asarray(same, np.float32), np.asarray(different, np.float32)


def choose_threshold(same: np.ndarray, different: np.ndarray, max_false_match: float = 0.01) -> dict:
    """The largest threshold accepting at most `max_false_match` of the different pairs."""
    if len(different) == 0:
        raise ValueError("no different-vehicle pairs: the clips need vehicles in view at the same time")
    ordered = np.sort(different)
    allowed = int(np.floor(max_false_match * len(ordered)))
    threshold = float(ordered[allowed] - 1e-4) if allowed < len(ordered) else float(ordered[-1])
    return {
        "threshold": round(threshold, 3),
        "false_match": float((different <= threshold).mean()),
        "same_accepted": float((same <= threshold).mean()) if len(same) else None,
        "same_pairs": int(len(same)), "different_pairs": int(len(different)),
        "auc": pair_auc(same, different),
    }


def pair_auc(same: np.ndarray, different: np.ndarray) -> Optional[float]:
    """Probability that a same-vehicle pair is closer than a different-vehicle pair."""
    if len(same) == 0 or len(different) == 0:
        return None
    # Mann-Whitney U over (-distance): U / (n_same * n_different) is the ROC AUC, ties counted half.
    u = mannwhitneyu(-same, -different, alternative="greater").statistic
    return float(u / (len(same) * len(different)))


def table(same: np.ndarray, different: np.ndarray, thresholds: Sequence[float]) -> list[dict]:
    return [{"threshold": t, "same_accepted": float((same <= t).mean()) if len(same) else None,
             "false_match": float((different <= t).mean()) if len(different) else None}
            for t in thresholds]
