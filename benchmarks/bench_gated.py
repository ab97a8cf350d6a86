"""One motion-gated search of a clip, for before/after comparisons of the gate across checkouts
(the code under test is whatever `engine` PYTHONPATH finds first; this file needs only the
public API, and reads the newer statistics only where they exist).

    PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/bench_gated.py CLIP [--profile]

Prints decode-only seconds, then the gated search's seconds, frames detected and skipped, and,
where the engine reports them, detections by reason and coasted frames. The gallery is one
random vehicle: the search's work does not depend on it.
"""
import argparse
import cProfile
import pstats
import time
from pathlib import Path

import numpy as np

from engine import api
from engine.media import decode_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--profile", action="store_true", help="print the 25 costliest functions")
    args = parser.parse_args()
    engine = api.Engine(api.EngineConfig())
    gallery = api.Gallery(engine.embedder.dim)
    gallery.add([1], np.random.default_rng(0).normal(size=(1, engine.embedder.dim)).astype(np.float32))
    engine.detect(np.zeros((720, 1280, 3), np.uint8))  # warm-up
    start = time.perf_counter()
    frames = decode_only(args.clip)
    print(f"decode only: {frames} frames in {time.perf_counter() - start:.1f} s")
    profile = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profile:
        profile.enable()
    result = engine.search_video(args.clip, gallery, api.VideoOptions(camera="fixed"))
    if profile:
        profile.disable()
    s = result.stats
    print(f"gated: {s.frames_processed} frames in {time.perf_counter() - start:.1f} s; detected {s.frames_detected}, "
          f"skipped {s.frames_skipped}; reasons {getattr(s, 'detect_reasons', '-')}; "
          f"coasted {getattr(s, 'frames_coasted', '-')}")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
