"""The engine's public API: the only module the web app (or any other caller) imports.

    from engine import api
    eng = api.Engine(api.EngineConfig(device="cpu"))
    image = api.read_image("car.jpg")
    box = eng.detect(image)[0].box
    gallery = api.Gallery(eng.embedder.dim)
    gallery.add([1], eng.embed_box(image, box)[None, :])
    result = eng.search_video("clip.mp4", gallery, api.VideoOptions(frame_stride=2))
"""
from engine.draw import clamp_box, draw_boxes, encode_jpeg, sighting_thumbnail
from engine.errors import EngineError, GalleryError, Interrupted, MediaError, ModelError
from engine.gallery import Gallery
from engine.matching import MatchRules, VehicleProfile, agreement
from engine.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, probe, read_frame, read_image
from engine.pipeline import Engine, EngineConfig, VideoOptions
from engine.recording_time import RecordingStart, recording_start
from engine.registry import (
    ModelSpec,
    default_name,
    list_models,
    resolve_attributes,
    resolve_detector,
    resolve_embedder,
)
from engine.runtime import available_devices
from engine.sightings import SightingHit, match_sightings, near, nearest
from engine.types import (
    Attributes,
    Box,
    Detection,
    ImageHit,
    ImageResult,
    Interval,
    MediaInfo,
    Progress,
    Refusal,
    Sighting,
    VideoResult,
    VideoStats,
)

__all__ = [
    "Attributes", "Box", "Detection", "Engine", "EngineConfig", "EngineError", "Gallery",
    "GalleryError", "IMAGE_EXTENSIONS", "ImageHit", "ImageResult", "Interrupted", "Interval",
    "MatchRules", "MediaError", "MediaInfo", "ModelError", "ModelSpec", "Progress",
    "RecordingStart", "Refusal", "Sighting", "SightingHit", "VIDEO_EXTENSIONS", "VehicleProfile",
    "VideoOptions", "VideoResult", "VideoStats", "agreement", "available_devices", "clamp_box",
    "default_name", "draw_boxes", "encode_jpeg", "list_models", "match_sightings", "near", "nearest",
    "probe", "read_frame", "read_image", "recording_start", "resolve_attributes", "resolve_detector",
    "resolve_embedder", "sighting_thumbnail",
]
