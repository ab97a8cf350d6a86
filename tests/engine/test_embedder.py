"""Embedder tests with the shipped MobileNetV2 model on real crops from bikes.mp4."""
import numpy as np
import pytest

from engine.embedder import Embedder
from engine.errors import ModelError
from engine.registry import resolve_embedder

# Hand-checked car boxes (x1, y1, x2, y2) in bikes.mp4 frames.
SEDAN = {168: (342, 111, 437, 166), 172: (362, 110, 446, 166)}  # dark sedan, moving
PARKED = {160: (522, 102, 607, 163), 168: (524, 101, 603, 163)}  # grey car, parked right
WHITE = {160: (1, 92, 159, 176), 164: (37, 97, 158, 173)}  # white car, moving


@pytest.fixture(scope="module")
def embedder():
    return Embedder(resolve_embedder("mobilenetv2-embed"))


def crop(frame, box):
    x1, y1, x2, y2 = box
    return frame[y1:y2, x1:x2]


def test_unit_norm_and_dim(embedder, bikes_frames):
    crops = [crop(bikes_frames[f], b) for f, b in {**SEDAN, **WHITE}.items()]
    vecs = embedder.embed(crops)
    assert embedder.dim == 1280 and vecs.shape == (len(crops), 1280)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_empty_list(embedder):
    assert embedder.embed([]).shape == (0, 1280)


def test_batches_match_single_runs(bikes_frames):
    crops = [crop(bikes_frames[f], b) for f, b in {**SEDAN, **PARKED}.items()] * 2
    one = Embedder(resolve_embedder("mobilenetv2-embed"), batch_size=1).embed(crops)
    three = Embedder(resolve_embedder("mobilenetv2-embed"), batch_size=3).embed(crops)  # uneven last batch
    np.testing.assert_allclose(one, three, atol=1e-5)


def test_tiny_grey_and_bgra_crops(embedder):
    tiny = np.full((3, 2, 3), 200, np.uint8)
    grey = np.full((40, 60), 90, np.uint8)
    bgra = np.full((40, 60, 4), 90, np.uint8)
    vecs = embedder.embed([tiny, grey, bgra])
    assert vecs.shape == (3, 1280) and np.isfinite(vecs).all()
    with pytest.raises(ValueError):
        embedder.embed([np.zeros((0, 5, 3), np.uint8)])


def test_same_car_closer_than_other_cars(embedder, bikes_frames):
    names = ["s168", "s172", "p160", "p168"]
    crops = [crop(bikes_frames[168], SEDAN[168]), crop(bikes_frames[172], SEDAN[172]),
             crop(bikes_frames[160], PARKED[160]), crop(bikes_frames[168], PARKED[168])]
    v = embedder.embed(crops)
    dist = 1 - v @ v.T
    same = [dist[0, 1], dist[2, 3]]
    different = [dist[i, j] for i in (0, 1) for j in (2, 3)]
    assert max(same) < min(different), (names, dist.round(3))
    # The default threshold (models/mobilenetv2-embed.md) separates these pairs.
    assert max(same) < embedder.threshold < min(different)


def test_dim_mismatch_is_a_model_error():
    with pytest.raises(ModelError, match=r"mobilenetv2-embed\.onnx.*1280.*dim=512"):
        Embedder(resolve_embedder("mobilenetv2-embed", dim=512))


def test_input_size_mismatch_is_a_model_error():
    # The graph's batch axis is dynamic but its 224x224 size is fixed.
    with pytest.raises(ModelError, match=r"224x224.*256x128"):
        Embedder(resolve_embedder("mobilenetv2-embed", input_size=(256, 128)))


def test_the_learned_embedder_tells_the_sedan_from_the_parked_car(bikes_frames):
    """vreid-mnv2-reid (trained on another set of street cameras): the dark sedan 10 frames on is
    closer to itself than to the grey hatchback parked beside it, by a margin."""
    embedder = Embedder(resolve_embedder("vreid-mnv2-reid"))
    sedan_150, sedan_160 = bikes_frames[150][90:193, 210:393], bikes_frames[160][93:175, 283:436]
    parked = bikes_frames[150][104:165, 510:606]
    a, b, c = embedder.embed([sedan_150, sedan_160, parked])
    assert (1 - a @ b) + 0.1 < (1 - a @ c), (1 - a @ b, 1 - a @ c)
