"""The per-user sightings index: an engine Gallery whose ids are sighting ids, one per embedder.

The database holds every sighting's vector; the index is a cache of them, stored in media storage
so that any worker or web process on any machine starts from it. Its file is named after the
highest sighting id it holds, a digest of that row's vector and its number of vectors
(`sightings/index/user_<id>/<embedder>-<max id>-<digest>-<count>.faiss`): a database restored from
a backup (or rolled back, as in tests) can give the same ids other vectors, and such a file is
not used. Each use catches it up with newer rows, removes the vectors of deleted ones and adds any
lower row it lacks (then stores the new version and deletes the old file), so it holds what the
database holds; queries still re-read their candidates' rows by owner. Exact (flat) search below
engine.gallery.AUTO_APPROX_MIN vectors, IVF above.

Per process, the loaded index is kept by (user, embedder) and caught up on each use; the least
recently used ones are dropped beyond VREID_SIGHTINGS_CACHE_VECTORS vectors in all.
"""
import hashlib
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from engine import api
from searches.footage.models import Sighting

log = logging.getLogger(__name__)
STORE_EVERY = 2000  # newer rows that make a caught-up index worth storing again
CHUNK = 20_000  # rows read at a time while catching up
IN_CHUNK = 500  # ids per "pk IN (...)": well under SQLite's limit on query parameters
_cache: "OrderedDict[tuple[int, str], _Entry]" = OrderedDict()  # least recently used first
_lock = threading.Lock()


class _Entry:
    def __init__(self, gallery, max_id: int = 0, digest: str = "", stored_max: int = 0):
        self.gallery, self.max_id, self.digest, self.stored_max = gallery, max_id, digest, stored_max


def _digest(owner_id: int, embedder: str, pk: int) -> str:
    """A short digest of sighting `pk`'s vector ("" when there is no such row of this index)."""
    blob = Sighting.objects.filter(pk=pk, owner_id=owner_id, embedder=embedder).values_list("embedding", flat=True)
    blob = blob.first()
    return hashlib.sha1(bytes(blob)).hexdigest()[:10] if blob is not None else ""


def _folder(owner_id: int) -> str:
    return f"sightings/index/user_{owner_id}"


