"""Model registry: which ONNX files exist and how to feed them.

`models/registry.json` (next to the `engine` package) describes the shipped models.
VREID_MODELS_DIR points at another models directory; VREID_MODEL_REGISTRY points at a
user registry file whose entries are merged over the default one (same layout; its
relative paths are relative to that file). A detector or embedder can also be given as a
path to a user's .onnx file, with its preprocessing passed as overrides.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from engine.errors import ModelError

KINDS = {"detector": "detectors", "embedder": "embedders"}
DETECTOR_FORMATS = ("nanodet", "yolo")
CHANNEL_ORDERS = ("RGB", "BGR")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
COCO_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)
# Defaults for a user's own .onnx: Ultralytics YOLO export for detectors, a typical
# ReID-style 256x128 ImageNet-normalised network for embedders.
USER_DETECTOR_DEFAULTS = dict(
    format="yolo", input_size=(640, 640), letterbox=True, channel_order="RGB",
    scale=1 / 255, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), class_names=COCO_NAMES,
)
USER_EMBEDDER_DEFAULTS = dict(
    format="embedding", input_size=(256, 128), letterbox=False, channel_order="RGB",
    scale=1 / 255, mean=IMAGENET_MEAN, std=IMAGENET_STD, threshold=0.15,
)


@dataclass(frozen=True)
class ModelSpec:
    """One detector or embedder: the file and how to preprocess its input.

    The network input is ((pixel in `channel_order`) * scale - mean) / std, NCHW float32.
    """

    kind: str  # "detector" or "embedder"
    name: str
    path: Path
    format: str  # detector: "nanodet" | "yolo"; embedder: "embedding"
    input_size: tuple[int, int]  # (h, w)
    channel_order: str = "RGB"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    letterbox: bool = False  # keep aspect ratio and pad (YOLO) instead of stretching
    threshold: Optional[float] = None  # embedder: default match cosine distance
    dim: Optional[int] = None  # embedder: output size (None: read from the model)
    class_names: tuple[str, ...] = ()
    licence: str = ""
    card: Optional[Path] = None
    sha256: Optional[str] = None
    extra: dict = field(default_factory=dict, compare=False)


def models_dir() -> Path:
    env = os.environ.get("VREID_MODELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "models"


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: model registry not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: model registry is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: model registry must be a JSON object")
    return data


def _spec_from_entry(kind: str, name: str, entry: Any, base: Path, source: Path) -> ModelSpec:
    """Validate one registry entry; `base` resolves its relative paths."""
    where = f"{source}: {kind} '{name}'"
    if not isinstance(entry, dict) or "path" not in entry:
        raise ModelError(f"{where}: entry must be an object with a 'path'")
    defaults = USER_DETECTOR_DEFAULTS if kind == "detector" else USER_EMBEDDER_DEFAULTS
    known = {f.name for f in dataclasses.fields(ModelSpec)}
    values = {k: v for k, v in entry.items() if k in known}
    extra = {k: v for k, v in entry.items() if k not in known}
    values["path"] = base / entry["path"]
    if entry.get("card"):
        values["card"] = base / entry["card"]
    try:
        return _validated(ModelSpec(kind=kind, name=name, extra=extra, **{**defaults, **values}))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: {exc}") from None


def _validated(spec: ModelSpec) -> ModelSpec:
    """Normalise types (JSON lists -> tuples) and reject values the runtime cannot use."""
    h, w = (int(v) for v in spec.input_size)
    if h <= 0 or w <= 0:
        raise ValueError(f"input_size must be positive, got {spec.input_size}")
    mean = tuple(float(v) for v in spec.mean)
    std = tuple(float(v) for v in spec.std)
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError("mean and std need 3 values each, std > 0")
    order = str(spec.channel_order).upper()
    if order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be RGB or BGR, got {spec.channel_order!r}")
    if spec.kind == "detector" and spec.format not in DETECTOR_FORMATS:
        raise ValueError(f"format must be one of {DETECTOR_FORMATS}, got {spec.format!r}")
    if spec.kind == "detector" and not spec.class_names:
        raise ValueError("class_names is empty")
    threshold = None if spec.threshold is None else float(spec.threshold)
    if threshold is not None and not 0 < threshold < 2:
        raise ValueError(f"threshold is a cosine distance in (0, 2), got {threshold}")
    return dataclasses.replace(
        spec, path=Path(spec.path), input_size=(h, w), mean=mean, std=std,
        channel_order=order, scale=float(spec.scale), threshold=threshold,
        dim=None if spec.dim is None else int(spec.dim),
        class_names=tuple(str(c) for c in spec.class_names),
    )


def _merge(registry: dict, data: dict, base: Path, source: Path) -> None:
    for kind, section in KINDS.items():
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise ModelError(f"{source}: '{section}' must be an object of name -> entry")
        for name, entry in entries.items():
            registry[section][name] = _spec_from_entry(kind, name, entry, base, source)
        default = data.get(f"default_{kind}")
        if default is not None:
            registry[f"default_{kind}"] = default


def load_registry(path: Optional[Path | str] = None) -> dict:
    """{"detectors": {name: ModelSpec}, "embedders": {...}, "default_detector": name, ...}.

    `path` replaces the default registry file; VREID_MODEL_REGISTRY is merged over it.
    """
    path = Path(path) if path else models_dir() / "registry.json"
    registry: dict = {"detectors": {}, "embedders": {}, "default_detector": None,
                      "default_embedder": None}
    _merge(registry, _read_json(path), path.parent, path)
    user = os.environ.get("VREID_MODEL_REGISTRY")
    if user:
        user_path = Path(user)
        _merge(registry, _read_json(user_path), user_path.parent, user_path)
    for kind, section in KINDS.items():
        default = registry[f"default_{kind}"]
        if default is not None and default not in registry[section]:
            raise ModelError(f"{path}: default_{kind} '{default}' is not in '{section}'")
    return registry


def list_models() -> list[ModelSpec]:
    """Every registered model: detectors then embedders, each sorted by name."""
    reg = load_registry()
    return [reg[section][name] for section in KINDS.values() for name in sorted(reg[section])]


def _looks_like_path(value: str) -> bool:
    return value.lower().endswith(".onnx") or os.sep in value or "/" in value


def _resolve(kind: str, name_or_path: Optional[str | Path], overrides: dict) -> ModelSpec:
    section = KINDS[kind]
    bad = set(overrides) - {f.name for f in dataclasses.fields(ModelSpec)} - {"kind"}
    if bad:
        raise ModelError(f"unknown {kind} option(s): {', '.join(sorted(bad))}")
    reg = load_registry()
    key = str(name_or_path) if name_or_path else reg[f"default_{kind}"]
    if key in reg[section]:
        spec = reg[section][key]
    elif isinstance(name_or_path, Path) or _looks_like_path(key):
        defaults = USER_DETECTOR_DEFAULTS if kind == "detector" else USER_EMBEDDER_DEFAULTS
        spec = ModelSpec(kind=kind, name=Path(key).stem, path=Path(key), **defaults)
    else:
        known = ", ".join(sorted(reg[section])) or "none"
        raise ModelError(f"unknown {kind} '{key}' (registered: {known}; or give an .onnx path)")
    try:
        spec = _validated(dataclasses.replace(spec, **overrides))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{spec.path}: bad {kind} option ({exc})") from None
    _check_file(spec.path)
    return spec


def _check_file(path: Path) -> None:
    """Cheap checks here; the ONNX graph itself is checked when a session is created."""
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{path}: model path is not a file")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: model file is empty")


def resolve_detector(name_or_path: Optional[str | Path] = None, **overrides) -> ModelSpec:
    """A registered detector name (None: the default) or a path to a user's .onnx.

    A user file is taken as an Ultralytics YOLO export (COCO names, 640x640, RGB/255,
    letterboxed) unless `overrides` say otherwise, e.g. class_names=(...), format="nanodet".
    """
    return _resolve("detector", name_or_path, overrides)


def resolve_embedder(name_or_path: Optional[str | Path] = None, **overrides) -> ModelSpec:
    """A registered embedder name (None: the default) or a path to a user's .onnx.

    A user file defaults to 256x128 (h x w) RGB, /255, ImageNet mean/std, threshold 0.15.
    """
    return _resolve("embedder", name_or_path, overrides)
