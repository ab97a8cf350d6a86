import numpy as np

from engine.intervals import IntervalMerger, TrackMatch, join_pieces, merge_intervals

FPS = 10.0


def match(track_id, gallery_id, first_s, last_s, distance=0.3):
    mid = (first_s + last_s) / 2
    return TrackMatch(track_id, gallery_id, distance, int(first_s * FPS), int(last_s * FPS),
                      first_s, last_s, int(mid * FPS), mid, (1.0, 2.0, 3.0, 4.0),
                      frame=np.full((2, 2, 3), track_id, np.uint8))


def test_merges_overlapping_and_close_matches_of_one_vehicle():
    got = merge_intervals([
        match(1, 7, 0.0, 5.0, distance=0.4),
        match(2, 7, 4.0, 8.0, distance=0.2),  # overlaps
        match(3, 7, 9.5, 12.0, distance=0.3),  # 1.5 s gap <= 2 s
        match(4, 7, 20.0, 21.0),  # 8 s gap: separate
    ], gap_s=2.0)
    assert [(iv.start_s, iv.end_s, iv.track_ids) for iv in got] == [
        (0.0, 12.0, [1, 2, 3]), (20.0, 21.0, [4])]
    first = got[0]
    assert first.best_distance == 0.2 and first.best_time_s == 6.0 and first.best_frame == 60
    assert first.start_frame == 0 and first.end_frame == 120
    assert first.frame[0, 0, 0] == 2  # thumbnail of the best match
    assert "frame" not in first.to_dict()


def test_different_vehicles_never_merge_and_output_is_sorted():
    got = merge_intervals([match(1, 9, 0, 5), match(2, 3, 1, 4), match(3, 9, 6, 7),
                           match(4, 3, 0.5, 2)])
    assert [(iv.gallery_id, iv.start_s, iv.end_s) for iv in got] == [(3, 0.5, 4), (9, 0, 7)]


def test_late_match_bridges_two_open_intervals():
    # A long track that ends last may join intervals that were separate so far.
    got = merge_intervals([match(1, 5, 0, 1), match(2, 5, 10, 11), match(3, 5, 2, 9)])
    assert [(iv.start_s, iv.end_s, iv.track_ids) for iv in got] == [(0, 11, [1, 2, 3])]


def test_gap_is_inclusive_and_configurable():
    assert len(merge_intervals([match(1, 1, 0, 1), match(2, 1, 3, 4)], gap_s=2.0)) == 1
    assert len(merge_intervals([match(1, 1, 0, 1), match(2, 1, 3, 4)], gap_s=1.0)) == 2
    assert merge_intervals([]) == []


def test_incremental_closing():
    m = IntervalMerger(gap_s=2.0)
    m.add(match(1, 1, 0, 3))
    m.add(match(2, 2, 1, 10))
    assert m.close_before(4.0) == []  # 3 + 2 s gap not yet passed: a match may still join
    m.add(match(3, 1, 4.5, 6))
    assert m.close_before(8.0) == []  # ends at 6, 6 < 8 - 2 is false
    closed = m.close_before(8.5)
    assert [(iv.gallery_id, iv.start_s, iv.end_s, iv.track_ids) for iv in closed] == [
        (1, 0, 6, [1, 3])]
    assert m.close_before(9.0) == []  # emitted once
    rest = m.flush()
    assert [(iv.gallery_id, iv.track_ids) for iv in rest] == [(2, [2])]
    assert m.flush() == []


def test_a_long_presence_is_emitted_in_pieces_that_join_back():
    m = IntervalMerger(gap_s=2.0, max_span_s=5.0)
    m.add(match(1, 4, 0.0, 5.0))  # a parked car's first segment
    first = m.close_before(5.0)
    assert [(iv.start_s, iv.end_s) for iv in first] == [(0.0, 5.0)]  # at once, not when it leaves
    m.add(match(1, 4, 5.1, 10.1, distance=0.1))
    m.add(match(2, 8, 6.0, 7.0))  # a short visit of another car stays open as before
    second = m.close_before(8.5)
    assert [(iv.gallery_id, iv.start_s, iv.end_s) for iv in second] == [(4, 5.1, 10.1)]
    joined = join_pieces([*first, *second, *m.flush()])
    assert [(iv.gallery_id, iv.start_s, iv.end_s) for iv in joined] == [(4, 0.0, 10.1), (8, 6.0, 7.0)]
    assert joined[0].best_distance == 0.1 and joined[0].start_frame == 0 and joined[0].end_frame == 101
