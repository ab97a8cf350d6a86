"""Plain data types shared by every engine module and returned by the public API."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the original image


@dataclass(frozen=True)
class Attributes:
    """Colour and type of a vehicle, as probabilities over the attribute model's classes
    (several crops of one vehicle are averaged, see `mean`)."""

    colours: dict[str, float]
    types: dict[str, float]

    @property
    def colour(self) -> str:
        return max(self.colours, key=self.colours.get)

    @property
    def type(self) -> str:
        return max(self.types, key=self.types.get)

    @property
    def colour_p(self) -> float:
        return self.colours[self.colour]

    @property
    def type_p(self) -> float:
        return self.types[self.type]

    def describe(self) -> str:
        return f"{self.colour} {self.type}"

    def to_dict(self) -> dict:
        return {"colours": {k: round(v, 3) for k, v in self.colours.items()},
                "types": {k: round(v, 3) for k, v in self.types.items()}}

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> Optional[Attributes]:
        if not data or not data.get("colours") or not data.get("types"):
            return None
        return cls({k: float(v) for k, v in data["colours"].items()},
                   {k: float(v) for k, v in data["types"].items()})

    @classmethod
    def mean(cls, items) -> Optional[Attributes]:
        items = [a for a in items if a is not None]
        if not items:
            return None
        def avg(key):
            names = getattr(items[0], key)
            return {n: sum(getattr(a, key).get(n, 0.0) for a in items) / len(items) for n in names}
        return cls(avg("colours"), avg("types"))


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float
    label: str  # the detector's class ("vehicle", "car", "bus", ...) or "motion"
    attributes: Optional[Attributes] = None  # colour and type, where the attribute model runs


@dataclass(frozen=True)
class ImageHit:
    """A detection in a still image that matched a gallery entry."""

    gallery_id: int
    distance: float  # cosine distance, 0 = identical
    box: Box
    detection_score: float
    vector: Optional[np.ndarray] = field(default=None, repr=False, compare=False)  # the crop's embedding
    attributes: Optional[Attributes] = None


@dataclass(frozen=True)
class Refusal:
    """A candidate that came within the threshold of a gallery vehicle but was refused: its
    colour or type disagrees, or it lies closer to a rejected look-alike (a negative example).
    Reported so that staff can see why a near-match is not a hit."""

    gallery_id: int
    distance: float
    reason: str
    time_s: float = 0.0
    frame: int = 0
    box: Optional[Box] = None


@dataclass
class ImageResult:
    detections: list[Detection]
    hits: list[ImageHit]  # best match per gallery id, sorted by distance
    width: int
    height: int
    refusals: list[Refusal] = field(default_factory=list)
    sightings: list[Sighting] = field(default_factory=list)  # one per detection


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
    # The matched track's vector (mean of its embedded crops) and colour/type: kept with a hit so
    # that a rejected hit can become a negative example of the vehicle.
    vector: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    attributes: Optional[Attributes] = None

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("frame", "frame_scale", "vector"):
            data.pop(key)
        data["attributes"] = self.attributes.to_dict() if self.attributes else None
        return data


@dataclass
class Sighting:
    """One vehicle seen in footage, whether or not it matched anything: a track of a video (or a
    piece of a long one, see VideoOptions.segment_s), or a detection in an image. What the
    footage index stores, so later questions need no re-read."""

    start_s: float
    end_s: float
    start_frame: int
    end_frame: int
    best_frame: int
    best_time_s: float
    box: Box  # in the best frame, pixels of the video
    vector: np.ndarray = field(repr=False, compare=False)  # unit mean of the embedded crops
    crops: int = 1  # crops embedded for `vector`
    attributes: Optional[Attributes] = None
    # The best frame's vehicle with some context around it, box drawn (engine.draw.sighting_thumbnail).
    thumbnail: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    track_id: int = -1


@dataclass
class VideoStats:
    frames_total: Optional[int]
    frames_read: int
    frames_processed: int  # after frame_stride
    detections: int
    embed_calls: int  # crops sent to the embedder
    tracks: int
    seconds: float
    cuts: int = 0  # scene cuts seen (tracks never span one)
    # Of frames_processed: those the detector ran on, and those the motion gate skipped
    # (camera="fixed"; on a skipped frame the tracker gets the last detections again).
    frames_detected: int = 0
    frames_skipped: int = 0
    frames_coasted: int = 0  # of frames_skipped: moving tracks followed on their predictions
    detect_reasons: dict = field(default_factory=dict)  # frames_detected by the gate's reason


@dataclass
class VideoResult:
    intervals: list[Interval]
    stats: VideoStats
    fps: float
    width: int
    height: int
    refusals: list[Refusal] = field(default_factory=list)


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
    frames_detected: int = 0  # analysed frames the detector ran on so far (this run)
    frames_skipped: int = 0  # analysed frames the motion gate let through without the detector


@dataclass(frozen=True)
class MediaInfo:
    path: str
    kind: str  # "image" or "video"
    width: int
    height: int
    fps: float = 0.0
    frame_count: int = 0
    duration_s: float = 0.0
