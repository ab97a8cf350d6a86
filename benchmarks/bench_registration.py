"""Time and memory of one registration upload (gallery.registration.create_pending: store,
decode, detect) of a big photo, in the web process.

    .venv/bin/python benchmarks/bench_registration.py [--side 7700] [--format png|jpeg] [--max-pixels N]

Makes a --side x --side photo (7700: 59 MP, under the 60 MP image limit): a 16-bit RGBA PNG
(about 0.5 MB, a grey block on black, as in issue 8) or a JPEG, and registers it once with the
bounds of gallery/registration.py (--max-pixels 0: none, a full decode as before issue 8).
Prints the wall time of create_pending and the most resident memory it added (sampled every
millisecond from /proc/self/statm). Uses a throwaway SQLite database and media folder
(settings_test; needs Redis like the tests).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


class PeakRss(threading.Thread):
    """Samples the resident set while running; .peak is the largest seen."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.running = rss_mb(), True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.001)


def make_photo(path: Path, side: int) -> None:
    if path.suffix == ".png":
        image = np.zeros((side, side, 4), np.uint16)
        image[:, :, 3] = 65535
        image[side // 3:2 * side // 3, side // 4:3 * side // 4, :3] = 30000
        cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    else:
        image = np.zeros((side, side, 3), np.uint8)
        image[side // 3:2 * side // 3, side // 4:3 * side // 4] = 120
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=7700)
    parser.add_argument("--format", choices=["png", "jpeg"], default="png")
    parser.add_argument("--max-pixels", type=int, default=None, help="default: the app's bound; 0: none")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vreid-bench-registration-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vreid_site.settings_test")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from gallery import registration
    from gallery.engine_cache import get_engine

    call_command("migrate", verbosity=0)
    if args.max_pixels == 0:  # as before issue 8: every photo decoded whole, up to the engine's 60 MP
        registration.MAX_PIXELS, registration.MAX_DECODED_PIXELS = None, float("inf")
    elif args.max_pixels:
        registration.MAX_PIXELS = args.max_pixels
    photo = workdir / f"photo.{args.format[:3]}"
    make_photo(photo, args.side)
    user = get_user_model().objects.create_user("bench")
    get_engine()  # models loaded: not part of the request
    upload = SimpleUploadedFile(photo.name, photo.read_bytes())
    monitor = PeakRss()
    before = monitor.peak
    monitor.start()
    start = time.perf_counter()
    try:
        pending = registration.create_pending(user, upload)
        outcome = f"stored {pending.width}x{pending.height}, {len(pending.detections)} detections"
    except Exception as exc:  # refused
        outcome = f"refused: {exc}"
    elapsed = time.perf_counter() - start
    monitor.running = False
    monitor.join()
    kind = "16-bit RGBA PNG" if args.format == "png" else "JPEG"
    print(f"{args.side}x{args.side} {kind}, {photo.stat().st_size / 1e6:.2f} MB; bound "
          f"{registration.MAX_PIXELS or 'none'}: create_pending {elapsed:.2f} s, "
          f"+{monitor.peak - before:.0f} MB resident at most; {outcome}")


if __name__ == "__main__":
    main()
