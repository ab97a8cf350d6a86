"""Print an ONNX model's inputs/outputs (names, shapes) and run it once on zeros.

Usage: python scripts/inspect_onnx.py MODEL.onnx [REFERENCE.onnx]  (a missing reference, or
MODEL itself, is skipped)
Used by the conversion scripts to record what the committed weights look like. With a
reference (the committed file), also prints the max abs output difference on a random
input: tf2onnx is not byte-reproducible (node names and order vary between runs), so a
reconversion is checked numerically instead of by sha256.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def compare(path: str, ref: str) -> None:
    a = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(ref, providers=["CPUExecutionProvider"])
    i = a.get_inputs()[0]
    shape = [d if isinstance(d, int) else 2 for d in i.shape]
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ra = dict(zip([o.name for o in a.get_outputs()], a.run(None, {i.name: x})))
    rb = dict(zip([o.name for o in b.get_outputs()], b.run(None, {b.get_inputs()[0].name: x})))
    diff = max(float(np.abs(ra[k] - rb[k]).max()) for k in ra)
    print(f"  vs {ref}: max abs output diff {diff:.2e}")


def main(path: str) -> None:
    model = onnx.load(path)
    onnx.checker.check_model(model)
    print(f"{path}: opset {model.opset_import[0].version}")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        print(f"  input  {i.name!r} {i.shape} {i.type}")
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = np.zeros(shape, np.float32)
    outs = sess.run(None, feeds)
    for o, val in zip(sess.get_outputs(), outs):
        print(f"  output {o.name!r} {o.shape} -> {val.shape}")


if __name__ == "__main__":
    main(sys.argv[1])
    # The conversion scripts always pass the committed file: compared only when it is another file.
    if len(sys.argv) > 2 and os.path.isfile(sys.argv[2]) and not os.path.samefile(sys.argv[1], sys.argv[2]):
        compare(sys.argv[1], sys.argv[2])
