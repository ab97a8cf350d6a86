"""Reading images and video safely: sniff by content, refuse bombs, never hang."""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.config import settings
from engine.errors import MediaError
from engine.types import MediaInfo

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})

MAX_VIDEO_PIXELS = 4096 * 2304  # above 4K a frame costs too much memory per track
DEFAULT_FPS = 25.0  # containers that report no frame rate


def probe(path: str | os.PathLike) -> MediaInfo:
    """Tell whether `path` is a readable image or video, by content rather than by name."""
    path = _existing_file(path)
    try:
        return _probe_image(path)
    except _NotAnImage:
        return _probe_video(path)


def read_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file to a BGR array, honouring EXIF orientation. With `max_pixels`, a
    larger image comes out downscaled to fit, at a fraction of the time and memory: a JPEG is
    decoded at a reduced scale, other formats are reduced before any conversion copies them."""
    path = _existing_file(path)
    try:
        with _open_pil(path) as img:
            _check_image_size(path, img.size)
            if max_pixels:
                img = _reduced(img, max_pixels)
            img = ImageOps.exif_transpose(img).convert("RGB")
    except _NotAnImage:
        raise MediaError(f"{path.name}: not a readable image (corrupt or unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{path.name}: corrupt or truncated image ({exc})") from exc
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])


def _reduced(img: Image.Image, max_pixels: int) -> Image.Image:
    """`img` shrunk by a whole factor to at most `max_pixels` pixels (EXIF data kept)."""
    width, height = img.size
    if width * height <= max_pixels:
        return img
    scale = math.sqrt(max_pixels / (width * height))
    img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))  # JPEG only: DCT scaling
    factor = math.ceil(math.sqrt(img.size[0] * img.size[1] / max_pixels))
    return img.reduce(factor) if factor > 1 else img


def iter_frames(
    path: str | os.PathLike, stride: int = 1, start_frame: int = 0
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame_index, time_s, bgr) for every `stride`-th frame from `start_frame`.

    Skipped frames are only grabbed, not converted, which is much cheaper than read().
    """
    path = _existing_file(path)
    cap = _open_video(path)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
        if start_frame > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start_frame)
        index = start_frame
        while True:
            if (index - start_frame) % stride == 0:
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                yield index, index / fps, frame
            elif not cap.grab():
                break
            index += 1
    finally:
        cap.release()


def read_frame(path: str | os.PathLike, index: int) -> np.ndarray:
    """One frame of a video (BGR), as the pipeline saw it; MediaError if there is none."""
    for _, _, frame in iter_frames(path, 1, start_frame=max(0, int(index))):
        return frame
    raise MediaError(f"{Path(path).name}: no frame {index}")


def decode_only(path: str | os.PathLike, stride: int = 1) -> int:
    """Decode the whole file as the pipeline would and return the frames read (benchmarks)."""
    return sum(1 for _ in iter_frames(path, stride))


class _NotAnImage(Exception):
    pass


def _existing_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name}: file not found")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name}: file is empty")
    return path


def _check_image_size(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise MediaError(f"{path.name}: image has no pixels")
    limit = settings().max_image_pixels
    if width * height > limit:
        raise MediaError(
            f"{path.name}: image is {width}x{height} pixels, over the limit of "
            f"{limit:,} pixels (possible decompression bomb)"
        )


def _open_pil(path: Path) -> Image.Image:
    """Open lazily (header only); bombs and non-images become clear errors."""
    try:
        return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise MediaError(
            f"{path.name}: image dimensions are over the limit of {settings().max_image_pixels:,} pixels "
            "(possible decompression bomb)") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _NotAnImage() from None


def _probe_image(path: Path) -> MediaInfo:
    try:
        with _open_pil(path) as img:
            size, fmt = img.size, img.format
    except _NotAnImage:
        if path.suffix.lower() in IMAGE_EXTENSIONS:  # named as an image: don't try video
            raise MediaError(f"{path.name}: not a readable image (corrupt or unsupported format)") from None
        raise
    if fmt in {"MPEG", "GIF"} and path.suffix.lower() in VIDEO_EXTENSIONS:
        raise _NotAnImage()
    _check_image_size(path, size)
    read_image(path)  # the header can be fine while the pixel data is truncated
    return MediaInfo(path=str(path), kind="image", width=size[0], height=size[1])


def _open_video(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"{path.name}: not a supported image or video, or the file is corrupt")
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width * height > MAX_VIDEO_PIXELS:
        cap.release()
        raise MediaError(f"{path.name}: video is {width}x{height}, larger than 4K is not supported")
    return cap


def _probe_video(path: Path) -> MediaInfo:
    cap = _open_video(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise MediaError(f"{path.name}: video has no decodable frames (truncated or corrupt)")
        fps = cap.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 1)
        height, width = frame.shape[:2]
    finally:
        cap.release()
    return MediaInfo(
        path=str(path), kind="video", width=width, height=height,
        fps=float(fps), frame_count=count, duration_s=count / fps,
    )


def frame_count(path: str | os.PathLike) -> Optional[int]:
    """The container's frame count, or None when it does not say."""
    cap = _open_video(_existing_file(path))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return count if count > 0 else None
