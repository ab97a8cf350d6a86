"""The engine's one model-loading seam: `load_model(path, device)` picks a runtime for the file
and the device, and returns a `Model` with the same small interface whatever runs it.

Runtimes are found by subclassing `Runtime` (a new one is a class, not another `if`):
- onnxruntime: ONNX files, on the CPU or CUDA (`onnxruntime-gpu`);
- OpenVINO: IR (`.xml` + `.bin`) and ONNX files, on the CPU.
On the CPU, "auto" (VREID_CPU_RUNTIME) runs ONNX files with OpenVINO, measured faster for every
model that it reads (benchmarks/bench_runtimes.py), and falls back to onnxruntime for graphs it
cannot convert (NanoDet's). A CUDA request runs on the CPU, with a warning, where CUDA is
missing; `Model.device` and `Model.fallback` say what really happened.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from engine.config import settings
from engine.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Port:
    """One input or output of a model; `shape` holds None for a dynamic dimension."""

    name: str
    shape: tuple


class Model:
    """A loaded network. `run(feeds)` takes {input name: array} and returns the outputs in
    `outputs` order."""

    runtime = ""

    def __init__(self, path: Path, device: str, inputs: list[Port], outputs: list[Port],
                 metadata: Optional[dict] = None, fallback: str = ""):
        self.path, self.device = path, device
        self.inputs, self.outputs = inputs, outputs
        self.metadata = metadata or {}
        self.fallback = fallback  # why the model runs elsewhere than asked ("" when it doesn't)

    def run(self, feeds: dict) -> list[np.ndarray]:
        raise NotImplementedError


class Runtime:
    name = ""
    suffixes: tuple[str, ...] = ()

    @classmethod
    def installed(cls) -> bool:
        raise NotImplementedError

    @classmethod
    def devices(cls) -> tuple[str, ...]:
        raise NotImplementedError

    @classmethod
    def open(cls, path: Path, device: str, threads: Optional[int], extra_outputs: Sequence[str],
             dynamic_batch: bool) -> Model:
        raise NotImplementedError


# -- onnxruntime -------------------------------------------------------------------------------
class _OrtModel(Model):
    runtime = "onnxruntime"

    def __init__(self, session, path, device, fallback):
        def ports(items):
            return [Port(i.name, tuple(d if isinstance(d, int) else None for d in i.shape)) for i in items]
        meta = dict(session.get_modelmeta().custom_metadata_map)
        super().__init__(path, device, ports(session.get_inputs()), ports(session.get_outputs()), meta, fallback)
        self.session = session

    def run(self, feeds):
        return self.session.run(None, feeds)


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    suffixes = (".onnx",)

    @classmethod
    def installed(cls) -> bool:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def devices(cls) -> tuple[str, ...]:
        import onnxruntime as ort
        return ("cpu", "cuda") if "CUDAExecutionProvider" in ort.get_available_providers() else ("cpu",)

    @classmethod
    def open(cls, path, device, threads, extra_outputs, dynamic_batch):
        import onnxruntime as ort
        if extra_outputs:
            raise ModelError(f"{path}: extra outputs need the OpenVINO runtime")
        providers, fallback = ["CPUExecutionProvider"], ""
        if device.startswith("cuda"):
            if "cuda" in cls.devices():
                device_id = int(device.split(":")[1]) if ":" in device else 0
                providers = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
            else:
                fallback = "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: a CUDA fallback is reported by us, once
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings().ort_spin else "0")
        try:
            session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelError(f"{path}: not a valid ONNX model ({_first_line(exc)})") from None
        if len(providers) > 1 and "CUDAExecutionProvider" not in session.get_providers():
            fallback = "CUDA could not be initialised (CUDA or cuDNN libraries missing; see the onnxruntime log)"
        return _OrtModel(session, path, "cpu" if fallback or len(providers) == 1 else device, fallback)


# -- OpenVINO ----------------------------------------------------------------------------------
class _OvModel(Model):
    runtime = "openvino"

    def __init__(self, compiled, path, fallback):
        def ports(items):
            out = []
            for item in items:
                shape = tuple(d.get_length() if d.is_static else None for d in item.get_partial_shape())
                out.append(Port(item.get_any_name(), shape))
            return out
        super().__init__(path, "cpu", ports(compiled.inputs), ports(compiled.outputs), {}, fallback)
        self.request = compiled.create_infer_request()

    def run(self, feeds):
        result = self.request.infer(feeds)
        # Copies: the request reuses its output buffers on the next call.
        return [np.array(result[i]) for i in range(len(self.outputs))]


class OpenVino(Runtime):
    name = "openvino"
    suffixes = (".xml", ".onnx")

    @classmethod
    def installed(cls) -> bool:
        try:
            import openvino  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def devices(cls) -> tuple[str, ...]:
        return ("cpu",)

    @classmethod
    def open(cls, path, device, threads, extra_outputs, dynamic_batch):
        import openvino as ov
        fallback = "" if device == "cpu" else "the OpenVINO runtime runs this model on the CPU only"
        core = ov.Core()
        try:
            model = core.read_model(str(path))
            if extra_outputs:
                model.add_outputs(list(extra_outputs))
            if dynamic_batch:
                _try_dynamic_batch(model)
            config = {"PERFORMANCE_HINT": "LATENCY"}
            if settings().openvino_precision == "f32":
                config["INFERENCE_PRECISION_HINT"] = "f32"
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
            compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:
            raise ModelError(f"{path}: OpenVINO cannot load this model ({_first_line(exc)})") from None
        return _OvModel(compiled, path, fallback)


def _try_dynamic_batch(model) -> None:
    """Let a graph exported with batch 1 take any batch (most CNNs can; SSD heads cannot)."""
    import openvino as ov
    inp = model.inputs[0]
    shape = inp.get_partial_shape()
    if shape.rank.is_static and shape.rank.get_length() == 4 and shape[0].is_static:
        try:
            model.reshape({inp.get_any_name(): ov.PartialShape([-1, *shape[1:]])})
        except RuntimeError:
            log.debug("%s: batch stays fixed", model.get_friendly_name())


RUNTIMES = {cls.name: cls for cls in Runtime.__subclasses__()}


def available_devices() -> list[str]:
    """The devices this process can run models on ("cpu" always; "cuda" with onnxruntime-gpu)."""
    devices = {"cpu"}
    for runtime in RUNTIMES.values():
        if runtime.installed():
            devices.update(runtime.devices())
    return sorted(devices, key=lambda d: d != "cpu")


def _candidates(path: Path, device: str, preferred: str) -> list[type[Runtime]]:
    """Runtimes to try for this file and device, best first."""
    suffix = path.suffix.lower()
    able = [r for r in RUNTIMES.values() if suffix in r.suffixes and r.installed()]
    if not able:
        wanted = "openvino" if suffix == ".xml" else "onnxruntime"
        raise ModelError(f"{path}: no installed runtime reads {suffix or 'this'} files (pip install {wanted})")
    if device.startswith("cuda"):
        order = ["onnxruntime", "openvino"]
    elif preferred in ("onnxruntime", "openvino"):
        order = [preferred, "openvino" if preferred == "onnxruntime" else "onnxruntime"]
    else:
        order = ["openvino", "onnxruntime"]
    return sorted(able, key=lambda r: order.index(r.name))


def load_model(path: Path | str, device: str = "cpu", threads: Optional[int] = None,
               runtime: Optional[str] = None, extra_outputs: Sequence[str] = (),
               dynamic_batch: bool = False) -> Model:
    """A Model for `path` on `device` ("cpu", "cuda" or "cuda:N").

    `runtime` forces one ("onnxruntime" or "openvino"); None follows VREID_CPU_RUNTIME on the CPU.
    A CUDA request that cannot be met runs on the CPU with a warning, never an error. A file no
    runtime can read raises ModelError naming it.
    """
    path = Path(path)
    device = (device or "cpu").lower()
    if device != "cpu" and device != "cuda" and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if runtime and runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    candidates = _candidates(path, device, runtime or settings().cpu_runtime)
    if runtime and not device.startswith("cuda"):
        candidates = [c for c in candidates if c.name == runtime]
        if not candidates:
            raise ModelError(f"{path}: the {runtime} runtime does not read {path.suffix} files")
    errors = []
    for candidate in candidates:
        try:
            model = candidate.open(path, device, threads, extra_outputs, dynamic_batch)
        except ModelError as exc:
            errors.append(str(exc))
            log.info("%s", exc)
            continue
        if model.fallback:
            _warn_cpu(f"{path.name}: device {device!r} requested but {model.fallback}; running on CPU")
        return model
    raise ModelError(errors[0] if len(errors) == 1 else f"{path}: no runtime could load it ({'; '.join(errors)})")


def _warn_cpu(message: str) -> None:
    # Both: warnings for interactive/test callers, logging for the worker's log file.
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
