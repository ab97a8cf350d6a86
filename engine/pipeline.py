"""The search pipeline: image (detect, embed, search) and video (detect, track, embed a few
crops per track, search, merge into intervals), with progress and pause/cancel checks."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from engine.attributes import load_attributes
from engine.decode import FrameReader
from engine.detectors import VEHICLE_CLASSES, load_detector
from engine.draw import crop, sighting_thumbnail
from engine.embedder import Embedder
from engine.errors import EngineError, Interrupted
from engine.gallery import Gallery
from engine.gating import CAMERA_MODES, MotionGate
from engine.intervals import IntervalMerger, TrackMatch, join_pieces
from engine.matching import Decision, Matcher, MatchRules, VehicleProfile
from engine.media import frame_count, read_image
from engine.motion import MotionProposer, merge_proposals
from engine.progress import SpeedMeter
from engine.registry import resolve_attributes, resolve_detector, resolve_embedder
from engine.scene import CutDetector
from engine.track_crops import TrackBook, TrackRecord, shrink_frame
from engine.tracker import ByteTracker
from engine.types import (
    Attributes,
    Box,
    Detection,
    ImageHit,
    ImageResult,
    Interval,
    Progress,
    Refusal,
    Sighting,
    VideoResult,
    VideoStats,
)

PROPOSAL_MODES = ("detector", "motion", "both")
TRACK_VOTES = ("mean", "min")
STOP_CHECK_S = 0.25  # how often the caller's stop check runs: cancel lands well within 1 s
PROGRESS_S = 0.25
TRACK_LOW_SCORE = 0.15  # ByteTrack's second stage when the detector's entry names none
IDLE_S = 1.0  # a track unseen this long is matched with what it has (see TrackBook.split_idle)


@dataclass(frozen=True)
class EngineConfig:
    detector: Optional[str] = None  # registry name or model file path; None = first default present
    embedder: Optional[str] = None
    # Colour/type model: None = the default where its files are present, "" = none.
    attributes: Optional[str] = None
    device: str = "cpu"  # "cpu" or "cuda" (falls back to CPU with a warning)
    classes: tuple[str, ...] = VEHICLE_CLASSES
    min_score: Optional[float] = None  # a vehicle from this score; None = the detector's entry
    threads: Optional[int] = None  # inference threads per model; None = all cores
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
    # A track's embedded crops decide together: "mean" matches their mean vector; "min" (the old
    # rule) lets the single closest crop decide.
    track_vote: str = "mean"
    # Colour/type agreement and negative examples (engine.matching); 0 turns a rule off.
    min_colour_agreement: float = MatchRules.min_colour_agreement
    min_type_agreement: float = MatchRules.min_type_agreement
    negative_margin: float = MatchRules.negative_margin
    # "fixed": the detector runs only where the picture changed, now and then when nothing moves,
    # and on every frame while the camera moves or after a cut (engine.gating); needs tracking.
    # "moving": the detector runs on every analysed frame.
    camera: str = "moving"

    def __post_init__(self):
        if self.frame_stride < 1:
            raise EngineError("frame_stride must be 1 or more")
        if self.track_vote not in TRACK_VOTES:
            raise EngineError(f"track_vote must be one of {', '.join(TRACK_VOTES)}")
        if not self.segment_s > 0:
            raise EngineError("segment_s must be more than 0")
        if self.proposals not in PROPOSAL_MODES:
            raise EngineError(f"proposals must be one of {', '.join(PROPOSAL_MODES)}")
        if self.camera not in CAMERA_MODES:
            raise EngineError(f"camera must be one of {', '.join(CAMERA_MODES)}")


class Engine:
    def __init__(self, config: Optional[EngineConfig] = None):
        self.config = config or EngineConfig()
        det_spec = resolve_detector(self.config.detector, **self.config.detector_options)
        emb_spec = resolve_embedder(self.config.embedder, **self.config.embedder_options)
        att_spec = None if self.config.attributes == "" else resolve_attributes(self.config.attributes)
        self.min_score = self.config.min_score if self.config.min_score is not None else det_spec.min_score or 0.35
        self.low_score = min(self.min_score, det_spec.low_score or TRACK_LOW_SCORE)
        # The detector keeps weak boxes too; only the tracker may use those (see detect()).
        self.detector = load_detector(det_spec, device=self.config.device, classes=self.config.classes,
                                      min_score=self.low_score, threads=self.config.threads)
        self.embedder = Embedder(emb_spec, device=self.config.device, threads=self.config.threads)
        self.attributes = load_attributes(att_spec, device=self.config.device, threads=self.config.threads)

    @property
    def threshold(self) -> float:
        return self.embedder.threshold

    @property
    def models(self) -> dict[str, str]:
        """The models in use, by role (for job pages and exports)."""
        names = {"detector": self.detector.spec.name, "embedder": self.embedder.name}
        if self.attributes is not None:
            names["attributes"] = self.attributes.name
        return names

    @property
    def device_notes(self) -> list[str]:
        """Why a model runs elsewhere than asked (a CUDA request on a machine without CUDA)."""
        models = [self.detector.model, self.embedder.model] + ([self.attributes.model] if self.attributes else [])
        return sorted({f"{m.path.name}: {m.fallback}" for m in models if m.fallback})

    @property
    def fallback_reason(self) -> Optional[str]:
        """Why this engine runs on CPU although `config.device` asked for CUDA (None: it does not)."""
        return "; ".join(self.device_notes) or None

    @property
    def device(self) -> str:
        """The device the models really run on."""
        return "cpu" if self.fallback_reason else self.config.device

    # -- building blocks -------------------------------------------------------------
    def detect(self, image: np.ndarray, with_attributes: bool = False) -> list[Detection]:
        """Vehicles scoring at least the detector's min_score (with colour and type if asked
        and the attribute model is present)."""
        detections = [d for d in self.detector.detect(image) if d.score >= self.min_score]
        return self.describe(image, detections) if with_attributes else detections

    def detect_for_tracking(self, image: np.ndarray) -> list[Detection]:
        """Also the weak boxes (occluded, blurred) that ByteTrack uses to keep tracks alive."""
        return self.detector.detect(image)

    def classify(self, crops: list[np.ndarray]) -> list[Optional[Attributes]]:
        """Colour and type per crop; None for each without the attribute model."""
        if self.attributes is None or not crops:
            return [None] * len(crops)
        return self.attributes.classify(crops)

    def describe(self, image: np.ndarray, detections: list[Detection]) -> list[Detection]:
        """The detections with their colour and type (unchanged without the attribute model)."""
        found = self.classify([crop(image, d.box) for d in detections])
        return [replace(d, attributes=a) for d, a in zip(detections, found)]

    def attributes_of(self, image: np.ndarray, box: Box):
        """Colour and type of the vehicle in `box`, or None without the attribute model."""
        return self.classify([crop(image, box)])[0]

    def embed_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        return self.embedder.embed([crop(image, box)])[0]

    def matcher(self, gallery: Gallery, options: VideoOptions,
                profiles: Optional[dict[int, VehicleProfile]] = None) -> Matcher:
        rules = MatchRules(
            threshold=self.threshold if options.threshold is None else options.threshold,
            min_colour_agreement=options.min_colour_agreement,
            min_type_agreement=options.min_type_agreement, negative_margin=options.negative_margin,
        )
        return Matcher(gallery, rules, profiles, k=options.top_k)

    # -- images ------------------------------------------------------------------------
    def search_image(self, image, gallery: Gallery, options: Optional[VideoOptions] = None,
                     profiles: Optional[dict[int, VehicleProfile]] = None) -> ImageResult:
        """Every vehicle in the image matched against the gallery: the best hit per vehicle id,
        and the near-matches refused by the colour/type and negative-example rules. Of
        `options`, only the threshold and the matching rules apply to an image."""
        if not isinstance(image, np.ndarray):
            image = read_image(image)
        options = options or VideoOptions()
        detections = self.detect(image, with_attributes=True)
        vectors = self.embedder.embed([crop(image, d.box) for d in detections])
        sightings = [_image_sighting(image, d, v) for d, v in zip(detections, vectors)]
        decisions = self.matcher(gallery, options, profiles).decide(vectors, [d.attributes for d in detections])
        best: dict[int, ImageHit] = {}
        refusals = []
        for det, vector, decision in zip(detections, vectors, decisions):
            if decision is None:
                continue
            if not decision.accepted:
                refusals.append(Refusal(decision.gallery_id, decision.distance, decision.reason, box=det.box))
            elif decision.gallery_id not in best or decision.distance < best[decision.gallery_id].distance:
                best[decision.gallery_id] = ImageHit(decision.gallery_id, decision.distance, det.box, det.score,
                                                     vector, det.attributes)
        hits = sorted(best.values(), key=lambda h: h.distance)
        height, width = image.shape[:2]
        return ImageResult(detections, hits, width, height, refusals, sightings)

    # -- video -------------------------------------------------------------------------
    def search_video(
        self,
        path,
        gallery: Gallery,
        options: VideoOptions = VideoOptions(),
        on_progress: Optional[Callable[[Progress], None]] = None,
        on_interval: Optional[Callable[[Interval], None]] = None,
        should_stop: Optional[Callable[[], Optional[str]]] = None,
        profiles: Optional[dict[int, VehicleProfile]] = None,
        on_refusal: Optional[Callable[[Refusal], None]] = None,
        on_sighting: Optional[Callable[[Sighting], None]] = None,
    ) -> VideoResult:
        """`profiles`: per gallery id, its colour/type and negative examples (engine.matching);
        `on_refusal` hears of near-matches those rules refused; `on_sighting` of every vehicle
        seen (a track, or a piece of a long one), matched or not, before its match is reported
        and before any checkpoint passes its first frame."""
        run = _VideoRun(self, gallery, options, on_progress, on_interval, should_stop, profiles, on_refusal,
                        on_sighting)
        return run.execute(path)


def _image_sighting(image: np.ndarray, det: Detection, vector: np.ndarray) -> Sighting:
    return Sighting(0.0, 0.0, 0, 0, 0, 0.0, det.box, vector, 1, det.attributes,
                    sighting_thumbnail(image, det.box))


class _VideoRun:
    """State of one pass over one video; lives only as long as the call."""

    def __init__(self, engine, gallery, options, on_progress, on_interval, should_stop,
                 profiles=None, on_refusal=None, on_sighting=None):
        self.engine = engine
        self.gallery = gallery
        self.opt = options
        self.matcher = engine.matcher(gallery, options, profiles)
        self.on_progress = on_progress or (lambda p: None)
        self.on_interval = on_interval or (lambda i: None)
        self.on_refusal = on_refusal or (lambda r: None)
        self.on_sighting = on_sighting  # None: no sighting is made (their thumbnails cost a resize each)
        self.should_stop = should_stop or (lambda: None)
        self.refusals: list[Refusal] = []
        self.merger = IntervalMerger(options.merge_gap_s, max_span_s=options.segment_s)
        self.tracker = ByteTracker(
            high_thresh=engine.min_score, low_thresh=engine.low_score
        ) if options.tracking else None
        self.book = TrackBook(options.max_embeds_per_track)
        self.cuts = CutDetector()
        self.motion = MotionProposer() if options.proposals != "detector" else None
        # Gating only with a detector and a tracker: a skipped frame repeats the last detections,
        # which only the tracker can take (tracking=False would embed them all again).
        gated = options.camera == "fixed" and options.tracking and options.proposals != "motion"
        self.gate = MotionGate() if gated else None
        # The last detected frame's boxes that confirmed tracks took: what a skipped frame shows.
        self._held: list[Detection] = []
        self._held_ids: set[int] = set()  # the tracks that took them
        self._coasted = 0  # frames since the tracker's last update (engine.gating "coast")
        self.speed = SpeedMeter()
        self.intervals: list[Interval] = []
        self.stats = VideoStats(None, 0, 0, 0, 0, 0, 0.0)
        self.shape = (0, 0)
        self.fps = 0.0

    def execute(self, path) -> VideoResult:
        total = frame_count(path)
        self.stats.frames_total = total
        started = last_check = last_progress = time.monotonic()
        self.speed.update(started, self.opt.start_frame)
        index = self.opt.start_frame
        with FrameReader(path, self.opt.frame_stride, self.opt.start_frame) as frames:
            for index, time_s, frame in frames:
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
                    self._report(index + 1, total, now, resume=self._resume_point(index + self.opt.frame_stride))
        if self.stats.frames_processed == 0 and self.opt.start_frame == 0:
            raise EngineError(f"{getattr(path, 'name', path)}: video has no decodable frames")
        self._finish()
        self.stats.seconds = time.monotonic() - started
        if self.gate is not None:
            self.stats.detect_reasons = dict(self.gate.reasons)
        self._report(total or index + 1, total, time.monotonic(), done=True)
        height, width = self.shape
        return VideoResult(join_pieces(self.intervals, self.opt.merge_gap_s), self.stats, self.fps, width, height,
                           self.refusals)

    def _process(self, index: int, time_s: float, frame: np.ndarray) -> None:
        # The gate's grey thumbnail serves the cut detector too: one shrink of the frame, not two.
        thumb = self.gate.thumbnail(frame) if self.gate is not None else frame
        cut = self.tracker is not None and self.cuts.is_cut(thumb)
        detections = self._propose(frame, time_s, cut, thumb)
        self.stats.frames_processed += 1
        if cut:
            # A new shot: every track of the last one ends here, none carries over.
            self._decide(self.book.flush())
            self.tracker.reset()
            self.stats.cuts += 1
        if self.tracker is None:
            self._match_each_detection(index, time_s, frame, detections)
        elif self.gate is not None and self.gate.coasting:
            self._coasted += 1  # the tracker predicts over this frame at its next update
        else:
            steps, self._coasted = 1 + self._coasted, 0
            held = self.gate is not None and self.gate.last_reason is None
            if held and len(detections) == len(self._held):
                # The picture the detector last saw, and nothing else to place (proposals="both"
                # adds a motion box, if any, after the held ones): its tracks stay where they were.
                tracks = self.tracker.hold(frames=steps)
            else:
                tracks = self.tracker.update(detections, frames=steps)
                if self.gate is not None:
                    self._hold(tracks, detections)
            self.book.observe(index, time_s, frame, tracks, detections, held=held, frames=steps)
            self._decide(self.book.ended(self.tracker.active_ids) + self.book.split_long(self.opt.segment_s)
                         + self.book.split_idle(time_s, IDLE_S))
        # An open track may still add a match that starts at its first sighting.
        self._emit(self.merger.close_before(self.book.oldest_start(time_s)))

    def _hold(self, tracks, detections) -> None:
        """Hold only what confirmed tracks took: a box seen in one frame (a false positive, or a
        new track's first sighting) is never repeated into a track of its own. Kept after every
        tracker update, in the order it returned the tracks, which tracker.hold() relies on.
        A periodic re-check that finds the same tracks and no new one lets the gate look less
        often."""
        before = self._held_ids
        self._held = [detections[t.det_index] for t in tracks if t.det_index is not None]
        self._held_ids = {t.track_id for t in tracks if t.det_index is not None}
        if self.gate.last_reason == "periodic":
            self.gate.settled(self._held_ids == before and not self.tracker.has_tentative)

    def _propose(self, frame: np.ndarray, time_s: float, cut: bool, thumb: np.ndarray) -> list[Detection]:
        if self.opt.proposals == "motion":
            return self._count(self.motion.propose(frame))
        if self.gate is None or self.gate.check_thumbnail(thumb, time_s, cut, self.tracker.has_tentative,
                                                          self.tracker.can_coast):
            detect = self.engine.detect_for_tracking if self.tracker else self.engine.detect
            detections = detect(frame)
            self.stats.frames_detected += 1
            self._count(detections)
        else:  # held: nothing changed since the detector's last frame, its boxes still hold
            detections = self._held if not self.gate.coasting else []
            self.stats.frames_skipped += 1
            self.stats.frames_coasted += self.gate.coasting
        if self.opt.proposals == "both":
            detections = merge_proposals(detections, self.motion.propose(frame))
        return detections

    def _count(self, detections: list[Detection]) -> list[Detection]:
        self.stats.detections += sum(d.score >= self.engine.min_score for d in detections)
        return detections

    def _match_each_detection(self, index, time_s, frame, detections) -> None:
        """Tracking off: embed every detection (the slow, simple path)."""
        crops = [crop(frame, d.box) for d in detections]
        vectors = self.engine.embedder.embed(crops)
        self.stats.embed_calls += len(crops)
        attrs = self.engine.classify(crops)
        decisions = self.matcher.decide(vectors, attrs)
        kept = shrink_frame(frame) if any(d and d.accepted for d in decisions) else None
        for det, vector, attr, decision in zip(detections, vectors, attrs, decisions):
            if self.on_sighting:
                self.on_sighting(Sighting(time_s, time_s, index, index, index, time_s, det.box, vector, 1, attr,
                                          sighting_thumbnail(frame, det.box)))
            if decision is None:
                continue
            if not decision.accepted:
                self._refused(decision, index, time_s, det.box)
                continue
            self.merger.add(TrackMatch(
                track_id=-1, gallery_id=decision.gallery_id, distance=decision.distance,
                first_frame=index, last_frame=index, first_s=time_s, last_s=time_s,
                best_frame=index, best_time_s=time_s, best_box=det.box, frame=kept[0], frame_scale=kept[1],
                vector=vector, attributes=attr,
            ))

    def _decide(self, finished: list[TrackRecord]) -> None:
        """Embed the best crops of tracks that ended, in one batch, and match each track: its
        crops decide together (mean vector, mean colour/type), see VideoOptions.track_vote."""
        if not finished:
            return
        chosen = [record.chosen() for record in finished]
        crops = [candidate.pixels for candidates in chosen for candidate in candidates]
        vectors = self.engine.embedder.embed(crops)
        attrs = self.engine.classify(crops)
        self.stats.embed_calls += len(crops)
        offset = 0
        for record, candidates in zip(finished, chosen):
            part = slice(offset, offset + len(candidates))
            offset += len(candidates)
            track_attrs = Attributes.mean(attrs[part])
            mean = _unit_mean(vectors[part])
            if self.on_sighting:
                self.on_sighting(_track_sighting(record, candidates[0], mean, len(candidates), track_attrs))
            match = self._match_track(record, candidates, vectors[part], track_attrs, mean)
            if match:
                self.merger.add(match)

    def _match_track(self, record: TrackRecord, candidates, vectors, track_attrs, mean) -> Optional[TrackMatch]:
        if self.opt.track_vote == "mean":
            decision = self.matcher.decide(mean[None, :], [track_attrs])[0]
            vector, best = mean, 0  # the thumbnail: the best-quality crop (chosen() sorts by it)
        else:
            decisions = self.matcher.decide(vectors, [track_attrs] * len(vectors))
            order = sorted(range(len(decisions)), key=lambda i: (decisions[i] is None or not decisions[i].accepted,
                                                                  decisions[i].distance if decisions[i] else 9))
            best = order[0]
            decision, vector = decisions[best], vectors[best]
        if decision is None:
            return None
        cand = candidates[best]
        if not decision.accepted:
            self._refused(decision, cand.frame_index, cand.time_s, cand.box)
            return None
        return record.match(decision.gallery_id, decision.distance, cand, vector, track_attrs)

    def _refused(self, decision: Decision, frame: int, time_s: float, box) -> None:
        refusal = Refusal(decision.gallery_id, decision.distance, decision.reason, time_s, frame, box)
        self.refusals.append(refusal)
        self.on_refusal(refusal)

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

    def _report(self, frames_done: int, total: Optional[int], now: float, done=False,
                resume: Optional[int] = None) -> None:
        """Speed and ETA from the last few seconds (engine.progress), not the whole run's average."""
        speed = self.speed.update(now, frames_done) or 0.0
        fraction = 1.0 if done else (min(frames_done / total, 1.0) if total else 0.0)
        eta = 0.0 if done else (self.speed.eta(total - frames_done) if total else None)
        self.on_progress(Progress(fraction, frames_done, total, speed, eta, resume,
                                  self.stats.frames_detected, self.stats.frames_skipped))


def _unit_mean(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _track_sighting(record: TrackRecord, best, vector: np.ndarray, crops: int, attributes) -> Sighting:
    """The track as a sighting, shown by its best-quality crop `best` (chosen() sorts by it)."""
    return Sighting(record.first_s, record.last_s, record.first_frame, record.last_frame, best.frame_index,
                    best.time_s, best.box, vector, crops, attributes,
                    sighting_thumbnail(best.frame, best.box, best.frame_scale), record.track_id)
