"""Progress.resume_frame: a search restarted there (after a crash) loses nothing and repeats nothing."""
import numpy as np

from engine import api
from tests.engine.conftest import MECHANICS_THRESHOLD


def test_checkpoints_follow_the_reported_intervals_and_resume_cleanly(engine, bikes, street_gallery):
    events = []
    options = api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=3)
    full = engine.search_video(bikes, street_gallery, options,
                               on_progress=lambda p: events.append(("progress", p)),
                               on_interval=lambda i: events.append(("interval", i)))
    checkpoints = [p.resume_frame for kind, p in events if kind == "progress" and p.resume_frame is not None]
    assert checkpoints and checkpoints == sorted(checkpoints)  # only ever moves forward
    for kind, item in events:
        if kind == "progress" and item.resume_frame is not None:
            # (A piece reported early may start after a checkpoint held back by another vehicle:
            # found again after a crash, it joins the stored hit; see searches/hit_merge.py.)
            assert item.resume_frame <= item.frames_done + options.frame_stride
    assert full.intervals, "the registered car must be found"

    # "Crash" at each of a few checkpoints: what was reported before it plus a search restarted
    # from it gives the intervals of the uninterrupted search (give or take a frame step: the
    # restarted tracker has no memory of the tracks that ended before the checkpoint).
    key = lambda iv: (iv.gallery_id, iv.start_frame, iv.end_frame)  # noqa: E731
    for checkpoint in sorted(set(checkpoints))[:: max(1, len(set(checkpoints)) // 3)]:
        before = [iv for iv in full.intervals if iv.start_frame < checkpoint]
        rest = engine.search_video(bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=3, start_frame=checkpoint))
        got, want = sorted(map(key, before + rest.intervals)), sorted(map(key, full.intervals))
        assert len(got) == len(want), (checkpoint, got, want)
        for (g_id, g_start, g_end), (w_id, w_start, w_end) in zip(got, want):
            assert g_id == w_id and abs(g_start - w_start) <= 10 and abs(g_end - w_end) <= 10, (checkpoint, got, want)
    assert np.all(np.diff(checkpoints) >= 0)


def test_a_vehicle_in_view_is_reported_and_checkpointed_segment_by_segment(engine, bikes, street_gallery,
                                                                           monkeypatch):
    # A report on every frame: progress is reported every PROGRESS_S of wall time, so on a fast
    # machine no report might fall within the car's 2 s, and the test would depend on its speed.
    monkeypatch.setattr("engine.pipeline.PROGRESS_S", 0.0)
    whole = engine.search_video(bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=2))
    events = []
    pieces = engine.search_video(bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=2, segment_s=0.5),
                                 on_progress=lambda p: events.append(p), on_interval=lambda i: events.append(i))
    # The parked hatchback (id 8) stays in view for the whole street scene.
    car = max((iv for iv in whole.intervals if iv.gallery_id == 8), key=lambda iv: iv.end_s - iv.start_s)
    streamed = [e for e in events if isinstance(e, api.Interval) and e.gallery_id == 8
                and e.start_s < car.end_s and e.end_s > car.start_s]
    assert len(streamed) >= 2, "a presence longer than the segment comes in pieces"
    # The pieces join back into the interval of the unsegmented search (give or take a frame step).
    joined = [iv for iv in pieces.intervals if iv.gallery_id == 8 and iv.start_s < car.end_s and iv.end_s > car.start_s]
    assert len(joined) == 1
    assert pieces.stats.tracks == whole.stats.tracks  # a track matched in several segments counts once
    assert abs(joined[0].start_frame - car.start_frame) <= 4 and abs(joined[0].end_frame - car.end_frame) <= 4
    # While the car is still in view, the checkpoint has moved past its first frame.
    inside = [e.resume_frame for e in events if isinstance(e, api.Progress) and e.resume_frame
              and car.start_frame < e.resume_frame < car.end_frame]
    assert inside, "the checkpoint must advance while the car is in view"
