"""Faiss gallery of vehicle embeddings.

Vectors are L2-normalised float32; distance = cosine distance = 1 - inner product, in [0, 2].
Several vectors may share one gallery id (several photos of one vehicle): the gallery id is used
directly as the Faiss label, so `remove(id)` drops all of them and a search reports each id once,
with its smallest distance.

Index choice ("auto"): exact search (IndexIDMap over IndexFlatIP) below AUTO_APPROX_MIN vectors,
else an inverted file ("ivf"): IndexIVFScalarQuantizer with fp16 codes, inner-product metric,
over an HNSW32 coarse quantizer -- "IVF{nlist}_HNSW32,SQfp16" -- with nlist ~ 4 sqrt(n):

* The coarse step: a flat quantizer reads all nlist centroids x dim floats per query (4096 x 1280
  = 21 MB, ~3 ms); the HNSW graph over the centroids finds the nprobe nearest in ~0.2 ms.
* The fine step is memory-bound: a list scan costs ~0.45 us per float32 1280-d vector, ~0.28 us
  per fp16 one. fp16 halves memory (2.5 GB per 1M x 1280-d) and its rounding (~1e-3 relative)
  leaves recall where IVF-Flat has it, so no exact re-rank is needed; SQ8 was no faster here,
  lost ~0.5 % recall@10 and needs per-dimension ranges that later additions may exceed.
* Removal stays native (IndexIVF.remove_ids); the HNSW graph only indexes the centroids, which
  never change between retrainings.
* Training: 2-level spherical k-means (sqrt(nlist) coarse clusters, then each split) on a
  39-per-list sample, seconds instead of minutes for 4096 lists at 1280-d.

Single queries run on one thread (Faiss parallelises IVF over queries). Measured numbers:
benchmarks/RESULTS.md.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional

import faiss
import numpy as np

from engine.config import settings
from engine.errors import GalleryError

AUTO_APPROX_MIN = 50_000  # below this, exact search of a single query takes < ~15 ms (1280-d)
RETRAIN_GROWTH = 4  # retrain an IVF index once it holds this many times its training size
TWO_LEVEL_MIN_NLIST = 1024  # below this, plain k-means trains fast enough
HNSW_M = 32  # links per node of the coarse quantizer's graph
INDEX_FILE = "gallery.faiss"
KINDS = ("auto", "flat", "ivf")
_FORMAT = 1
_threads_set = False


def set_threads(n: Optional[int] = None) -> None:
    """Faiss OpenMP threads: VREID_FAISS_THREADS, else all cores up to 8.

    IVF parallelises over queries, so a single query uses one thread anyway; batches of queries
    (video search) and training use them all.
    """
    global _threads_set
    if n is None:
        n = settings().faiss_threads or min(os.cpu_count() or 1, 8)
    faiss.omp_set_num_threads(max(1, n))
    _threads_set = True


def ivf_params(n: int) -> tuple[int, int]:
    """(nlist, nprobe) for an IVF index over n vectors.

    nlist ~ 4 sqrt(n) (a power of two, at least 39 training points per list, as Faiss wants):
    1M vectors -> 4096 lists of ~244. nprobe scans 1/64 of the lists (at least 32): a 1M-vector
    query scans ~16k vectors (p50 ~2.8 ms at 1280-d fp16 on 2 cores). Half that already reaches
    recall@10 0.98 on the benchmark's clustered data, but data with less cluster structure
    needed 32 lists at 100k for 0.94 (benchmarks/RESULTS.md); tune `Gallery.nprobe`.
    """
    nlist = 2 ** round(math.log2(max(4.0 * math.sqrt(max(n, 1)), 1.0)))
    nlist = max(1, min(nlist, n // 39))
    nprobe = min(nlist, max(32, nlist // 64))
    return nlist, nprobe


def normalise(vectors: np.ndarray, dim: int, where: str = "gallery") -> np.ndarray:
    """Rows as C-contiguous float32 unit vectors; GalleryError on a wrong dimension or zero rows."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != dim:
        raise GalleryError(f"{where}: expected vectors of dimension {dim}, got shape {x.shape}"
                           " (built with another embedder?)")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms < 1e-12):
        raise GalleryError(f"{where}: zero or non-finite embedding vector")
    return np.ascontiguousarray(x / norms)


