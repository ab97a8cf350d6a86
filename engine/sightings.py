"""Questions answered from stored sightings, without re-reading any video.

A sighting (engine.types.Sighting) is one vehicle seen in footage: a track's mean vector, its
colour/type, times and best box. Stored once, it answers later questions:

- `near`: every sighting within a distance of some query vectors (the vehicle's photos), from an
  index of sighting vectors (an engine Gallery whose ids are sighting ids);
- `nearest`: the k nearest sightings to a vector ("find similar");
- `match_sightings`: which sightings are hits of the gallery's vehicles, under the same rules
  (engine.matching) and merged into intervals the same way as a live video search, so a
  threshold changed afterwards gives what a new pass over the video would give.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.gallery import Gallery
from engine.intervals import TrackMatch, join_pieces, merge_intervals
from engine.matching import Matcher
from engine.types import Interval, Refusal, Sighting

FIRST_K = 256  # neighbours fetched per query at first; doubled while all are still near


def near(index: Gallery, queries: np.ndarray, max_distance: float) -> dict[int, float]:
    """Ids of the indexed sightings within `max_distance` of any query, each with its smallest
    distance. Exact on a flat index; on an IVF index, what the probed lists hold."""
    found: dict[int, float] = {}
    if len(index) == 0 or len(queries) == 0:
        return found
    k = min(FIRST_K, len(index))
    while True:
        results = index.search(np.asarray(queries, np.float32), k=k)
        if k >= len(index) or all(not r or r[-1][1] > max_distance for r in results):
            break
        k = min(k * 2, len(index))
    for result in results:
        for sighting_id, distance in result:
            if distance <= max_distance and distance < found.get(sighting_id, 9.0):
                found[sighting_id] = distance
    return found


def nearest(index: Gallery, vector: np.ndarray, k: int, exclude: Sequence[int] = ()) -> list[tuple[int, float]]:
    """The k sightings nearest to `vector`, nearest first, without those in `exclude`."""
    skip = set(int(i) for i in exclude)
    found = index.search(np.asarray(vector, np.float32)[None, :], k=k + len(skip))[0] if len(index) else []
    return [(i, d) for i, d in found if i not in skip][:k]


@dataclass
class SightingHit:
    """An interval of one gallery vehicle made of stored sightings."""

    interval: Interval
    best_sighting: int  # the id of the sighting that shows it best (smallest distance)


def match_sightings(sightings: Sequence[tuple[int, Sighting]], matcher: Matcher,
                    merge_gap_s: float) -> tuple[list[SightingHit], list[tuple[int, Refusal]]]:
    """Decide each (id, sighting) against the matcher's gallery, then merge the accepted ones per
    vehicle into intervals (as engine.pipeline does with tracks). Refusals come with their
    sighting's id. Sightings of different files must not be mixed in one call."""
    if not sightings:
        return [], []
    vectors = np.stack([s.vector for _, s in sightings]).astype(np.float32)
    decisions = matcher.decide(vectors, [s.attributes for _, s in sightings])
    matches, refusals, distance = [], [], {}
    for (sid, s), decision in zip(sightings, decisions):
        if decision is None:
            continue
        if not decision.accepted:
            refusals.append((sid, Refusal(decision.gallery_id, decision.distance, decision.reason,
                                          s.best_time_s, s.best_frame, s.box)))
            continue
        distance[sid] = decision.distance
        matches.append(TrackMatch(
            track_id=sid, gallery_id=decision.gallery_id, distance=decision.distance,
            first_frame=s.start_frame, last_frame=s.end_frame, first_s=s.start_s, last_s=s.end_s,
            best_frame=s.best_frame, best_time_s=s.best_time_s, best_box=s.box, vector=s.vector,
            attributes=s.attributes,
        ))
    intervals = join_pieces(merge_intervals(matches, merge_gap_s), merge_gap_s)
    hits = [SightingHit(iv, min(iv.track_ids, key=lambda sid: distance[sid])) for iv in intervals]
    return hits, refusals
