"""Engine test fixtures: one real Engine (real ONNX models) shared by the session."""
import pytest

from engine import api
from engine.media import iter_frames
from tests.media import bikes_mp4

STREET_FRAMES = (135, 186)  # bikes.mp4: the street scene with cars behind a railing


@pytest.fixture(scope="session")
def engine():
    return api.Engine(api.EngineConfig())


@pytest.fixture(scope="session")
def bikes():
    return bikes_mp4()


@pytest.fixture(scope="session")
def bikes_frames(bikes):
    """Decoded frames of the street scene, by index."""
    first, last = STREET_FRAMES
    return {i: f for i, _, f in iter_frames(bikes, start_frame=0) if first <= i <= last}
