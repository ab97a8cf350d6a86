"""Pipeline speed on a real clip, all figures from one run on one machine.

    python benchmarks/bench_pipeline.py [--clip PATH] [--stride 1] [--out benchmarks/out/pipeline.md]

Reports decode-only fps, detector ms/frame, embedder ms/crop (batch 1 and 16), end-to-end fps
with tracking on and off, embedding calls per detection, and the ratios the targets use.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from engine import api
from engine.draw import crop
from engine.media import decode_only, iter_frames
from tests.media import bikes_mp4


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def bench(clip: Path, stride: int) -> list[tuple[str, str]]:
    engine = api.Engine(api.EngineConfig())
    frames = [f for _, _, f in iter_frames(clip, stride)]
    n = len(frames)

    _, decode_s = timed(decode_only, clip, stride)
    engine.detect(frames[0])  # warm-up: first call allocates
    detections, detect_s = timed(lambda: [engine.detect(f) for f in frames])
    crops = [crop(f, d.box) for f, dets in zip(frames, detections) for d in dets] or [frames[0]]
    crops16 = (crops * 16)[:16]
    engine.embedder.embed(crops16[:1])
    b1 = [timed(engine.embedder.embed, [c])[1] for c in crops16]
    b16 = [timed(engine.embedder.embed, crops16)[1] / 16 for _ in range(5)]

    gallery = api.Gallery(engine.embedder.dim)
    gallery.add([1], engine.embedder.embed(crops[:1]))
    tracked, tracked_s = timed(engine.search_video, clip, gallery, api.VideoOptions(frame_stride=stride))
    untracked, untracked_s = timed(
        engine.search_video, clip, gallery, api.VideoOptions(frame_stride=stride, tracking=False))

    detector_fps = n / detect_s
    tracked_fps = tracked.stats.frames_processed / tracked_s
    untracked_fps = untracked.stats.frames_processed / untracked_s
    return [
        ("clip", f"{clip.name}, {n} frames processed (stride {stride})"),
        ("decode-only fps", f"{n / decode_s:.1f}"),
        ("detector ms/frame", f"{1000 * detect_s / n:.1f} (detector-only {detector_fps:.1f} fps)"),
        ("detections/frame", f"{sum(map(len, detections)) / n:.2f}"),
        ("embedder ms/crop, batch 1", f"{1000 * statistics.median(b1):.2f}"),
        ("embedder ms/crop, batch 16", f"{1000 * statistics.median(b16):.2f}"),
        ("end-to-end fps, tracking on", f"{tracked_fps:.1f}"),
        ("end-to-end fps, tracking off", f"{untracked_fps:.1f}"),
        ("tracking-on fps / detector-only fps", f"{tracked_fps / detector_fps:.2f} (target >= 0.80)"),
        ("embedding calls per detection, tracking on",
         f"{tracked.stats.embed_calls / max(tracked.stats.detections, 1):.3f} (target <= 0.20)"),
        ("embedding calls per detection, tracking off",
         f"{untracked.stats.embed_calls / max(untracked.stats.detections, 1):.3f}"),
        ("tracks", str(tracked.stats.tracks)),
    ]


def machine() -> str:
    import os

    import onnxruntime
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clip", type=Path, default=None)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = bench(args.clip or bikes_mp4(), args.stride)
    table = "\n".join(["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])
    text = f"Machine: {machine()}\n\n{table}\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
