"""onnxruntime sessions: one place that picks the execution provider and turns
onnxruntime's errors into ModelError messages that name the file."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Optional

import onnxruntime as ort

from engine.errors import ModelError

log = logging.getLogger(__name__)


def available_devices() -> list[str]:
    """The devices this machine's onnxruntime can run models on: "cpu", and "cuda" when the
    build has the CUDAExecutionProvider (whether a GPU answers shows only when a session starts)."""
    return ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in ort.get_available_providers() else [])


def _providers(device: str) -> tuple[list, Optional[str]]:
    """Execution providers for `device` ("cpu", "cuda" or "cuda:N"), CPU always last, and why
    a CUDA request runs on CPU (None when it does not)."""
    device = (device or "cpu").lower()
    if device == "cpu":
        return ["CPUExecutionProvider"], None
    if device != "cuda" and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
    if "cuda" not in available_devices():
        return ["CPUExecutionProvider"], _warn_cpu(
            f"device {device!r} requested but this onnxruntime build has no "
            "CUDAExecutionProvider (install onnxruntime-gpu); running on CPU")
    device_id = int(device.split(":")[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"], None


def _warn_cpu(message: str) -> str:
    # Both: warnings for interactive/test callers, logging for the worker's log file.
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return message


def create_session(path: Path | str, device: str = "cpu",
                   threads: Optional[int] = None) -> ort.InferenceSession:
    """An InferenceSession for `path`. A CUDA request falls back to CPU with a warning,
    never an error, and the session's `fallback_reason` says why (None when it did not fall
    back); an unreadable or invalid file raises ModelError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    providers, fallback = _providers(device)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: CUDA fallback is reported by us, once
    if threads:
        opts.intra_op_num_threads = int(threads)
    # Idle worker threads spin by default, burning CPU that a web server on the same machine
    # needs; VREID_ORT_SPIN=1 turns spinning back on for dedicated inference machines.
    opts.add_session_config_entry("session.intra_op.allow_spinning", os.environ.get("VREID_ORT_SPIN", "0"))
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"{path}: not a valid ONNX model ({_first_line(exc)})") from None
    if len(providers) > 1 and "CUDAExecutionProvider" not in session.get_providers():
        # onnxruntime-gpu is installed but CUDA/cuDNN libraries failed to load.
        fallback = _warn_cpu(f"{path}: CUDA could not be initialised (see onnxruntime log); "
                             "running on CPU")
    session.fallback_reason = fallback
    return session


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
