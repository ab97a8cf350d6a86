"""Per-user Faiss index over the users' vehicle photos, persisted in media storage.

The file name carries a version derived from the photos in the database (ids, vehicles and vector
digests), so a deleted, added or re-embedded photo (from the app or the admin) makes the stored
index stale and it is rebuilt on next use. Checking the version reads no vectors.
"""
import hashlib
import logging
import os
import re
import tempfile

import numpy as np
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Q

from engine import api
from gallery.engine_cache import embedder_name
from gallery.models import VehiclePhoto
from gallery.storage_files import local_path

log = logging.getLogger(__name__)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:60] or "embedder"


def refresh_stale_embeddings(user, engine, keep_alive=lambda: None) -> int:
    """Re-embed the user's photos that were embedded by another model, and give colour and type to
    those registered before the attribute model was there; returns how many.

    `keep_alive` is called after each photo: a worker uses it to keep its heartbeat fresh, so a
    long re-embedding after a model change is not taken for a dead worker."""
    name = embedder_name(engine)
    stale = ~Q(embedder=name, dim=engine.embedder.dim)
    if engine.attributes is not None:
        stale |= Q(attributes__isnull=True)
    count = 0
    for photo in VehiclePhoto.objects.filter(vehicle__owner=user).filter(stale).defer("embedding"):
        try:
            with local_path(photo.image) as path:
                bgr = api.read_image(path)
            box = tuple(photo.box)
            photo.set_vector(engine.embed_box(bgr, box), name)
            attributes = engine.attributes_of(bgr, box)
            photo.attributes = attributes.to_dict() if attributes else None
            photo.save(update_fields=["embedding", "dim", "embedder", "attributes"])
            count += 1
            keep_alive()
        except Exception:  # a missing file must not stop the search; the photo is left out
            log.exception("could not re-embed photo %s", photo.pk)
    return count


def embedded_photos(user, engine):
    """The user's photos embedded by the engine's embedder (what its galleries and queries use)."""
    return VehiclePhoto.objects.filter(
        vehicle__owner=user, embedder=embedder_name(engine), dim=engine.embedder.dim
    ).order_by("pk")


def index_name(user, engine, versions) -> str:
    """`versions`: (photo id, vehicle id, vector digest) of each photo, in id order."""
    digest = hashlib.sha1()
    for photo_id, vehicle_id, vector in versions:
        # The vector's digest too: ids alone can come back with other vectors (a database
        # restored from a backup, or rolled back as in the tests) and would load a wrong index.
        digest.update(f"{photo_id}:{vehicle_id}:{vector};".encode())
    return f"indexes/user_{user.pk}/{_slug(embedder_name(engine))}-{digest.hexdigest()[:16]}.faiss"


def _build(rows, dim) -> "api.Gallery":
    """rows: (photo id, vehicle id, vector bytes, ...)."""
    if not rows:
        return api.Gallery(dim)
    ids = [row[1] for row in rows]
    vectors = np.stack([np.frombuffer(bytes(row[2]), dtype=np.float32) for row in rows])
    return api.Gallery.build(ids, vectors)


def _sidecar(name: str) -> str:
    """Gallery.save() writes the index (`x.faiss`) and its metadata (`x.json`): both are stored."""
    return name[: -len(".faiss")] + ".json"


def _load_stored(name: str) -> "api.Gallery":
    try:  # local storage: read in place (the sidecar lies beside it), no 50 MB copy per job start
        return api.Gallery.load(default_storage.path(name))
    except NotImplementedError:  # remote storage: copy both files to a temp folder
        pass
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        for stored, local in ((name, path), (_sidecar(name), os.path.join(tmp, "index.json"))):
            if not default_storage.exists(stored):
                raise api.GalleryError(f"{stored} missing")
            with default_storage.open(stored, "rb") as src, open(local, "wb") as dst:
                dst.write(src.read())
        return api.Gallery.load(path)


def _store(gallery, name: str) -> None:
    folder = os.path.dirname(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        gallery.save(path)
        # The sidecar first: readers look for the .faiss file, then need both.
        for local, target in ((os.path.join(tmp, "index.json"), _sidecar(name)), (path, name)):
            with open(local, "rb") as fh:
                saved = default_storage.save(target, File(fh))
            if saved != target:  # another worker stored the same version meanwhile
                default_storage.delete(saved)
    keep = {name, _sidecar(name)}
    _, old_files = default_storage.listdir(folder)
    for old in old_files:
        if f"{folder}/{old}" not in keep:
            default_storage.delete(f"{folder}/{old}")


def user_gallery(user, engine, keep_alive=lambda: None) -> "api.Gallery":
    """The user's whole gallery (ids are Vehicle pks), loaded from storage or rebuilt."""
    refresh_stale_embeddings(user, engine, keep_alive)
    photos = embedded_photos(user, engine)
    name = index_name(user, engine, photos.values_list("pk", "vehicle_id", "vector_digest"))
    if default_storage.exists(name):
        try:
            return _load_stored(name)
        except (api.EngineError, OSError) as exc:  # OSError: another worker replaced it meanwhile
            log.warning("stored index %s unreadable (%s); rebuilding", name, exc)
            default_storage.delete(name)
    rows = list(photos.values_list("pk", "vehicle_id", "embedding", "vector_digest"))
    gallery = _build(rows, engine.embedder.dim)
    if rows:  # named after the rows it holds: photos may have changed since the check above
        _store(gallery, index_name(user, engine, [(pk, vid, digest) for pk, vid, _, digest in rows]))
    return gallery


def photo_count(user) -> int:
    return VehiclePhoto.objects.filter(vehicle__owner=user).count()


def job_gallery(user, engine, vehicle_ids=None, keep_alive=lambda: None) -> "api.Gallery":
    """The gallery restricted to the chosen vehicles (None or empty = all of the user's)."""
    gallery = user_gallery(user, engine, keep_alive)
    if vehicle_ids:
        others = set(gallery.ids()) - set(vehicle_ids)
        if others:
            gallery.remove(sorted(others))
    return gallery
