"""Per-track bookkeeping for video search: keep the few best crops of each track so a
track costs at most `max_embeds` embedding calls, then match it once when it ends (a track
longer than the segment length is matched once per segment)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.draw import crop, resize_max_side
from engine.intervals import TrackMatch
from engine.quality import crop_quality
from engine.types import Box

SIGHTINGS_PER_EMBED = 10  # one more embedded crop per this many sightings, up to the cap
# Frames kept for thumbnails are shrunk to this side: every open track keeps up to max_embeds of
# them, and a 4K frame is 25 MB (thumbnails are 480 px).
KEPT_FRAME_SIDE = 960


def shrink_frame(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """(frame at most KEPT_FRAME_SIDE on its longer side, its pixels per original pixel)."""
    small = resize_max_side(frame, KEPT_FRAME_SIDE)
    return small, small.shape[1] / frame.shape[1]


@dataclass
class Candidate:
    quality: float
    frame_index: int
    time_s: float
    box: Box
    pixels: np.ndarray  # the crop, copied: frames are reused by the decoder
    frame: np.ndarray  # the frame for the interval thumbnail, shrunk (shrink_frame)
    frame_scale: float = 1.0


@dataclass
class TrackRecord:
    track_id: int
    first_frame: int
    first_s: float
    last_frame: int = 0
    last_s: float = 0.0
    sightings: int = 0
    candidates: list[Candidate] = field(default_factory=list)

    def wants(self, quality: float, keep: int) -> bool:
        """Whether a crop of this quality is among the `keep` best seen so far."""
        return len(self.candidates) < keep or quality > min(c.quality for c in self.candidates)

    def offer(self, candidate: Candidate, keep: int) -> None:
        """Add a crop that wants() accepted, replacing the worst one when full."""
        if len(self.candidates) < keep:
            self.candidates.append(candidate)
        else:
            worst = min(range(keep), key=lambda i: self.candidates[i].quality)
            self.candidates[worst] = candidate

    def chosen(self) -> list[Candidate]:
        """The crops to embed: a short track shows few distinct views, so it gets fewer."""
        wanted = 1 + self.sightings // SIGHTINGS_PER_EMBED
        return sorted(self.candidates, key=lambda c: -c.quality)[:wanted]

    def match(self, gallery_id: int, distance: float, cand: Candidate, vector=None,
              attributes=None) -> TrackMatch:
        """This track as a match of `gallery_id`, shown by the crop `cand`."""
        return TrackMatch(
            track_id=self.track_id, gallery_id=int(gallery_id), distance=float(distance),
            first_frame=self.first_frame, last_frame=self.last_frame,
            first_s=self.first_s, last_s=self.last_s,
            best_frame=cand.frame_index, best_time_s=cand.time_s, best_box=cand.box,
            frame=cand.frame, frame_scale=cand.frame_scale, vector=vector, attributes=attributes,
        )


class TrackBook:
    def __init__(self, max_embeds: int):
        self.max_embeds = max(1, max_embeds)
        self.records: dict[int, TrackRecord] = {}
        self.seen_ids: set[int] = set()  # distinct tracks, however many segments they were matched in

    def observe(self, index: int, time_s: float, frame: np.ndarray, tracks, detections,
                held: bool = False, frames: int = 1) -> None:
        """Count this frame's sighting of each track that took a detection, and keep its crop
        if it is among the track's best. `held`: the detections are the ones the motion gate
        repeats from the last detected frame (engine.gating); nothing in the picture changed, so
        no better crop can appear and only the counts move (unless a record has no crop yet).
        `frames`: frames since the last observation (the tracks coasted over the others): a
        track seen on both sides of them was in view in each, and counts them all, so it gets
        as many embedded crops as without coasting (chosen())."""
        kept = None  # the shrunk frame, made once per frame and only if a crop of it is kept
        for track in tracks:
            if track.det_index is None:
                continue  # coasting on the Kalman prediction: no real pixels this frame
            box = detections[track.det_index].box
            record = self.records.get(track.track_id)
            if record is None:
                record = self.records[track.track_id] = TrackRecord(track.track_id, index, time_s)
                self.seen_ids.add(track.track_id)
            record.sightings += frames if record.sightings else 1
            record.last_frame, record.last_s = index, time_s
            if held and record.candidates:
                continue
            # Sharpness can only lower the score: skip measuring it when even the bound loses.
            if not record.wants(crop_quality(frame.shape, box), self.max_embeds):
                continue
            pixels = crop(frame, box)
            quality = crop_quality(frame.shape, box, pixels)
            if record.wants(quality, self.max_embeds):  # copy the crop only when it is kept
                kept = kept or shrink_frame(frame)
                record.offer(Candidate(quality, index, time_s, box, pixels.copy(), *kept), self.max_embeds)

    def ended(self, alive_ids) -> list[TrackRecord]:
        """Remove and return the records of tracks the tracker has dropped."""
        alive = set(alive_ids)
        gone = [tid for tid in self.records if tid not in alive]
        return [self.records.pop(tid) for tid in gone]

    def split_long(self, span_s: float) -> list[TrackRecord]:
        """Remove and return the records spanning span_s or more, to be matched now; the tracker
        keeps those tracks, and their next sightings start new records."""
        long = [tid for tid, r in self.records.items() if r.last_s - r.first_s >= span_s]
        return [self.records.pop(tid) for tid in long]

    def split_idle(self, now_s: float, idle_s: float) -> list[TrackRecord]:
        """Remove and return the records of tracks unseen for idle_s (the tracker still coasts on
        them): matched now, they no longer hold the checkpoint back; a sighting after this starts
        a new record."""
        idle = [tid for tid, r in self.records.items() if now_s - r.last_s >= idle_s]
        return [self.records.pop(tid) for tid in idle]

    def oldest_start(self, default: float) -> float:
        return min((r.first_s for r in self.records.values()), default=default)

    def oldest_frame(self, default: int) -> int:
        return min((r.first_frame for r in self.records.values()), default=default)

    def flush(self) -> list[TrackRecord]:
        records = list(self.records.values())
        self.records.clear()
        return records
