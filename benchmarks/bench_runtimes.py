"""onnxruntime vs OpenVINO on the CPU, for every model present, in one run: median ms per call
(batch 1, and batch 16 for the embedders and the attribute model) and the ratio.

    python benchmarks/bench_runtimes.py [--repeat 20]

The faster runtime is the CPU default (engine/runtime.py: VREID_CPU_RUNTIME=auto prefers
OpenVINO where it reads the file). OpenVINO runs at f32 (VREID_OPENVINO_PRECISION).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from engine.errors import ModelError
from engine.registry import list_models
from engine.runtime import RUNTIMES, load_model


def median_ms(model, batch: int, repeat: int) -> float:
    inp = model.inputs[0]
    shape = [batch if i == 0 else (d or 224) for i, d in enumerate(inp.shape)]
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    model.run({inp.name: x})  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.run({inp.name: x})
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores; threads: all cores\n")
    print("| model | runtime file | batch | onnxruntime ms | OpenVINO ms | OpenVINO speed-up |")
    print("|---|---|---|---|---|---|")
    for spec in list_models():
        if not spec.present or spec.format == "ensemble":
            continue
        batches = (1,) if spec.kind == "detector" else (1, 16)
        for batch in batches:
            cells = {}
            for name in RUNTIMES:
                try:
                    model = load_model(spec.path, runtime=name, dynamic_batch=batch > 1)
                    cells[name] = median_ms(model, batch, args.repeat)
                except (ModelError, RuntimeError) as exc:
                    cells[name] = None
                    note = str(exc).splitlines()[0][:60]
                    cells[name + "_why"] = note
            ort, ov = cells.get("onnxruntime"), cells.get("openvino")
            fmt = lambda v: f"{v:.1f}" if v is not None else "cannot load"  # noqa: E731
            ratio = f"{ort / ov:.2f}x" if ort and ov else "—"
            print(f"| {spec.name} | {spec.path.suffix} | {batch} | {fmt(ort)} | {fmt(ov)} | {ratio} |")


if __name__ == "__main__":
    main()
