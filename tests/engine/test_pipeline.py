"""The whole pipeline on real media with the real models."""
import numpy as np
import pytest

from engine import api
from tests.engine.conftest import MECHANICS_THRESHOLD, REGISTER_FRAME, STREET_FRAMES

FPS = 25.0


def test_registered_car_is_found_as_an_interval(engine, bikes, street_gallery):
    progress = []
    streamed = []
    result = engine.search_video(
        bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=2),
        on_progress=progress.append, on_interval=streamed.append,
    )
    hits = [i for i in result.intervals if i.gallery_id == 7]
    assert hits, "the car registered from frame 150 must be found in its own scene"
    best = min(hits, key=lambda i: i.best_distance)
    first, last = STREET_FRAMES
    # In view from about frame 140; the detectors first see it whole a few frames after 150.
    assert first / FPS - 0.5 <= best.start_s <= (REGISTER_FRAME + 4) / FPS and best.end_s <= last / FPS + 0.5
    assert best.frame is not None and best.frame.shape == (272, 640, 3)
    assert streamed == result.intervals
    assert progress[-1].fraction == 1.0 and progress[-1].eta_s == 0.0
    assert all(0 <= p.fraction <= 1 for p in progress)


def test_tracking_cuts_embedding_calls(engine, bikes, street_gallery):
    tracked = engine.search_video(bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=2))
    calls_per_detection = tracked.stats.embed_calls / tracked.stats.detections
    assert calls_per_detection <= 0.2, calls_per_detection
    untracked = engine.search_video(
        bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=5, tracking=False)
    )
    assert untracked.stats.embed_calls == untracked.stats.detections
    assert any(i.gallery_id == 7 for i in untracked.intervals)


def test_cancel_stops_quickly_and_resume_continues(engine, bikes, street_gallery):
    calls = []

    def stop_after_first_check():
        calls.append(1)
        return "pause" if len(calls) >= 2 else None

    with pytest.raises(api.Interrupted) as info:
        engine.search_video(bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, frame_stride=2),
                            should_stop=stop_after_first_check)
    assert info.value.reason == "pause"
    resume = info.value.resume_frame
    assert 0 < resume < 250
    rest = engine.search_video(bikes, street_gallery, api.VideoOptions(threshold=MECHANICS_THRESHOLD, start_frame=resume, frame_stride=5))
    assert rest.stats.frames_processed == len(range(resume, 250, 5))


def test_image_search_finds_the_registered_car(engine, bikes_frames, street_gallery):
    result = engine.search_image(bikes_frames[REGISTER_FRAME + 2], street_gallery,
                                 api.VideoOptions(threshold=MECHANICS_THRESHOLD))
    assert result.detections
    assert 7 in [h.gallery_id for h in result.hits]
    assert result.hits[0].distance < engine.threshold


def test_image_without_vehicle_has_no_detections_and_no_hits(engine, street_gallery):
    sky = np.full((240, 320, 3), (235, 206, 135), np.uint8)  # plain blue-ish sky
    result = engine.search_image(sky, street_gallery)
    assert result.detections == [] and result.hits == []


def test_a_track_keeps_its_id_across_frames_of_a_real_clip(engine, bikes_frames):
    """The parked car on the right (x ~ 520-600) is detected in most street frames: one id."""
    from engine.tracker import ByteTracker

    tracker = ByteTracker()
    ids_at_right = []
    for index in range(140, 181):
        detections = engine.detect(bikes_frames[index])
        for track in tracker.update(detections):
            x1, _, x2, _ = track.box
            if 480 < (x1 + x2) / 2 < 640:
                ids_at_right.append(track.track_id)
    assert len(ids_at_right) >= 30, "the parked car should be tracked in most of 41 frames"
    most = max(set(ids_at_right), key=ids_at_right.count)
    assert ids_at_right.count(most) / len(ids_at_right) >= 0.9
