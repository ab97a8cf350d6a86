"""What each speed-up costs in hits: frame stride 1, 2 and 5, with gating (camera="fixed") off and
on, against every-frame stride-1 processing, on one clip, in one run.

    .venv/bin/python benchmarks/bench_tradeoff.py [--clip PATH] [--threshold 0.2] [--out benchmarks/out/tradeoff.md]

Default clip: bikes.mp4; gallery: the dark sedan and the parked hatchback of frame 150 (the
boxes tests/engine/conftest.py registers). `--gallery street`: the eight street vehicles of
benchmarks/bench_long.py, for its long fixed-camera clips (`--clip benchmarks/out/long-street-2min-720p.mp4`). An interval of the reference is "lost" when no interval
of the same vehicle overlaps it (within 0.5 s); it is "shifted" when its start or end moved by more
than 0.5 s; intervals no reference interval explains are "extra".
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.bench_long import street_gallery
from engine import api
from engine.media import iter_frames
from tests.media import bikes_mp4

SLACK_S = 0.5


def compare(reference, run):
    lost = shifted = 0
    worst = 0.0
    left = list(run)
    for ref in reference:
        twin = next((iv for iv in left if iv.gallery_id == ref.gallery_id
                     and iv.start_s <= ref.end_s + SLACK_S and ref.start_s <= iv.end_s + SLACK_S), None)
        if twin is None:
            lost += 1
            continue
        left.remove(twin)
        shift = max(abs(twin.start_s - ref.start_s), abs(twin.end_s - ref.end_s))
        worst = max(worst, shift)
        shifted += shift > SLACK_S
    return lost, shifted, len(left), worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clip", type=Path, default=None)
    parser.add_argument("--gallery", choices=("bikes", "street"), default="bikes")
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "tradeoff.md")
    args = parser.parse_args()
    clip = args.clip or bikes_mp4()
    engine = api.Engine(api.EngineConfig())
    frame = next(f for i, _, f in iter_frames(bikes_mp4(), start_frame=150))
    if args.gallery == "street":
        gallery = street_gallery(engine)
    else:
        gallery = api.Gallery(engine.embedder.dim)
        gallery.add([7, 8], engine.embedder.embed([frame[90:193, 210:393], frame[104:165, 510:606]]))
    engine.detect(frame)  # warm-up: the first call allocates
    runs = {}
    for stride in (1, 2, 5):
        for camera in ("moving", "fixed"):
            start = time.perf_counter()
            result = engine.search_video(clip, gallery, api.VideoOptions(frame_stride=stride, camera=camera,
                                                                         threshold=args.threshold))
            runs[stride, camera] = (result, time.perf_counter() - start)
    reference = runs[1, "moving"][0].intervals
    lines = [f"Clip {clip.name}; models {engine.models}; threshold {args.threshold}; reference: every frame, "
             f"stride 1 ({len(reference)} intervals).", "",
             "| stride | gating | s | frames detected / analysed | intervals | lost | shifted > 0.5 s | extra "
             "| largest shift s |", "|---|---|---|---|---|---|---|---|---|"]
    for (stride, camera), (result, seconds) in runs.items():
        lost, shifted, extra, worst = compare(reference, result.intervals)
        s = result.stats
        lines.append(f"| {stride} | {'on' if camera == 'fixed' else 'off'} | {seconds:.1f} | "
                     f"{s.frames_detected} / {s.frames_processed} | {len(result.intervals)} | {lost} | {shifted} "
                     f"| {extra} | {worst:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