def _slug(embedder: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", embedder)[:60] or "embedder"


def sightings_index(owner_id: int, embedder: str, dim: int) -> "api.Gallery":
    """The owner's sightings made by `embedder`, searchable, up to date with the database."""
    with _lock:
        entry = _cache.get((owner_id, embedder))
        if entry is None or entry.gallery.dim != dim or (entry.max_id and
                                                         _digest(owner_id, embedder, entry.max_id) != entry.digest):
            entry = _cache[(owner_id, embedder)] = _load(owner_id, embedder, dim)
        _catch_up(owner_id, embedder, entry)
        changed = _reconcile(owner_id, embedder, entry)
        if changed or entry.max_id - entry.stored_max >= STORE_EVERY or (entry.stored_max == 0 and entry.max_id):
            _store(owner_id, embedder, entry)
        _cache.move_to_end((owner_id, embedder))
        _evict(settings.VREID_SIGHTINGS_CACHE_VECTORS)
        return entry.gallery


def _evict(budget: int) -> None:
    """Drop the least recently used indexes while the loaded ones hold more than `budget` vectors
    (the one just used, last, always stays): a web process must not keep every user's index."""
    while len(_cache) > 1 and sum(len(e.gallery) for e in _cache.values()) > budget:
        _cache.popitem(last=False)


def forget() -> None:
    """Drop this process's loaded indexes (tests; a process that must free the memory)."""
    with _lock:
        _cache.clear()


def _rows(owner_id: int, embedder: str, after: int):
    return (Sighting.objects.filter(owner_id=owner_id, embedder=embedder, pk__gt=after)
            .order_by("pk").values_list("pk", "embedding"))


def _catch_up(owner_id: int, embedder: str, entry: _Entry) -> None:
    while True:
        rows = list(_rows(owner_id, embedder, entry.max_id)[:CHUNK])
        if not rows:
            return
        vectors = np.stack([np.frombuffer(bytes(blob), dtype=np.float32) for _, blob in rows])
        entry.gallery.add([pk for pk, _ in rows], vectors)
        entry.max_id = rows[-1][0]
        entry.digest = hashlib.sha1(bytes(rows[-1][1])).hexdigest()[:10]


def _reconcile(owner_id: int, embedder: str, entry: _Entry) -> int:
    """Make the index hold exactly the rows up to its max id: remove the vectors of deleted
    sightings (a file or search deleted), add rows it lacks (a row committed after a higher id
    was caught up: concurrent workers; a database restored under a stored file). One COUNT tells
    whether anything differs; only then are the ids compared. Returns how many changed."""
    rows = Sighting.objects.filter(owner_id=owner_id, embedder=embedder, pk__lte=entry.max_id)
    if rows.count() == len(entry.gallery):
        return 0
    alive, held = set(rows.values_list("pk", flat=True)), set(entry.gallery.ids())
    changed = entry.gallery.remove(sorted(held - alive)) if held - alive else 0
    missing = sorted(alive - held)
    for start in range(0, len(missing), IN_CHUNK):
        part = list(rows.filter(pk__in=missing[start:start + IN_CHUNK]).values_list("pk", "embedding"))
        entry.gallery.add([pk for pk, _ in part], np.stack([np.frombuffer(bytes(b), dtype=np.float32) for _, b in part]))
        changed += len(part)
    return changed


def _stored_versions(owner_id: int, embedder: str) -> list[tuple[int, str, str]]:
    """(max id, digest, storage name) of the stored versions, oldest first."""
    folder = _folder(owner_id)
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    prefix = _slug(embedder) + "-"
    found = []
    for name in names:
        if name.startswith(prefix) and name.endswith(".faiss"):
            number, _, digest = name[len(prefix):-len(".faiss")].partition("-")
            digest = digest.partition("-")[0]  # then the count, which only makes the name new
            if number.isdigit() and digest:
                found.append((int(number), digest, f"{folder}/{name}"))
    return sorted(found)


def _load(owner_id: int, embedder: str, dim: int) -> _Entry:
    for max_id, digest, name in reversed(_stored_versions(owner_id, embedder)):
        if _digest(owner_id, embedder, max_id) != digest:
            continue  # its last row is gone or holds another vector: not this database's index
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "index.faiss")
                for stored, local in ((name, path), (name[:-6] + ".json", path[:-6] + ".json")):
                    with default_storage.open(stored, "rb") as src, open(local, "wb") as dst:
                        dst.write(src.read())
                gallery = api.Gallery.load(path, expect_dim=dim)
            return _Entry(gallery, max_id, digest, max_id)
        except (api.EngineError, OSError) as exc:  # half-written by a crashed worker, or removed meanwhile
            log.warning("sightings index %s unreadable (%s); trying an older one", name, exc)
    return _Entry(api.Gallery(dim, embedder=embedder))


def _store(owner_id: int, embedder: str, entry: _Entry) -> None:
    name = f"{_folder(owner_id)}/{_slug(embedder)}-{entry.max_id}-{entry.digest}-{len(entry.gallery)}.faiss"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        entry.gallery.save(path)
        # The sidecar first: readers look for the .faiss file, then need both.
        for local, target in ((path[:-6] + ".json", name[:-6] + ".json"), (path, name)):
            with open(local, "rb") as fh:
                saved = default_storage.save(target, File(fh))
            if saved != target:  # another process stored the same version meanwhile
                default_storage.delete(saved)
    entry.stored_max = entry.max_id
    for _, _, old in _stored_versions(owner_id, embedder):
        if old != name:
            default_storage.delete(old)
            default_storage.delete(old[:-6] + ".json")
