"""Arrange a job's hits per vehicle and per file for the timeline (bars positioned in %)."""
from dataclasses import dataclass, field

MIN_BAR_PERCENT = 0.8


@dataclass
class Bar:
    hit: object
    left: float
    width: float


@dataclass
class Track:
    file: object
    duration_s: float
    bars: list = field(default_factory=list)
    images: list = field(default_factory=list)  # hits in still images


@dataclass
class VehicleTimeline:
    vehicle: object
    tracks: list = field(default_factory=list)
    hit_count: int = 0


def build_timeline(hits) -> list[VehicleTimeline]:
    by_vehicle: dict[int, VehicleTimeline] = {}
    tracks: dict[tuple[int, int], Track] = {}
    last_end: dict[int, float] = {}  # per file: its scale when its duration is unknown
    for hit in hits:
        last_end[hit.file_id] = max(last_end.get(hit.file_id, 1.0), hit.end_s)
    for hit in sorted(hits, key=lambda h: (h.vehicle.label.lower(), h.vehicle_id, h.file.position, h.start_s)):
        timeline = by_vehicle.setdefault(hit.vehicle_id, VehicleTimeline(hit.vehicle))
        timeline.hit_count += 1
        key = (hit.vehicle_id, hit.file_id)
        if key not in tracks:
            tracks[key] = Track(hit.file, float(hit.file.duration_s or last_end[hit.file_id]))
            timeline.tracks.append(tracks[key])
        track = tracks[key]
        if hit.file.kind == "image":
            track.images.append(hit)
            continue
        left = 100.0 * hit.start_s / track.duration_s
        width = max(MIN_BAR_PERCENT, 100.0 * (hit.end_s - hit.start_s) / track.duration_s)
        track.bars.append(Bar(hit, round(min(left, 100 - MIN_BAR_PERCENT), 2), round(min(width, 100 - left), 2)))
    return list(by_vehicle.values())

