"""Plain data types shared by every engine module and returned by the public API."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the original image


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float
    label: str  # COCO class name ("car", "bus", ...) or "motion" for a motion proposal


@dataclass(frozen=True)
class ImageHit:
    """A detection in a still image that matched a gallery entry."""

    gallery_id: int
    distance: float  # cosine distance, 0 = identical
    box: Box
    detection_score: float


@dataclass
class ImageResult:
    detections: list[Detection]
    hits: list[ImageHit]  # best match per gallery id, sorted by distance
    width: int
    height: int


@dataclass
class Interval:
    """A stretch of video in which one gallery vehicle was seen."""

    gallery_id: int
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int
    best_frame: int
    best_time_s: float
    best_distance: float
    box: Box  # in the best frame
    track_ids: list[int] = field(default_factory=list)
    # The best frame (BGR) for thumbnails, shrunk to at most 960 px: `box` times `frame_scale`
    # is the box in it. Both are dropped by to_dict().
    frame: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    frame_scale: float = 1.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("frame")
        data.pop("frame_scale")
        return data


@dataclass
class VideoStats:
    frames_total: Optional[int]
    frames_read: int
    frames_processed: int  # after frame_stride
    detections: int
    embed_calls: int  # crops sent to the embedder
    tracks: int
    seconds: float


@dataclass
class VideoResult:
    intervals: list[Interval]
    stats: VideoStats
    fps: float
    width: int
    height: int


@dataclass(frozen=True)
class Progress:
    fraction: float  # 0..1
    frames_done: int
    frames_total: Optional[int]
    fps: float  # processing speed, frames read per second
    eta_s: Optional[float]
    # Checkpoint: a search restarted with VideoOptions(start_frame=resume_frame) loses nothing and
    # finds nothing twice, because every interval before it has already gone to on_interval.
    resume_frame: Optional[int] = None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    kind: str  # "image" or "video"
    width: int
    height: int
    fps: float = 0.0
    frame_count: int = 0
    duration_s: float = 0.0
