"""Register a vehicle from an uploaded photo: detect, then embed the box the user picked."""
from django.db import transaction
from PIL import Image

from engine import api
from gallery.engine_cache import embedder_name, get_engine
from gallery.models import PendingPhoto, Vehicle, VehiclePhoto
from gallery.storage_files import jpeg_file, local_path, user_message

# Registration decodes photos inside the web process, so the work is bounded. A photo keeps at
# most MAX_PIXELS (plenty for a vehicle's box; the detector looks at well under 1 MP): a larger
# one is decoded downscaled and stored so, its boxes and crops in the stored image's pixels.
# JPEG decodes at a reduced scale; other formats decode whole first, so past MAX_DECODED_PIXELS
# they are refused before decoding.
MAX_PIXELS = 4_000_000
MAX_DECODED_PIXELS = 16_000_000


def create_pending(owner, upload, vehicle=None) -> PendingPhoto:
    """Store the upload and run the detector on it. Raises api.MediaError for unreadable files."""
    pending = PendingPhoto(owner=owner, original_name=upload.name[:255], vehicle=vehicle, width=0, height=0)
    pending.image.save(upload.name, upload, save=False)
    try:
        with local_path(pending.image) as path:
            bgr, pixels = read_photo(path, upload.name)
        if bgr.shape[0] * bgr.shape[1] < pixels:
            _store_downscaled(pending, bgr)
        detections = get_engine().detect(bgr, with_attributes=True)
    except api.EngineError as exc:
        stored_name = pending.image.name
        pending.image.delete(save=False)
        raise api.MediaError(user_message(exc, stored_name, upload.name)) from exc
    except Exception:
        pending.image.delete(save=False)
        raise
    pending.height, pending.width = bgr.shape[:2]
    pending.stored_bytes = pending.image.size
    pending.detections = [
        {"box": [round(float(v), 1) for v in d.box], "score": round(float(d.score), 3), "label": d.label,
         "attributes": d.attributes.to_dict() if d.attributes else None}
        for d in sorted(detections, key=lambda d: -d.score)
    ]
    pending.save()
    return pending


def read_photo(path, name: str):
    """(BGR image, its pixels before downscaling): decoded within the bounds above (MediaError
    for a photo that cannot be)."""
    pixels = _check_decoding_cost(path, name)
    return api.read_image(path, max_pixels=MAX_PIXELS), pixels


def _check_decoding_cost(path, name: str) -> int:
    """The photo's pixels, from its header; MediaError for a big one that cannot be decoded
    downscaled. 0 for what is no image (read_image says why)."""
    try:
        with Image.open(path) as img:
            width, height, kind = img.width, img.height, img.format
    except Exception:  # not an image, a decompression bomb...: read_image reports it
        return 0
    if kind != "JPEG" and width * height > MAX_DECODED_PIXELS:
        raise api.MediaError(f"{name}: {width}x{height} pixels. Photos other than JPEG are taken up to "
                             f"{MAX_DECODED_PIXELS // 1_000_000} MP: scale it down or save it as JPEG.")
    return width * height


def _store_downscaled(pending: PendingPhoto, bgr) -> None:
    """Replace the stored upload by the downscaled image the boxes will refer to."""
    original = pending.image.name
    pending.image.save("photo.jpg", jpeg_file(api.encode_jpeg(bgr, quality=92)), save=False)
    pending.image.storage.delete(original)


@transaction.atomic
def register(pending: PendingPhoto, box, label: str = "", vehicle: Vehicle | None = None) -> VehiclePhoto:
    """Embed the box and attach the photo to `vehicle`, or to a new vehicle named `label`."""
    box = api.clamp_box(box, pending.width, pending.height)
    with local_path(pending.image) as path:
        bgr = api.read_image(path)
    if vehicle is None:
        vehicle = Vehicle.objects.create(owner=pending.owner, label=label.strip() or "Unnamed vehicle")
    photo = _new_photo(vehicle, bgr, box)
    photo.image.name = pending.image.name  # the stored upload becomes the photo; no copy
    photo.stored_bytes = pending.stored_bytes + photo.crop.size
    photo.save()
    pending.delete()  # the post_delete signal keeps the image: the photo now uses it
    return photo


def add_view(vehicle: Vehicle, bgr, box) -> VehiclePhoto:
    """A new photo of `vehicle` from a frame it was found in (a hit the user confirmed), so later
    searches also know it from that camera and angle."""
    height, width = bgr.shape[:2]
    photo = _new_photo(vehicle, bgr, api.clamp_box(box, width, height))
    photo.image.save("frame.jpg", jpeg_file(api.encode_jpeg(bgr, quality=90)), save=False)
    photo.stored_bytes = photo.image.size + photo.crop.size
    photo.save()
    return photo


def _new_photo(vehicle: Vehicle, bgr, box) -> VehiclePhoto:
    """An unsaved photo with the embedding and the crop of `box`; the caller sets its image."""
    engine = get_engine()
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    photo = VehiclePhoto(vehicle=vehicle, box=[round(v, 1) for v in box])
    photo.set_vector(engine.embed_box(bgr, box), embedder_name(engine))
    attributes = engine.attributes_of(bgr, box)
    photo.attributes = attributes.to_dict() if attributes else None
    photo.crop.save("crop.jpg", jpeg_file(api.encode_jpeg(bgr[y1:y2, x1:x2], max_side=256)), save=False)
    return photo
