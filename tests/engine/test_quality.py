import cv2
import numpy as np

from engine.quality import crop_quality, sharpness

FRAME = (720, 1280, 3)


def textured(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)  # sharp blocky edges


def test_large_sharp_centred_beats_small_blurry_edge_touching():
    good_box = (440, 260, 840, 460)  # 400 x 200, centred
    good = crop_quality(FRAME, good_box, textured(200, 400))
    bad_box = (0, 300, 60, 330)  # 60 x 30 touching the left border
    bad = crop_quality(FRAME, bad_box, cv2.GaussianBlur(textured(30, 60), (0, 0), 4))
    assert 0.0 <= bad < good <= 1.0
    assert good > 0.8


def test_each_factor_lowers_the_score():
    base = crop_quality(FRAME, (440, 260, 840, 460))
    assert crop_quality(FRAME, (440, 260, 500, 290)) < base  # smaller
    assert crop_quality(FRAME, (0, 260, 400, 460)) < base  # touches the border
    assert crop_quality(FRAME, (880, 520, 1280, 720)) < crop_quality(FRAME, (0, 260, 400, 460))
    assert crop_quality(FRAME, (440, 100, 480, 600)) < base  # implausibly thin
    assert crop_quality(FRAME, (10, 10, 10, 50)) == 0.0  # empty


def test_sharpness_is_scale_independent_and_detects_blur():
    img = textured(100, 160)
    assert sharpness(img) > 0.8
    assert abs(sharpness(img) - sharpness(cv2.resize(img, (320, 200),
                                                     interpolation=cv2.INTER_NEAREST))) < 0.1
    assert sharpness(cv2.GaussianBlur(img, (0, 0), 5)) < 0.3
    assert sharpness(np.zeros((0, 0, 3), np.uint8)) == 0.0
