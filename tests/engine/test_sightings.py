"""Sightings: every vehicle a pass sees, reported once, and questions answered from them later."""
import numpy as np

from engine import api
from tests.engine.conftest import MECHANICS_THRESHOLD


def test_every_track_is_a_sighting_reported_before_a_checkpoint_passes_it(engine, bikes, street_gallery):
    events = []
    options = api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=3)
    result = engine.search_video(bikes, street_gallery, options, on_progress=events.append,
                                 on_sighting=events.append)
    sightings = [e for e in events if isinstance(e, api.Sighting)]
    assert len(sightings) >= result.stats.tracks >= 3  # a long track may come in segments
    for s in sightings:
        assert s.start_frame <= s.best_frame <= s.end_frame and s.crops >= 1
        assert abs(float(np.linalg.norm(s.vector)) - 1.0) < 1e-4 and s.thumbnail.shape[2] == 3
        assert max(s.thumbnail.shape[:2]) <= 160
    reported = []
    for event in events:  # a crash at any checkpoint loses no sighting that starts before it
        if isinstance(event, api.Sighting):
            reported.append(event.start_frame)
        elif event.resume_frame is not None:
            later = [s.start_frame for s in sightings if s.start_frame < event.resume_frame]
            assert sorted(later) == sorted(f for f in reported if f < event.resume_frame)


def test_sightings_matched_later_give_the_live_pass_intervals(engine, bikes, street_gallery):
    options = api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=3)
    sightings = []
    live = engine.search_video(bikes, street_gallery, options, on_sighting=sightings.append)
    assert live.intervals
    hits, _ = api.match_sightings(list(enumerate(sightings)), engine.matcher(street_gallery, options),
                                  options.merge_gap_s)
    key = lambda iv: (iv.gallery_id, iv.start_frame, iv.end_frame, round(iv.best_distance, 5))  # noqa: E731
    assert sorted(key(h.interval) for h in hits) == sorted(key(iv) for iv in live.intervals)
    for h in hits:  # the best sighting is the one that shows the interval at its best distance
        assert sightings[h.best_sighting].best_frame == h.interval.best_frame

    strict = engine.matcher(street_gallery, api.VideoOptions(threshold=0.01))
    assert api.match_sightings(list(enumerate(sightings)), strict, options.merge_gap_s)[0] == []


def test_near_finds_everything_within_the_distance_however_many(engine):
    rng = np.random.default_rng(0)
    centre = rng.normal(size=engine.embedder.dim).astype(np.float32)
    close = centre + 0.01 * rng.normal(size=(700, centre.size)).astype(np.float32)  # > FIRST_K of them
    far = rng.normal(size=(300, centre.size)).astype(np.float32)
    index = api.Gallery.build(list(range(1000)), np.vstack([close, far]))
    found = api.near(index, centre[None, :], max_distance=0.05)
    assert set(found) == set(range(700)) and max(found.values()) <= 0.05
    assert api.near(index, centre[None, :], max_distance=0.0) == {}
    nearest = api.nearest(index, close[0], k=5, exclude=[0])
    assert len(nearest) == 5 and 0 not in dict(nearest) and all(i < 700 for i, _ in nearest)
