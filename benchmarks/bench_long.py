"""Hours of fixed-camera footage: motion-gated detection (camera="fixed") against every-frame
processing on a long 720p clip made from real footage, all figures from one run.

    VREID_MODEL_DIRS=$PWD/var/models:$PWD/models:/work/shared/models/omz \\
        .venv/bin/python benchmarks/bench_long.py [--minutes 5 10] [--every-minutes 5] [--out benchmarks/out/long.md]

The clip (built once under benchmarks/out/, git-ignored; never committed)
---------------------------------------------------------------------------
Source: ../shared/media/street-parked-cars.mp4, a real fixed camera over a street (640x360,
10.04 fps, 734 decodable frames = 73 s; benchmarks/labels/street-parked-cars.json): six cars
parked all along, twelve passing, stopping (a red sedan waits at the stop sign 28-37 s and
leaves; a school bus waits 30-41 s and turns) and leaving.
Every frame is upscaled to 1280x720 (bilinear) and written with OpenCV's "mp4v" encoder at the
source's frame rate. The clip of N minutes is, in this order:
  still(20 % of the still time) + passage A + still(30 %) + passage B + still(50 %)
- passage A = source frames 0-211 (21 s: a white SUV pulls out and leaves, two pickups pass);
- passage B = source frames 212-733 (52 s: the stop-sign scene, the bus, two more cars);
  A and B split the source in the middle of its one still stretch (frames 195-230), so each
  passage starts and ends on an empty street and no splice looks like a cut;
- still = source frame 215 (the empty street: only the parked cars) repeated, each copy plus
  Gaussian noise (sigma 2 grey levels) drawn at random from 16 seeded noise fields, so no two
  neighbouring frames are equal (and the encoder adds its own noise on top).
The real passages are 73 s of the clip: 24 % of 5 minutes, 12 % of 10 minutes (moving vehicles
are in view for less than that: the source has empty moments too). The parked cars are in view
all the time, as in the source.

What is measured (each search in a fresh child process, so peak RSS is the search's own)
----------------------------------------------------------------------------------------
- decode-only fps (engine.media.decode_only: the same decoding the pipeline does);
- gated end-to-end fps (camera="fixed"), share of frames the detector ran on, peak RSS, at each
  of --minutes;
- every-frame end-to-end fps (camera="moving"), peak RSS, on the --every-minutes clip;
- hits of both on the --every-minutes clip, side by side, matched by vehicle and time (each
  interval's start and end differences; the target is within 0.5 s).
Gallery: vehicles 4, 5 (parked), 8, 9 (pass), 10 (stops, leaves), 12 (the bus), 13, 15 (pass),
each registered from one hand-labelled box (benchmarks/labels). Threshold: --threshold (default
0.2, looser than the embedder's own, so that more intervals, true and false, are compared).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "media" / "street-parked-cars.mp4"
OUT = ROOT / "benchmarks" / "out"
SIZE = (1280, 720)
EMPTY_FRAME = 215
PASSAGES = ((0, 212), (212, 734))  # source frames [start, end)
STILL_SHARES = (0.2, 0.3, 0.5)  # of the still time: before A, between A and B, after B
NOISE_SIGMA = 2.0
GALLERY = {4: 300, 5: 300, 8: 80, 9: 155, 10: 330, 12: 350, 13: 430, 15: 615}  # vehicle: frame


def source_frames() -> dict[int, np.ndarray]:
    from engine.media import iter_frames
    return {i: f for i, _, f in iter_frames(SOURCE)}


def build_clip(minutes: float, frames: dict[int, np.ndarray], fps: float) -> Path:
    path = OUT / f"long-street-{minutes:g}min-720p.mp4"
    if path.is_file():
        return path
    total = round(minutes * 60 * fps)
    real = sum(end - start for start, end in PASSAGES)
    if total < real:
        raise SystemExit(f"{minutes} min is shorter than the real passages ({real / fps:.0f} s)")
    stills = [round((total - real) * share) for share in STILL_SHARES]
    stills[-1] = total - real - sum(stills[:-1])
    empty = cv2.resize(frames[EMPTY_FRAME], SIZE, interpolation=cv2.INTER_LINEAR).astype(np.int16)
    rng = np.random.default_rng(12)
    noise = [np.round(rng.normal(0, NOISE_SIGMA, empty.shape)).astype(np.int16) for _ in range(16)]
    stills_made = [np.clip(empty + n, 0, 255).astype(np.uint8) for n in noise]
    tmp = path.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)

    def still(n):
        for _ in range(n):
            writer.write(stills_made[int(rng.integers(len(stills_made)))])

    def passage(start, end):
        for i in range(start, end):
            writer.write(cv2.resize(frames[i], SIZE, interpolation=cv2.INTER_LINEAR))

    still(stills[0])
    passage(*PASSAGES[0])
    still(stills[1])
    passage(*PASSAGES[1])
    still(stills[2])
    writer.release()
    tmp.rename(path)
    return path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def street_gallery(engine):
    """GALLERY, each vehicle registered from its hand-labelled box in the source clip."""
    from benchmarks import labels as lab
    from engine import api
    labels = lab.load("street-parked-cars")
    frames = source_frames()
    crops = []
    for vehicle, index in GALLERY.items():
        x1, y1, x2, y2 = map(int, next(b.box for b in labels.frames[index] if b.vehicle == vehicle))
        crops.append(frames[index][y1:y2, x1:x2])
    gallery = api.Gallery(engine.embedder.dim)
    gallery.add(list(GALLERY), engine.embedder.embed(crops))
    return gallery


def child(clip: Path, camera: str, threshold: float) -> dict:
    """One search in this (fresh) process; prints a JSON line."""
    from engine import api
    engine = api.Engine(api.EngineConfig())
    gallery = street_gallery(engine)
    engine.detect(np.zeros((720, 1280, 3), np.uint8))  # warm-up
    before = peak_mb()
    start = time.perf_counter()
    result = engine.search_video(clip, gallery, api.VideoOptions(camera=camera, threshold=threshold))
    seconds = time.perf_counter() - start
    s = result.stats
    return {"clip": clip.name, "camera": camera, "models": engine.models, "seconds": seconds,
            "frames": s.frames_processed, "fps": s.frames_processed / seconds,
            "detected": s.frames_detected, "skipped": s.frames_skipped, "tracks": s.tracks,
            "coasted": s.frames_coasted, "reasons": s.detect_reasons,
            "peak_before_mb": before, "peak_mb": peak_mb(),
            "hits": [(iv.gallery_id, round(iv.start_s, 2), round(iv.end_s, 2), round(iv.best_distance, 3))
                     for iv in result.intervals]}


def run_child(clip: Path, camera: str, threshold: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(clip), camera, str(threshold)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])})
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_by_side(every: list, gated: list) -> tuple[list[str], float, int]:
    """Rows pairing each every-frame hit with the gated hit of the same vehicle that overlaps it."""
    rows, worst, unmatched = [], 0.0, 0
    left = list(gated)
    for gid, start, end, dist in sorted(every):
        twin = next((g for g in left if g[0] == gid and g[1] <= end + 0.5 and start <= g[2] + 0.5), None)
        if twin is None:
            unmatched += 1
            rows.append(f"| {gid} | {start:.1f}–{end:.1f} | {dist:.3f} | – | – | lost |")
            continue
        left.remove(twin)
        shift = max(abs(twin[1] - start), abs(twin[2] - end))
        worst = max(worst, shift)
        rows.append(f"| {gid} | {start:.1f}–{end:.1f} | {dist:.3f} | {twin[1]:.1f}–{twin[2]:.1f} | {twin[3]:.3f} "
                    f"| {shift:.2f} |")
    for gid, start, end, dist in left:
        unmatched += 1
        rows.append(f"| {gid} | – | – | {start:.1f}–{end:.1f} | {dist:.3f} | extra |")
    return rows, worst, unmatched


def machine() -> str:
    import onnxruntime
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
            f"Python {platform.python_version()}, onnxruntime {onnxruntime.__version__}, OpenCV {cv2.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10], help="gated runs, clip lengths")
    parser.add_argument("--every-minutes", type=float, default=5, help="clip length of the every-frame run")
    parser.add_argument("--out", type=Path, default=OUT / "long.md")
    parser.add_argument("--threshold", type=float, default=0.2, help="cosine distance of a match")
    parser.add_argument("--child", nargs=3, metavar=("CLIP", "CAMERA", "THRESHOLD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1], float(args.child[2]))))
        return
    if not SOURCE.is_file():
        raise SystemExit(f"{SOURCE} is missing")
    from engine.media import decode_only, probe
    OUT.mkdir(parents=True, exist_ok=True)
    fps = probe(SOURCE).fps
    frames = source_frames()
    lengths = sorted(set(args.minutes) | {args.every_minutes})
    clips = {m: build_clip(m, frames, fps) for m in lengths}
    del frames
    longest = clips[max(lengths)]
    start = time.perf_counter()
    decoded = decode_only(longest)
    decode_fps = decoded / (time.perf_counter() - start)
    gated = {m: run_child(clips[m], "fixed", args.threshold) for m in args.minutes}
    every = run_child(clips[args.every_minutes], "moving", args.threshold)
    gated_same = gated.get(args.every_minutes) or run_child(clips[args.every_minutes], "fixed", args.threshold)

    lines = [f"Machine: {machine()}. Models: {every['models']}. Threshold {args.threshold}.", "",
             "| run | clip | frames | seconds | fps | detector ran on | peak RSS before search MB | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|",
             f"| decode only | {longest.name} | {decoded} | {decoded / decode_fps:.1f} | {decode_fps:.1f} | – | – | – |"]
    for name, r in [("every frame", every)] + [("gated", gated[m]) for m in args.minutes]:
        lines.append(f"| {name} | {r['clip']} | {r['frames']} | {r['seconds']:.1f} | {r['fps']:.1f} | "
                     f"{r['detected']} ({r['detected'] / r['frames']:.1%}) | {r['peak_before_mb']:.0f} | "
                     f"{r['peak_mb']:.0f} |")
    rows, worst, unmatched = side_by_side(every["hits"], gated_same["hits"])
    lines += ["", f"Gated / every-frame fps on {every['clip']}: {gated_same['fps'] / every['fps']:.2f}×; "
              "gated fps (clip length) / every-frame fps: "
              + ", ".join(f"{gated[m]['fps'] / every['fps']:.2f}× ({m:g} min)" for m in args.minutes) + "; "
              "gated fps / decode-only fps: "
              + ", ".join(f"{gated[m]['fps'] / decode_fps:.2f} ({m:g} min)" for m in args.minutes) + ".",
              "", f"Hits on {every['clip']} (vehicle, interval in s, distance):", "",
              "| vehicle | every frame | distance | gated | distance | largest boundary shift s |",
              "|---|---|---|---|---|---|"] + rows
    lines += ["", f"Intervals lost or extra: {unmatched}; largest boundary shift: {worst:.2f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)
    (args.out.with_suffix(".json")).write_text(json.dumps({"decode_fps": decode_fps, "every": every,
                                                           "gated": gated, "gated_same": gated_same}, indent=1))


if __name__ == "__main__":
    main()
