"""The engine's public API: the only module the web app (or any other caller) imports.

    from engine import api
    eng = api.Engine(api.EngineConfig(device="cpu"))
    gallery = api.Gallery(eng.embedder.dim)
    gallery.add([1], eng.embed_box(api.read_image("car.jpg"), box))
    result = eng.search_video("clip.mp4", gallery, api.VideoOptions(frame_stride=2))
"""
from engine.draw import draw_boxes, encode_jpeg
from engine.errors import EngineError, GalleryError, Interrupted, MediaError, ModelError
from engine.gallery import Gallery
from engine.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, probe, read_frame, read_image
from engine.pipeline import Engine, EngineConfig, VideoOptions
from engine.registry import ModelSpec, list_models, resolve_detector, resolve_embedder
from engine.runtime import available_devices
from engine.types import (
    Box,
    Detection,
    ImageHit,
    ImageResult,
    Interval,
    MediaInfo,
    Progress,
    VideoResult,
    VideoStats,
)

__all__ = [
    "Box", "Detection", "Engine", "EngineConfig", "EngineError", "Gallery", "GalleryError",
    "IMAGE_EXTENSIONS", "ImageHit", "ImageResult", "Interrupted", "Interval", "MediaError",
    "MediaInfo", "ModelError", "ModelSpec", "Progress", "VIDEO_EXTENSIONS", "VideoOptions",
    "VideoResult", "VideoStats", "available_devices", "draw_boxes", "encode_jpeg", "list_models", "probe",
    "read_frame", "read_image", "resolve_detector", "resolve_embedder",
]
