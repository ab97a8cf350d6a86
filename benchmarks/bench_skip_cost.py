"""What a frame the motion gate skips costs, stage by stage (engine.gating, camera="fixed").

    PYTHONPATH=. .venv/bin/python benchmarks/bench_skip_cost.py [--repeat 400]

The frame: street-parked-cars.mp4's empty-street frame 215 upscaled to 1280x720 (as in
bench_long.py's still stretches), plus sigma-2 noise per copy; the held boxes: the parked cars
hand-labelled in that frame (benchmarks/labels), six tracks confirmed on a first detected frame.
Each stage is timed on its own, old way and new way, median of --repeat frames (milliseconds).
No models are loaded: the detector does not run on a skipped frame.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks import labels as lab
from engine.gating import MotionGate
from engine.media import iter_frames
from engine.scene import CutDetector
from engine.track_crops import TrackBook
from engine.tracker import ByteTracker
from engine.types import Detection

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "media" / "street-parked-cars.mp4"
FRAME, SIZE, SCALE = 215, (1280, 720), 2.0


def still_frames(n: int) -> list[np.ndarray]:
    base = next(f for i, _, f in iter_frames(SOURCE) if i == FRAME)
    base = cv2.resize(base, SIZE, interpolation=cv2.INTER_LINEAR).astype(np.int16)
    rng = np.random.default_rng(1)
    return [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def held_boxes() -> list[Detection]:
    boxes = [b.box for b in lab.load("street-parked-cars").frames[FRAME]]
    return [Detection(tuple(v * SCALE for v in box), 0.9, "car") for box in boxes]


def median_ms(stage, frames) -> float:
    times = []
    for k, frame in enumerate(frames):
        start = time.perf_counter()
        stage(k, frame)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=400)
    args = parser.parse_args()
    frames, held = still_frames(16), held_boxes()
    frames = [frames[k % len(frames)] for k in range(args.repeat)]
    thumbs = [MotionGate().thumbnail(f) for f in frames]
    tracker = ByteTracker(high_thresh=0.5, low_thresh=0.15)
    for _ in range(3):
        tracks = tracker.update(held)  # confirmed
    gate, cuts, thumb_cuts = MotionGate(), CutDetector(), CutDetector()
    gate.check(frames[0], 0.0)
    old_book, new_book = TrackBook(3), TrackBook(3)
    for book in (old_book, new_book):
        book.observe(0, 0.0, frames[0], tracks, held)
    rows = {
        "gate thumbnail (grey, 160 px)": lambda k, f: gate.thumbnail(f),
        "gate decision on the thumbnail": lambda k, f: gate.check_thumbnail(thumbs[k], 0.1),
        "cut detector, own shrink of the frame (before)": lambda k, f: cuts.is_cut(f),
        "cut detector on the gate's thumbnail (after)": lambda k, f: thumb_cuts.is_cut(thumbs[k]),
        "tracker update, held boxes": lambda k, f: tracker.update(held),
        "crop bookkeeping, crops measured (before)": lambda k, f: old_book.observe(k + 1, k / 10, f, tracks, held),
        "crop bookkeeping, held (after)": lambda k, f: new_book.observe(k + 1, k / 10, f, tracks, held, held=True),
    }
    print(f"| stage of a skipped 720p frame, {len(held)} held boxes | median ms |\n|---|---|")
    for name, stage in rows.items():
        print(f"| {name} | {median_ms(stage, frames):.3f} |")


if __name__ == "__main__":
    main()
