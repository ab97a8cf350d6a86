"""One loaded engine per configuration per process: loading the ONNX models takes a while.

This is only a cache; every piece of job state lives in the database and media storage.
"""
from functools import lru_cache

from django.conf import settings

from engine import api

DEVICES = ("cpu", "cuda")


@lru_cache(maxsize=4)
def _load(device: str, detector: str, embedder: str, min_score: float, threads: int) -> "api.Engine":
    models = {key: value for key, value in (("detector", detector), ("embedder", embedder)) if value}
    config = api.EngineConfig(device=device, min_score=min_score, threads=threads or None, **models)
    return api.Engine(config)


def get_engine(device: str | None = None) -> "api.Engine":
    device = device or settings.VREID_DEFAULT_DEVICE
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}")
    return _load(device, settings.VREID_DETECTOR, settings.VREID_EMBEDDER, settings.VREID_MIN_SCORE,
                 settings.VREID_ENGINE_THREADS)


def embedder_name(engine) -> str:
    """The embedder's registry name, stored with each vector so that a model change is noticed."""
    embedder = engine.embedder
    return getattr(embedder, "name", None) or embedder.spec.name