class Gallery:
    """Embeddings of the vehicles to look for, searchable by cosine distance."""

    def __init__(self, dim: int, index_kind: str = "auto", embedder: str = "",
                 labels: Optional[dict[int, str]] = None):
        if index_kind not in KINDS:
            raise GalleryError(f"unknown gallery index kind {index_kind!r}; use one of {KINDS}")
        if not _threads_set:
            set_threads()
        self.dim = int(dim)
        self.index_kind = index_kind
        self.embedder = embedder  # name of the embedder that produced the vectors
        self.labels: dict[int, str] = dict(labels or {})  # gallery id -> display name
        self.path: Optional[Path] = None  # where it was loaded from / saved to, for messages
        self._counts: Counter = Counter()  # gallery id -> number of vectors
        self._most: Optional[int] = 0  # max(self._counts.values()); None: recompute when needed
        self._index = self._new_flat()
        self._trained_for = 0  # vectors an IVF index was trained on; 0 for a flat index

    # --- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, ids: Sequence[int], vectors: np.ndarray, **kw) -> Gallery:
        vectors = np.asarray(vectors, dtype=np.float32)
        gallery = cls(kw.pop("dim", vectors.shape[-1]), **kw)
        gallery.add(ids, vectors)
        return gallery

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        x = normalise(vectors, self.dim, self._name())
        labels = np.asarray(list(ids), dtype=np.int64).reshape(-1)
        if len(labels) != len(x):
            raise GalleryError(f"{self._name()}: {len(labels)} ids for {len(x)} vectors")
        self._counts.update(labels.tolist())
        if self._most is not None and len(labels):
            self._most = max(self._most, max(self._counts[i] for i in set(labels.tolist())))
        if not self._wants_ivf(len(self) + len(x)):
            self._index.add_with_ids(x, labels)
            return
        if len(self):  # rebuild with what is stored (a copy: fine, this is rare)
            old_ids, old_x = self._contents()
            labels, x = np.concatenate([old_ids, labels]), np.concatenate([old_x, x])
        self._train_ivf(labels, x)

    def remove(self, ids: Iterable[int]) -> int:
        """Drop every vector of these gallery ids; returns how many vectors were removed."""
        ids = [int(i) for i in ids]
        removed = self._index.remove_ids(np.asarray(ids, dtype=np.int64)) if ids else 0
        for i in ids:
            self._counts.pop(i, None)
            self.labels.pop(i, None)
        self._most = None
        return int(removed)

    # --- queries --------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, gallery_id: int) -> bool:
        return int(gallery_id) in self._counts

    def ids(self) -> list[int]:
        return sorted(self._counts)

    @property
    def kind(self) -> str:
        """The index in use now: "flat" or "ivf"."""
        return "ivf" if self._trained_for else "flat"

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe) if self._trained_for else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self._trained_for:
            _set_nprobe(self._index, int(value))

    def search(self, vectors: np.ndarray, k: int = 5) -> list[list[tuple[int, float]]]:
        """Per query, up to k (gallery id, cosine distance) pairs, nearest first, ids unique."""
        q = normalise(vectors, self.dim, self._name())
        if len(self) == 0 or k <= 0:
            return [[] for _ in range(len(q))]
        # Fetch extra neighbours so that k distinct ids survive de-duplication; fetching
        # (k-1) * max_vectors_per_id + 1 guarantees it, start smaller and widen only if needed.
        # (max() over 1M counts costs ~16 ms, more than the search itself: kept up to date instead)
        if self._most is None:
            self._most = max(self._counts.values(), default=0)
        most = (k - 1) * self._most + 1
        fetch = min(most, k * 2, len(self))
        while True:
            sims, labels = self._index.search(q, fetch)
            results = [_dedup(s, l, k) for s, l in zip(sims, labels)]
            if fetch >= min(most, len(self)) or all(len(r) >= k for r in results):
                return results
            fetch = min(fetch * 4, most, len(self))

    # --- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write `<dir>/gallery.faiss` (or the given *.faiss path) and a JSON sidecar."""
        index_path, meta_path = _paths(path)
        index_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "dim": self.dim, "index_kind": self.index_kind,
                "kind": self.kind, "trained_for": self._trained_for, "nprobe": self.nprobe,
                "embedder": self.embedder,
                "labels": {str(k): v for k, v in sorted(self.labels.items())}}
        # Write to temporary names, then rename, so a crash never leaves a half-written gallery.
        faiss.write_index(self._index, str(index_path) + ".tmp")
        meta_path.with_name(meta_path.name + ".tmp").write_text(json.dumps(meta, indent=1))
        os.replace(str(index_path) + ".tmp", index_path)
        os.replace(meta_path.with_name(meta_path.name + ".tmp"), meta_path)
        self.path = index_path
        return index_path

    @classmethod
    def load(cls, path: str | os.PathLike, expect_dim: Optional[int] = None,
             expect_embedder: Optional[str] = None) -> Gallery:
        index_path, meta_path = _paths(path)
        meta = _read_meta(meta_path)
        if not index_path.is_file():
            raise GalleryError(f"{index_path}: gallery index file missing")
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as exc:
            raise GalleryError(f"{index_path}: corrupt gallery index ({_first_line(exc)})") from None
        if index.d != meta["dim"]:
            raise GalleryError(f"{index_path}: index has dimension {index.d}, "
                               f"{meta_path.name} says {meta['dim']}")
        if expect_dim is not None and index.d != expect_dim:
            raise GalleryError(f"{index_path}: gallery holds {index.d}-d vectors but the embedder "
                               f"makes {expect_dim}-d ones; rebuild the gallery")
        if expect_embedder and meta.get("embedder") and meta["embedder"] != expect_embedder:
            raise GalleryError(f"{index_path}: gallery built with embedder {meta['embedder']!r}, "
                               f"not {expect_embedder!r}; rebuild the gallery")
        labels = {int(k): str(v) for k, v in meta.get("labels", {}).items()}
        gallery = cls(index.d, meta.get("index_kind", "auto"), meta.get("embedder", ""), labels)
        gallery._index = _check_type(index, index_path)
        gallery._trained_for = int(meta.get("trained_for", 0)) if meta.get("kind") == "ivf" else 0
        if gallery._trained_for and not isinstance(gallery._index, faiss.IndexIVF):
            raise GalleryError(f"{index_path}: sidecar says IVF but the index is not IVF")
        gallery._counts = Counter(gallery._contents(with_vectors=False)[0].tolist())
        gallery._most = None
        gallery.path = index_path
        return gallery

    # --- internals ------------------------------------------------------------------------
    def _name(self) -> str:
        return str(self.path) if self.path else "gallery"

    def _new_flat(self) -> faiss.Index:
        # IndexIDMap, not IDMap2: ids repeat (several vectors per vehicle), which IDMap2's
        # reverse map cannot represent; vectors are read back from the flat storage instead.
        return faiss.IndexIDMap(faiss.IndexFlatIP(self.dim))

    def _wants_ivf(self, n_after: int) -> bool:
        if self.index_kind == "flat":
            return False
        if self._trained_for:  # retrain as the gallery outgrows its lists
            return n_after > RETRAIN_GROWTH * self._trained_for
        if self.index_kind == "ivf":
            return ivf_params(n_after)[0] >= 2  # enough vectors to train at least two lists
        return n_after >= AUTO_APPROX_MIN

    def _train_ivf(self, ids: np.ndarray, x: np.ndarray) -> None:
        nlist, nprobe = ivf_params(len(x))
        # 39 points per list is Faiss's minimum for a stable k-means; more only slows training.
        rng = np.random.default_rng(0)
        sample = x if len(x) <= 40 * nlist else x[np.sort(rng.choice(len(x), 40 * nlist,
                                                                     replace=False))]
        centroids = _train_centroids(sample, nlist)
        quantizer = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        quantizer.hnsw.efConstruction = 40
        quantizer.add(centroids)
        index = faiss.IndexIVFScalarQuantizer(quantizer, self.dim, len(centroids),
                                              faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT, False)
        index.train(sample[:1])  # quantizer already holds nlist centroids: no k-means here
        index.add_with_ids(x, ids)
        _set_nprobe(index, nprobe)
        self._index, self._trained_for = index, len(x)

    def _contents(self, with_vectors: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything stored, read back from the index."""
        if isinstance(self._index, faiss.IndexIVF):
            return _ivf_contents(self._index, with_vectors)
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if not with_vectors:
            return ids, np.empty((0, self.dim), np.float32)
        flat = faiss.downcast_index(self._index.index)
        return ids, flat.reconstruct_n(0, flat.ntotal).reshape(-1, self.dim)


def _dedup(sims: np.ndarray, labels: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Faiss returns neighbours best first, so the first time an id appears is its best."""
    out, seen = [], set()
    for sim, label in zip(sims.tolist(), labels.tolist()):
        if label < 0 or label in seen:  # -1: fewer neighbours than asked in the probed lists
            continue
        seen.add(label)
        out.append((int(label), float(min(2.0, max(0.0, 1.0 - sim)))))
        if len(out) == k:
            break
    return out


def _train_centroids(sample: np.ndarray, nlist: int) -> np.ndarray:
    """nlist unit centroids by spherical k-means (10 iterations: enough for routing)."""
    d = sample.shape[1]
    if nlist < TWO_LEVEL_MIN_NLIST:
        km = faiss.Kmeans(d, nlist, niter=10, spherical=True, max_points_per_centroid=256,
                          min_points_per_centroid=1, seed=1)
        km.train(sample)
        return km.centroids
    # 2-level: k-means into sqrt(nlist) groups, then split each group in proportion to its size.
    # Costs ~2 sqrt(nlist) instead of nlist distances per point and iteration. Written here rather
    # than faiss.contrib.clustering.two_level_clustering, whose proportional split gives a small
    # group 0 sub-lists (k-means with k=0 raises) when the data has fewer dense groups than
    # sqrt(nlist): a camera seeing the same parked cars all month (benchmarks/bench_sightings.py).
    groups = int(math.sqrt(nlist))
    assign = _kmeans(sample, groups).index.search(sample, 1)[1].ravel()
    sizes = np.bincount(assign, minlength=groups)
    parts = []
    for group, k in enumerate(_split(sizes, nlist)):
        members = np.ascontiguousarray(sample[assign == group])
        if k:
            parts.append(members.mean(0, keepdims=True) if k == 1 else _kmeans(members, k).centroids)
    centroids = np.concatenate(parts).astype(np.float32)
    return np.ascontiguousarray(centroids / np.linalg.norm(centroids, axis=1, keepdims=True))


def _split(sizes: np.ndarray, nlist: int) -> list[int]:
    """Lists per group: in proportion to its size (largest remainders first, so nlist in all),
    at least 1 for a group with points, at most its number of points."""
    share = nlist * sizes / sizes.sum()
    counts = np.minimum(np.maximum(np.floor(share), sizes > 0), sizes).astype(int)
    for group in np.argsort(counts - share):  # most short-changed first
        if counts.sum() >= nlist:
            break
        if counts[group] < sizes[group]:
            counts[group] += 1
    return counts.tolist()


def _kmeans(x: np.ndarray, k: int) -> faiss.Kmeans:
    km = faiss.Kmeans(x.shape[1], k, niter=10, spherical=True, seed=1, min_points_per_centroid=1)  # no warnings
    km.train(x)
    return km


def _set_nprobe(index: faiss.IndexIVF, nprobe: int) -> None:
    index.nprobe = nprobe
    quantizer = faiss.downcast_index(index.quantizer)
    if isinstance(quantizer, faiss.IndexHNSW):  # the graph search must return nprobe good lists
        quantizer.hnsw.efSearch = max(64, 2 * nprobe)


def _ivf_contents(index: faiss.IndexIVF, with_vectors: bool) -> tuple[np.ndarray, np.ndarray]:
    invlists, d = index.invlists, index.d
    sq = index.sq if isinstance(index, faiss.IndexIVFScalarQuantizer) else None
    ids, vecs = [], []
    for lst in range(index.nlist):
        n = invlists.list_size(lst)
        if n == 0:
            continue
        ids.append(faiss.rev_swig_ptr(invlists.get_ids(lst), n).copy())
        if with_vectors:
            codes = faiss.rev_swig_ptr(invlists.get_codes(lst), n * invlists.code_size).copy()
            vecs.append(sq.decode(codes.reshape(n, -1)) if sq is not None
                        else codes.view(np.float32).reshape(n, d))
    ids_arr = np.concatenate(ids).astype(np.int64) if ids else np.empty(0, np.int64)
    vec_arr = np.concatenate(vecs) if vecs else np.empty((0, d), np.float32)
    return ids_arr, vec_arr


def _check_type(index: faiss.Index, path: Path) -> faiss.Index:
    # read_index already returns the concrete class; downcast_index would drop ownership.
    if isinstance(index, faiss.IndexIDMap) and isinstance(
            faiss.downcast_index(index.index), faiss.IndexFlatIP):
        return index
    # IVF-Flat: galleries written before the switch to "IVF{nlist}_HNSW32,SQfp16"
    if (isinstance(index, (faiss.IndexIVFFlat, faiss.IndexIVFScalarQuantizer))
            and index.metric_type == faiss.METRIC_INNER_PRODUCT and not index.by_residual):
        return index
    raise GalleryError(f"{path}: unsupported index type {type(index).__name__}")


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """A directory holds gallery.faiss + gallery.json; a *.faiss path gets a *.json beside it."""
    p = Path(path)
    if p.suffix != ".faiss":
        p = p / INDEX_FILE
    return p, p.with_suffix(".json")


def _read_meta(meta_path: Path) -> dict:
    if not meta_path.is_file():
        raise GalleryError(f"{meta_path}: gallery sidecar file missing")
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("dim"), int):
            raise ValueError("no integer 'dim'")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GalleryError(f"{meta_path}: corrupt gallery sidecar ({exc})") from None
    if meta.get("format", _FORMAT) > _FORMAT:
        raise GalleryError(f"{meta_path}: written by a newer VReID (format {meta['format']})")
    return meta


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
