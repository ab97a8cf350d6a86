"""The search pipeline: image (detect, embed, search) and video (detect, track, embed a few
crops per track, search, merge into intervals), with progress and pause/cancel checks."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from engine.detectors import VEHICLE_CLASSES, load_detector
from engine.draw import crop
from engine.embedder import Embedder
from engine.errors import EngineError, Interrupted
from engine.gallery import Gallery
from engine.intervals import IntervalMerger, TrackMatch, join_pieces
from engine.media import frame_count, iter_frames, read_image
from engine.motion import MotionProposer, merge_proposals
from engine.registry import resolve_detector, resolve_embedder
from engine.track_crops import TrackBook, shrink_frame
from engine.tracker import ByteTracker
from engine.types import (
    Box, Detection, ImageHit, ImageResult, Interval, Progress, VideoResult, VideoStats,
)

PROPOSAL_MODES = ("detector", "motion", "both")
STOP_CHECK_S = 0.25  # how often the caller's stop check runs: cancel lands well within 1 s
PROGRESS_S = 0.25
TRACK_LOW_SCORE = 0.15  # ByteTrack's second stage: weak boxes only extend existing tracks


@dataclass(frozen=True)
class EngineConfig:
    detector: Optional[str] = None  # registry name or path to an ONNX file; None = default
    embedder: Optional[str] = None
    device: str = "cpu"  # "cpu" or "cuda" (falls back to CPU with a warning)
    classes: tuple[str, ...] = VEHICLE_CLASSES
    min_score: float = 0.35
    threads: Optional[int] = None  # onnxruntime threads per model; None = all cores
    detector_options: dict = field(default_factory=dict, hash=False)  # ModelSpec overrides
    embedder_options: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class VideoOptions:
    frame_stride: int = 1
    tracking: bool = True
    threshold: Optional[float] = None  # cosine distance; None = the embedder's default
    proposals: str = "detector"  # "motion"/"both" for fixed cameras looking down
    max_embeds_per_track: int = 3
    merge_gap_s: float = 2.0  # sightings closer than this form one interval
    # A vehicle in view longer than this (parked, queueing) is matched and reported in pieces of
    # this length, so it shows up while the video runs and a crash redoes at most this much.
    segment_s: float = 60.0
    start_frame: int = 0
    top_k: int = 5

    def __post_init__(self):
        if self.frame_stride < 1:
            raise EngineError("frame_stride must be 1 or more")
        if not self.segment_s > 0:
            raise EngineError("segment_s must be more than 0")
        if self.proposals not in PROPOSAL_MODES:
            raise EngineError(f"proposals must be one of {', '.join(PROPOSAL_MODES)}")


class Engine:
    def __init__(self, config: Optional[EngineConfig] = None):
        self.config = config or EngineConfig()
        det_spec = resolve_detector(self.config.detector, **self.config.detector_options)
        emb_spec = resolve_embedder(self.config.embedder, **self.config.embedder_options)
        # The detector keeps weak boxes too; only the tracker may use those (see detect()).
        self.detector = load_detector(
            det_spec, device=self.config.device, classes=self.config.classes,
            min_score=min(self.config.min_score, TRACK_LOW_SCORE), threads=self.config.threads,
        )
        self.embedder = Embedder(emb_spec, device=self.config.device, threads=self.config.threads)

    @property
    def threshold(self) -> float:
        return self.embedder.threshold

    @property
    def fallback_reason(self) -> Optional[str]:
        """Why this engine runs on CPU although `config.device` asked for CUDA (None: it does not)."""
        return self.detector.session.fallback_reason or self.embedder.session.fallback_reason

    @property
    def device(self) -> str:
        """The device the models really run on."""
        return "cpu" if self.fallback_reason else self.config.device

    # -- building blocks -------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[Detection]:
        """Vehicles scoring at least `config.min_score`."""
        return [d for d in self.detector.detect(image) if d.score >= self.config.min_score]

    def detect_for_tracking(self, image: np.ndarray) -> list[Detection]:
        """Also the weak boxes (occluded, blurred) that ByteTrack uses to keep tracks alive."""
        return self.detector.detect(image)

    def embed_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        return self.embedder.embed([crop(image, box)])[0]

    def match(self, vectors: np.ndarray, gallery: Gallery, threshold: float, k: int = 5):
        """Best (gallery_id, distance) per query vector, or None when none is under threshold."""
        if len(gallery) == 0 or len(vectors) == 0:
            return [None] * len(vectors)
        results = gallery.search(vectors, k=k)
        return [r[0] if r and r[0][1] <= threshold else None for r in results]

    # -- images ------------------------------------------------------------------------
    def search_image(self, image, gallery: Gallery, threshold: Optional[float] = None) -> ImageResult:
        if not isinstance(image, np.ndarray):
            image = read_image(image)
        threshold = self.threshold if threshold is None else threshold
        detections = self.detect(image)
        vectors = self.embedder.embed([crop(image, d.box) for d in detections])
        best: dict[int, ImageHit] = {}
        for det, found in zip(detections, self.match(vectors, gallery, threshold)):
            if found and (found[0] not in best or found[1] < best[found[0]].distance):
                best[found[0]] = ImageHit(found[0], float(found[1]), det.box, det.score)
        hits = sorted(best.values(), key=lambda h: h.distance)
        height, width = image.shape[:2]
        return ImageResult(detections, hits, width, height)

    # -- video -------------------------------------------------------------------------
    def search_video(
        self,
        path,
        gallery: Gallery,
        options: VideoOptions = VideoOptions(),
        on_progress: Optional[Callable[[Progress], None]] = None,
        on_interval: Optional[Callable[[Interval], None]] = None,
        should_stop: Optional[Callable[[], Optional[str]]] = None,
    ) -> VideoResult:
        run = _VideoRun(self, gallery, options, on_progress, on_interval, should_stop)
        return run.execute(path)


class _VideoRun:
    """State of one pass over one video; lives only as long as the call."""

    def __init__(self, engine, gallery, options, on_progress, on_interval, should_stop):
        self.engine = engine
        self.gallery = gallery
        self.opt = options
        self.threshold = engine.threshold if options.threshold is None else options.threshold
        self.on_progress = on_progress or (lambda p: None)
        self.on_interval = on_interval or (lambda i: None)
        self.should_stop = should_stop or (lambda: None)
        self.merger = IntervalMerger(options.merge_gap_s, max_span_s=options.segment_s)
        self.tracker = ByteTracker(
            high_thresh=engine.config.min_score, low_thresh=TRACK_LOW_SCORE
        ) if options.tracking else None
        self.book = TrackBook(options.max_embeds_per_track)
        self.motion = MotionProposer() if options.proposals != "detector" else None
        self.intervals: list[Interval] = []
        self.stats = VideoStats(None, 0, 0, 0, 0, 0, 0.0)
        self.shape = (0, 0)
        self.fps = 0.0

    def execute(self, path) -> VideoResult:
        total = frame_count(path)
        self.stats.frames_total = total
        started = last_check = last_progress = time.monotonic()
        index = self.opt.start_frame
        for index, time_s, frame in iter_frames(path, self.opt.frame_stride, self.opt.start_frame):
            now = time.monotonic()
            if now - last_check >= STOP_CHECK_S:
                last_check = now
                reason = self.should_stop()
                if reason:
                    self._finish()
                    raise Interrupted(reason, index)
            self.shape = frame.shape[:2]
            self.fps = index / time_s if time_s > 0 else self.fps
            self._process(index, time_s, frame)
            self.stats.frames_read = index + 1 - self.opt.start_frame
            if now - last_progress >= PROGRESS_S:
                last_progress = now
                self._report(index + 1, total, now - started, resume=self._resume_point(index + self.opt.frame_stride))
        if self.stats.frames_processed == 0 and self.opt.start_frame == 0:
            raise EngineError(f"{getattr(path, 'name', path)}: video has no decodable frames")
        self._finish()
        self.stats.seconds = time.monotonic() - started
        self._report(total or index + 1, total, self.stats.seconds, done=True)
        height, width = self.shape
        return VideoResult(join_pieces(self.intervals, self.opt.merge_gap_s), self.stats, self.fps, width, height)

    def _process(self, index: int, time_s: float, frame: np.ndarray) -> None:
        detections = self._propose(frame)
        self.stats.frames_processed += 1
        self.stats.detections += sum(d.score >= self.engine.config.min_score for d in detections)
        if self.tracker is None:
            self._match_each_detection(index, time_s, frame, detections)
        else:
            tracks = self.tracker.update(detections)
            self.book.observe(index, time_s, frame, tracks, detections)
            self._decide(self.book.ended(self.tracker.active_ids) + self.book.split_long(self.opt.segment_s))
        # An open track may still add a match that starts at its first sighting.
        self._emit(self.merger.close_before(self.book.oldest_start(time_s)))

    def _propose(self, frame: np.ndarray) -> list[Detection]:
        if self.opt.proposals == "motion":
            return self.motion.propose(frame)
        detect = self.engine.detect_for_tracking if self.tracker else self.engine.detect
        detections = detect(frame)
        if self.opt.proposals == "both":
            detections = merge_proposals(detections, self.motion.propose(frame))
        return detections

    def _match_each_detection(self, index, time_s, frame, detections) -> None:
        """Tracking off: embed every detection (the slow, simple path)."""
        crops = [crop(frame, d.box) for d in detections]
        vectors = self.engine.embedder.embed(crops)
        self.stats.embed_calls += len(crops)
        matches = self.engine.match(vectors, self.gallery, self.threshold, self.opt.top_k)
        kept = shrink_frame(frame) if any(matches) else None
        for det, found in zip(detections, matches):
            if found:
                self.merger.add(TrackMatch(
                    track_id=-1, gallery_id=found[0], distance=float(found[1]),
                    first_frame=index, last_frame=index, first_s=time_s, last_s=time_s,
                    best_frame=index, best_time_s=time_s, best_box=det.box, frame=kept[0], frame_scale=kept[1],
                ))

    def _decide(self, finished) -> None:
        """Embed the best crops of tracks that ended, in one batch, and match each track."""
        if not finished:
            return
        chosen = [record.chosen() for record in finished]
        crops = [candidate.pixels for candidates in chosen for candidate in candidates]
        vectors = self.engine.embedder.embed(crops)
        self.stats.embed_calls += len(crops)
        found = self.engine.match(vectors, self.gallery, self.threshold, self.opt.top_k)
        offset = 0
        for record, candidates in zip(finished, chosen):
            match = record.best_match(candidates, found[offset:offset + len(candidates)])
            offset += len(candidates)
            if match:
                self.merger.add(match)

    def _finish(self) -> None:
        """Match every open track and close every interval (end of video, pause or cancel)."""
        if self.tracker is not None:
            self._decide(self.book.flush())
            self.stats.tracks = len(self.book.seen_ids)
        self._emit(self.merger.flush())

    def _emit(self, intervals: list[Interval]) -> None:
        for interval in intervals:
            self.intervals.append(interval)
            self.on_interval(interval)

    def _resume_point(self, next_index: int) -> int:
        """The frame to restart from after a crash: the start of anything not yet reported."""
        return min(self.book.oldest_frame(next_index), self.merger.oldest_open_frame(next_index), next_index)

    def _report(self, frames_done: int, total: Optional[int], elapsed: float, done=False,
                resume: Optional[int] = None) -> None:
        done_here = max(frames_done - self.opt.start_frame, 0)
        speed = done_here / elapsed if elapsed > 0 else 0.0
        fraction = 1.0 if done else (min(frames_done / total, 1.0) if total else 0.0)
        eta = (total - frames_done) / speed if total and speed > 0 and not done else (0.0 if done else None)
        self.on_progress(Progress(fraction, frames_done, total, speed, eta, resume))
