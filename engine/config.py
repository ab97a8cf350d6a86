"""The engine's settings, read from the environment once, validated, in one place.

Leaf modules ask `settings()` instead of reading environment variables themselves, so a bad
value fails at first use with a message naming the variable, and every setting is listed here.
Tests that change the environment call `reload()`.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError

REPO_DIR = Path(__file__).resolve().parent.parent
CPU_RUNTIMES = ("auto", "openvino", "onnxruntime")
OPENVINO_PRECISIONS = ("f32", "auto")


class ConfigError(EngineError):
    """An environment variable holds a value the engine cannot use."""


@dataclass(frozen=True)
class EngineSettings:
    # Folders searched for model files, first match wins; `python -m engine models fetch` writes
    # into the first one.
    model_dirs: tuple[Path, ...]
    # A user registry merged over the shipped models/registry.json (optional).
    user_registry: Path | None
    # "auto": OpenVINO where it reads the model (measured faster on CPU), else onnxruntime.
    cpu_runtime: str
    # OpenVINO's CPU precision: "f32" gives the same answers on every worker; "auto" lets it use
    # bf16 where the CPU has it (faster, embeddings differ by ~1e-2).
    openvino_precision: str
    # onnxruntime worker threads busy-wait between runs: fast, but steals CPU from a web server
    # on the same machine, so off unless asked for.
    ort_spin: bool
    faiss_threads: int  # 0: all cores up to 8
    max_image_pixels: int  # larger images are refused before decoding (decompression bombs)


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value}: must be at least {minimum}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


def _model_dirs() -> tuple[Path, ...]:
    raw = os.environ.get("VREID_MODEL_DIRS", "")
    if raw.strip():
        return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip())
    var_dir = Path(os.environ.get("VREID_VAR_DIR") or REPO_DIR / "var")
    return var_dir / "models", REPO_DIR / "models"


def _read() -> EngineSettings:
    runtime = os.environ.get("VREID_CPU_RUNTIME", "auto").strip().lower() or "auto"
    if runtime not in CPU_RUNTIMES:
        raise ConfigError(f"VREID_CPU_RUNTIME={runtime!r}: use one of {', '.join(CPU_RUNTIMES)}")
    precision = os.environ.get("VREID_OPENVINO_PRECISION", "f32").strip().lower() or "f32"
    if precision not in OPENVINO_PRECISIONS:
        raise ConfigError(f"VREID_OPENVINO_PRECISION={precision!r}: use one of {', '.join(OPENVINO_PRECISIONS)}")
    user_registry = os.environ.get("VREID_MODEL_REGISTRY", "").strip()
    return EngineSettings(
        model_dirs=_model_dirs(),
        user_registry=Path(user_registry) if user_registry else None,
        cpu_runtime=runtime,
        openvino_precision=precision,
        ort_spin=_bool("VREID_ORT_SPIN", False),
        faiss_threads=_int("VREID_FAISS_THREADS", 0),
        max_image_pixels=_int("VREID_MAX_IMAGE_PIXELS", 60_000_000, minimum=1),
    )


@functools.cache
def settings() -> EngineSettings:
    return _read()


def reload() -> EngineSettings:
    """Read the environment again (tests; a long-lived process whose environment changed)."""
    settings.cache_clear()
    return settings()
