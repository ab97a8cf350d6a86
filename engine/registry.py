"""Model registry: which models exist, where their files come from, and how to feed them.

`models/registry.json` (next to the `engine` package) names every model with its official source
URL(s), size and checksum, and its preprocessing. The files are looked for in the model folders
(VREID_MODEL_DIRS, default `var/models`, then the repo's `models/`, which holds the embedded
models); `python -m engine models fetch NAME` downloads missing ones. Each kind has a list of
defaults, best first: the first one whose files are present is used, so the embedded models keep
working offline and a fetched model takes over once it is there.

VREID_MODEL_REGISTRY points at a user registry merged over the shipped one (same layout; its
relative paths are relative to that file). A detector or embedder can also be given as a path to
a user's .onnx file, with its preprocessing passed as overrides.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from engine.config import settings
from engine.errors import ModelError

KINDS = {"detector": "detectors", "embedder": "embedders", "attributes": "attributes"}
DETECTOR_FORMATS = ("nanodet", "yolo", "ssd", "ensemble")
CHANNEL_ORDERS = ("RGB", "BGR")
SHIPPED_REGISTRY = Path(__file__).resolve().parent.parent / "models" / "registry.json"
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
USER_DEFAULTS = {
    "detector": dict(format="yolo", input_size=(640, 640), letterbox=True, channel_order="RGB",
                     scale=1 / 255, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), class_names=COCO_NAMES),
    "embedder": dict(format="embedding", input_size=(256, 128), letterbox=False, channel_order="RGB",
                     scale=1 / 255, mean=IMAGENET_MEAN, std=IMAGENET_STD, threshold=0.15),
    "attributes": dict(format="attributes", input_size=(72, 72), channel_order="BGR", scale=1.0),
}


@dataclass(frozen=True)
class ModelFile:
    """One file of a model, as published at its official source."""

    name: str
    url: str = ""
    size: Optional[int] = None
    sha256: Optional[str] = None
    sha384: Optional[str] = None

    @property
    def checksum(self) -> tuple[str, str]:
        """(algorithm, hex digest) to verify a download with, ("", "") when none is known."""
        if self.sha256:
            return "sha256", self.sha256
        if self.sha384:
            return "sha384", self.sha384
        return "", ""


@dataclass(frozen=True)
class ModelSpec:
    """One model: its files, how to preprocess its input, and how to read its output.

    The network input is ((pixel in `channel_order`) * scale - mean) / std, NCHW float32.
    """

    kind: str  # "detector", "embedder" or "attributes"
    name: str
    path: Path  # the main file (.onnx, or .xml of an OpenVINO IR pair)
    format: str  # detector: "nanodet" | "yolo" | "ssd"; embedder: "embedding"; "attributes"
    input_size: tuple[int, int]  # (h, w)
    channel_order: str = "RGB"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    letterbox: bool = False  # keep aspect ratio and pad (YOLO) instead of stretching
    threshold: Optional[float] = None  # embedder: default match cosine distance
    dim: Optional[int] = None  # embedder: output size (None: read from the model)
    class_names: tuple[str, ...] = ()
    min_score: Optional[float] = None  # detector: a vehicle from this score
    low_score: Optional[float] = None  # detector: weaker boxes only extend existing tracks
    nms_iou: Optional[float] = None
    runtime: Optional[str] = None  # force "onnxruntime" or "openvino" (None: the CPU default)
    files: tuple[ModelFile, ...] = ()  # everything to download; empty for a local-only model
    recommended: bool = False  # `models fetch --recommended` and start.sh fetch it
    summary: str = ""
    licence: str = ""
    card: Optional[Path] = None
    sha256: Optional[str] = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def companions(self) -> list[Path]:
        """Every file the model needs beside `path` (an IR's .bin)."""
        return [self.path.parent / f.name for f in self.files if f.name != self.path.name]

    @property
    def present(self) -> bool:
        return self.path.is_file() and all(p.is_file() for p in self.companions)

    @property
    def source(self) -> str:
        """Where to get the files, for messages."""
        urls = [f.url for f in self.files if f.url]
        return urls[0].rsplit("/", 1)[0] + "/" if urls else "(no download source)"


def model_dirs() -> list[Path]:
    """Folders searched for model files, in order; the shipped models/ folder is always last."""
    dirs = list(settings().model_dirs)
    if SHIPPED_REGISTRY.parent not in dirs:
        dirs.append(SHIPPED_REGISTRY.parent)
    return dirs


def find_file(name: str, base: Optional[Path] = None) -> Path:
    """Where model file `name` is: absolute as given, else in `base` or the first model folder
    that holds it; a missing file resolves to where `fetch` would put it."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path
    folders = ([base] if base else []) + model_dirs()
    for folder in folders:
        if (folder / path).is_file():
            return folder / path
    return settings().model_dirs[0] / path if settings().model_dirs else folders[0] / path


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


def _files(entry: dict, where: str) -> tuple[ModelFile, ...]:
    files = entry.get("files", [])
    if not isinstance(files, list):
        raise ModelError(f"{where}: 'files' must be a list")
    known = {f.name for f in dataclasses.fields(ModelFile)}
    try:
        return tuple(ModelFile(**{k: v for k, v in f.items() if k in known}) for f in files)
    except (TypeError, AttributeError):
        raise ModelError(f"{where}: each of 'files' needs a 'name'") from None


def _spec_from_entry(kind: str, name: str, entry: Any, base: Optional[Path], source: Path) -> ModelSpec:
    """Validate one registry entry; `base` is searched first for its relative paths."""
    where = f"{source}: {kind} '{name}'"
    if not isinstance(entry, dict) or "path" not in entry:
        raise ModelError(f"{where}: entry must be an object with a 'path'")
    known = {f.name for f in dataclasses.fields(ModelSpec)}
    values = {k: v for k, v in entry.items() if k in known}
    extra = {k: v for k, v in entry.items() if k not in known}
    values["path"] = find_file(entry["path"], base)
    values["files"] = _files(entry, where)
    if entry.get("card"):
        values["card"] = source.parent / entry["card"]
    try:
        return _validated(ModelSpec(kind=kind, name=name, extra=extra, **{**USER_DEFAULTS[kind], **values}))
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
    for score in ("min_score", "low_score", "nms_iou"):
        value = getattr(spec, score)
        if value is not None and not 0 < float(value) < 1:
            raise ValueError(f"{score} must be in (0, 1), got {value}")
    if spec.runtime not in (None, "onnxruntime", "openvino"):
        raise ValueError(f"runtime must be onnxruntime or openvino, got {spec.runtime!r}")
    return dataclasses.replace(
        spec, path=Path(spec.path), input_size=(h, w), mean=mean, std=std,
        channel_order=order, scale=float(spec.scale), threshold=threshold,
        dim=None if spec.dim is None else int(spec.dim),
        class_names=tuple(str(c) for c in spec.class_names), files=tuple(spec.files),
    )


def _defaults(value: Any, source: Path, kind: str) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelError(f"{source}: default_{kind} must be a name or a list of names")
    return names


def _merge(registry: dict, data: dict, base: Optional[Path], source: Path) -> None:
    for kind, section in KINDS.items():
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise ModelError(f"{source}: '{section}' must be an object of name -> entry")
        for name, entry in entries.items():
            registry[section][name] = _spec_from_entry(kind, name, entry, base, source)
        default = data.get(f"default_{kind}")
        if default is not None:
            registry[f"default_{kind}"] = _defaults(default, source, kind)


def load_registry(path: Optional[Path | str] = None) -> dict:
    """{"detectors": {name: ModelSpec}, ..., "default_detector": [names, best first], ...}.

    `path` replaces the shipped registry file; VREID_MODEL_REGISTRY is merged over it.
    """
    path = Path(path) if path else SHIPPED_REGISTRY
    registry: dict = {section: {} for section in KINDS.values()}
    registry.update({f"default_{kind}": [] for kind in KINDS})
    _merge(registry, _read_json(path), None, path)
    user = settings().user_registry
    if user:
        _merge(registry, _read_json(user), user.parent, user)
    for kind, section in KINDS.items():
        for default in registry[f"default_{kind}"]:
            if default not in registry[section]:
                raise ModelError(f"{path}: default_{kind} '{default}' is not in '{section}'")
    return registry


def list_models() -> list[ModelSpec]:
    """Every registered model: detectors, embedders, attribute models, each sorted by name."""
    reg = load_registry()
    return [reg[section][name] for section in KINDS.values() for name in sorted(reg[section])]


def default_name(kind: str, registry: Optional[dict] = None) -> Optional[str]:
    """The first default of `kind` whose files are present (None when none is)."""
    reg = registry or load_registry()
    return next((n for n in reg[f"default_{kind}"] if reg[KINDS[kind]][n].present), None)


def _looks_like_path(value: str) -> bool:
    return value.lower().endswith((".onnx", ".xml")) or "/" in value or "\\" in value


def _resolve(kind: str, name_or_path: Optional[str | Path], overrides: dict) -> ModelSpec:
    section = KINDS[kind]
    bad = set(overrides) - {f.name for f in dataclasses.fields(ModelSpec)} - {"kind"}
    if bad:
        raise ModelError(f"unknown {kind} option(s): {', '.join(sorted(bad))}")
    reg = load_registry()
    key = str(name_or_path) if name_or_path else default_name(kind, reg)
    if key is None:
        wanted = ", ".join(reg[f"default_{kind}"]) or "none registered"
        raise ModelError(f"no {kind} model is present (defaults: {wanted}); "
                         "run `python -m engine models` to see where to get them")
    if key in reg[section]:
        spec = reg[section][key]
        if not spec.present:
            raise ModelError(f"{kind} '{key}' is not downloaded: run `python -m engine models fetch {key}` "
                             f"(source {spec.source}) or put its files in {model_dirs()[0]}")
    elif isinstance(name_or_path, Path) or _looks_like_path(key):
        spec = ModelSpec(kind=kind, name=Path(key).stem, path=Path(key), **USER_DEFAULTS[kind])
        if spec.format == "yolo":  # onnxruntime reads the class names an Ultralytics export keeps
            spec = dataclasses.replace(spec, runtime="onnxruntime")
    else:
        known = ", ".join(sorted(reg[section])) or "none"
        raise ModelError(f"unknown {kind} '{key}' (registered: {known}; or give a model file path)")
    try:
        spec = _validated(dataclasses.replace(spec, **overrides))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{spec.path}: bad {kind} option ({exc})") from None
    _check_file(spec.path)
    return spec


def _check_file(path: Path) -> None:
    """Cheap checks here; the graph itself is checked when the runtime loads it."""
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{path}: model path is not a file")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: model file is empty")


def resolve_detector(name_or_path: Optional[str | Path] = None, **overrides) -> ModelSpec:
    """A registered detector name (None: the first default present) or a path to a user's .onnx.

    A user file is taken as an Ultralytics YOLO export (COCO names, 640x640, RGB/255,
    letterboxed) unless `overrides` say otherwise, e.g. class_names=(...), format="nanodet".
    """
    return _resolve("detector", name_or_path, overrides)


def resolve_embedder(name_or_path: Optional[str | Path] = None, **overrides) -> ModelSpec:
    """A registered embedder name (None: the first default present) or a path to a user's .onnx.

    A user file defaults to 256x128 (h x w) RGB, /255, ImageNet mean/std, threshold 0.15.
    """
    return _resolve("embedder", name_or_path, overrides)


def resolve_attributes(name_or_path: Optional[str | Path] = None, **overrides) -> Optional[ModelSpec]:
    """The colour/type model: a name or path, or None for the first default present. Returns
    None when no attribute model is present: attributes are optional everywhere."""
    if name_or_path is None and default_name("attributes") is None:
        return None
    return _resolve("attributes", name_or_path, overrides)
