"""TrackBook keeps a few crops per track and a shrunk frame for the thumbnail."""
import numpy as np

from engine.track_crops import KEPT_FRAME_SIDE, TrackBook
from engine.tracker import Track
from engine.types import Detection


def test_a_4k_frame_is_kept_shrunk_with_the_scale_of_its_box():
    frame = np.zeros((2160, 3840, 3), np.uint8)
    frame[1000:1400, 2000:2800] = 200  # the "car"
    box = (2000.0, 1000.0, 2800.0, 1400.0)
    book = TrackBook(max_embeds=3)
    for index in range(5):
        book.observe(index, index / 25, frame, [Track(1, box, 0, index + 1, index + 1, "car", 0.9)],
                     [Detection(box, 0.9, "car")])
    (record,) = book.flush()
    candidate = record.chosen()[0]
    assert candidate.pixels.shape == (400, 800, 3)  # the crop to embed keeps full resolution
    assert max(candidate.frame.shape[:2]) == KEPT_FRAME_SIDE and candidate.frame.nbytes < frame.nbytes / 10
    x1, y1, x2, y2 = (round(v * candidate.frame_scale) for v in box)
    assert candidate.frame[y1 + 5:y2 - 5, x1 + 5:x2 - 5].min() == 200  # the box lands on the car
    assert book.seen_ids == {1}


def test_a_small_frame_is_kept_as_it_is():
    frame = np.zeros((272, 640, 3), np.uint8)
    box = (10.0, 10.0, 100.0, 80.0)
    book = TrackBook(max_embeds=3)
    book.observe(0, 0.0, frame, [Track(7, box, 0, 1, 1, "car", 0.9)], [Detection(box, 0.9, "car")])
    candidate = book.flush()[0].chosen()[0]
    assert candidate.frame is frame and candidate.frame_scale == 1.0
