import pytest

from engine.tracker import ByteTracker, KalmanBox, iou_matrix
from engine.types import Detection


def det(x, y, w=40, h=30, score=0.9, label="car"):
    return Detection((x, y, x + w, y + h), score, label)


def test_iou_matrix():
    m = iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)])
    assert m.shape == (1, 3)
    assert m[0, 0] == 1.0 and abs(m[0, 1] - 1 / 3) < 1e-9 and m[0, 2] == 0.0


def test_kalman_learns_velocity():
    kf = KalmanBox((0, 0, 40, 30))
    for i in range(1, 10):
        kf.predict()
        kf.update((5 * i, 0, 5 * i + 40, 30))
    kf.predict()
    assert abs(kf.box[0] - 50) < 2  # predicts the next position, not the last


def test_smooth_motion_keeps_one_id_after_min_hits():
    tr = ByteTracker(min_hits=2)
    assert tr.update([det(0, 0)]) == []  # tentative: not reported yet
    ids = set()
    for i in range(1, 30):
        out = tr.update([det(8 * i, 2 * i)])
        assert len(out) == 1 and out[0].det_index == 0
        ids.add(out[0].track_id)
    assert ids == {1}
    assert out[0].hits == 30 and out[0].age == 30 and out[0].label == "car"
    assert tr.active_ids == [1]


def test_missed_frame_low_score_detection_recovers_in_second_stage():
    tr = ByteTracker(high_thresh=0.5, low_thresh=0.1)
    for i in range(5):
        tr.update([det(10 * i, 0)])
    out = tr.update([det(50, 0, score=0.2)])  # occluded: low score, matched by stage 2
    assert [(t.track_id, t.det_index) for t in out] == [(1, 0)]
    out = tr.update([det(60, 0)])
    assert [t.track_id for t in out] == [1]
    assert tr.removed_since_last() == []


def test_low_score_detection_never_starts_a_track():
    tr = ByteTracker()
    for i in range(5):
        assert tr.update([det(10 * i, 0, score=0.3)]) == []
    assert tr.active_ids == []


def test_frames_without_detections_then_reacquire_same_id():
    tr = ByteTracker(max_lost=10)
    for i in range(5):
        tr.update([det(10 * i, 0)])
    for _ in range(5, 8):  # lost for 3 frames; the Kalman filter keeps moving the box
        assert tr.update([]) == []
    out = tr.update([det(80, 0)])
    assert [t.track_id for t in out] == [1]


def test_crossing_objects_keep_their_ids():
    tr = ByteTracker()
    history = {}
    for i in range(40):
        a = det(10 + 10 * i, 100, label="car")  # left to right
        b = det(410 - 10 * i, 104, label="bus")  # right to left, crosses a around i = 20
        for t in tr.update([a, b] if i % 2 else [b, a]):  # order must not matter
            history.setdefault(t.track_id, set()).add(t.label)
    assert sorted(history) == [1, 2]
    assert all(len(labels) == 1 for labels in history.values())


def test_new_object_gets_new_id_and_ended_tracks_are_reported():
    tr = ByteTracker(max_lost=3)
    for i in range(5):
        tr.update([det(10 * i, 0)])
    out = []
    for i in range(5, 10):  # the first object vanishes, a second one appears elsewhere
        out = tr.update([det(300, 200 + i)])
    assert [t.track_id for t in out] == [2]
    assert tr.removed_since_last() == [1]
    assert tr.removed_since_last() == []  # reported once
    assert tr.active_ids == [2]
    assert tr.finish() == [2]
    assert tr.active_ids == []


def test_tentative_track_dies_without_an_id():
    tr = ByteTracker(min_hits=3)
    tr.update([det(0, 0)])
    tr.update([])  # one miss ends a tentative track
    for _ in range(3):
        out = tr.update([det(200, 200)])
    assert [t.track_id for t in out] == [1]  # ids are dense: the dead one never got one


def _fast_car(frame):
    return det(20 * frame, 0)  # 20 px a frame: a 40 px box misses its place of 3 frames ago


def test_coasted_frames_are_predicted_over_so_a_fast_track_keeps_its_id():
    coasting, naive = ByteTracker(), ByteTracker()
    for f in range(6):  # detected every frame: velocity learnt
        coasting.update([_fast_car(f)])
        naive.update([_fast_car(f)])
    for f in range(8, 40, 3):  # then every third frame
        out = coasting.update([_fast_car(f)], frames=3)
        assert [t.track_id for t in out] == [1], f
        # As if one frame had passed: predicts too short a step, and the car is not matched.
        assert [t.track_id for t in naive.update([_fast_car(f)])] != [1], f
    assert coasting.active_ids == [1]


def test_tracks_may_coast_only_with_a_known_velocity_and_no_track_waiting():
    tr = ByteTracker(min_hits=2)
    tr.update([det(0, 0)])
    assert not tr.can_coast  # a new track waits for its confirming detection
    tr.update([det(5, 0)])
    assert not tr.can_coast  # confirmed, but seen twice only
    tr.update([det(10, 0)])
    assert tr.can_coast
    tr.update([det(15, 0), det(300, 200)])
    assert not tr.can_coast  # another one waits


def test_held_frames_keep_tracks_where_they_were_and_alive():
    tr = ByteTracker(max_lost=5)
    for f in range(3):
        tr.update([det(100, 100), det(10 * f, 0)])
    tr.update([det(100, 100)])  # the moving one is not seen: lost
    for _ in range(20):  # far past max_lost: the picture does not change
        (held,) = tr.hold()
        assert held.track_id == 1 and held.det_index == 0 and held.box == pytest.approx((100, 100, 140, 130), abs=1)
    assert tr.active_ids == [1] and tr.removed_since_last() == [2]  # the lost one still aged
    (out,) = tr.update([det(101, 100)])
    assert out.track_id == 1 and out.hits == 25
