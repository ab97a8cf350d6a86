"""Re-identification accuracy (mAP, CMC) on a folder in VeRi-776 layout,

    <root>/image_query/0002_c002_00030600_0.jpg   vehicle 2 seen by camera 2
    <root>/image_test/...                          the gallery

or on a split of a two-camera set (one crop per vehicle per camera, a text file listing
the split's file names; one camera is the query side, the other the gallery):

    <root>/images/train/car_0088_cam1.jpg          car 88 seen by camera 1
    <root>/val.txt                                 car_0088_cam1.jpg, car_0088_cam2.jpg, ...

Protocol of VeRi-776 / Market-1501 (as in torchreid / reid-strong-baseline): cosine
distance on L2-normalised vectors; for each query, gallery images of the same vehicle
from the same camera are removed (matching them is trivial); queries left without any
true match are skipped and counted. AP is the mean of the precision at each true match's
rank; CMC@k is the share of queries with a true match in the top k. Equal distances keep
the gallery's file order.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from engine.errors import EngineError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d+)_c(\d+)_", re.IGNORECASE)
_TWO_CAMERA_NAME = re.compile(r"^([a-z]+_\d+)_cam(\d+)$", re.IGNORECASE)
TWO_CAMERA_IMAGES = Path("images") / "train"  # every split's files are in this one folder
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
QUERY_DIR, GALLERY_DIR = "image_query", "image_test"
_CHUNK = 256  # queries per distance block: bounds memory to 256 x gallery size


def parse_name(filename: str) -> tuple[int, int]:
    """(vehicle id, camera id) of a VeRi file name such as '0002_c002_00030600_0.jpg'."""
    m = _NAME.match(Path(filename).name)
    if not m:
        raise ValueError(f"{filename}: not a VeRi name (expected VVVV_cCCC_...)")
    return int(m.group(1)), int(m.group(2))


def _normalised(vecs) -> np.ndarray:
    v = np.asarray(vecs, np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def evaluate(query_vecs, query_ids, query_cams, gallery_vecs, gallery_ids, gallery_cams,
             ranks: Sequence[int] = (1, 5, 10)) -> dict:
    """{"mAP", "cmc": {k: ...}, "queries": evaluated, "skipped_queries": no true match}."""
    q, g = _normalised(query_vecs), _normalised(gallery_vecs)
    q_ids, q_cams = np.asarray(query_ids), np.asarray(query_cams)
    g_ids, g_cams = np.asarray(gallery_ids), np.asarray(gallery_cams)
    aps, firsts = [], []
    for s in range(0, len(q), _CHUNK):
        ap, first = _score_block(q[s:s + _CHUNK], q_ids[s:s + _CHUNK], q_cams[s:s + _CHUNK],
                                 g, g_ids, g_cams)
        aps.append(ap)
        firsts.append(first)
    ap, first = np.concatenate(aps), np.concatenate(firsts)
    valid = ~np.isnan(ap)
    n = int(valid.sum())
    return {
        "mAP": float(ap[valid].mean()) if n else 0.0,
        "cmc": {k: float((first[valid] < k).mean()) if n else 0.0 for k in ranks},
        "queries": n,
        "skipped_queries": int(len(ap) - n),
    }


def _score_block(q, q_ids, q_cams, g, g_ids, g_cams) -> tuple[np.ndarray, np.ndarray]:
    """Per query: AP (NaN without a true match) and the 0-based rank of the first match."""
    order = np.argsort(1.0 - q @ g.T, axis=1, kind="stable")
    same_id = g_ids[order] == q_ids[:, None]
    keep = ~(same_id & (g_cams[order] == q_cams[:, None]))
    hits = same_id & keep
    rank = np.cumsum(keep, axis=1) - 1  # position among the kept gallery images
    n_hits = hits.sum(axis=1)
    # Removed images before the first kept one have rank -1; their precision is unused.
    precision = np.cumsum(hits, axis=1) / np.maximum(rank + 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(n_hits > 0, (precision * hits).sum(axis=1) / n_hits, np.nan)
    first = rank[np.arange(len(q)), hits.argmax(axis=1)]
    return ap, first


def evaluate_folder(path, embed_fn: Callable[[list[np.ndarray]], np.ndarray],
                    batch_size: int = 32,
                    progress: Optional[Callable[[int, int], None]] = None,
                    ranks: Sequence[int] = (1, 5, 10)) -> dict:
    """Embed every image of a VeRi-layout folder with `embed_fn` and evaluate.

    embed_fn(list of BGR images) -> (N, D) array. progress(done, total) is called after
    each batch. Unreadable images and names that do not parse are skipped and counted.
    """
    root = Path(path)
    if not root.is_dir():
        raise EngineError(f"{root}: evaluation folder not found")
    sides, counts = {}, {"unreadable": 0, "unparsable": 0}
    for sub in (QUERY_DIR, GALLERY_DIR):
        if not (root / sub).is_dir():
            raise EngineError(f"{root}: no {sub}/ folder (expected VeRi-776 layout)")
        sides[sub] = _parsed(root / sub, counts)
        if not sides[sub]:
            raise EngineError(f"{root / sub}: no images named like VVVV_cCCC_*.jpg")
    return _embed_and_evaluate(root, sides[QUERY_DIR], sides[GALLERY_DIR], embed_fn,
                               batch_size, progress, ranks, counts)


def two_camera_split(root, split_file) -> list[tuple[Path, str, int]]:
    """(image path, vehicle key such as 'car_0088', camera) of each file a split lists.

    split_file is a path, or a name relative to root (e.g. 'val.txt'). Raises EngineError
    for a missing split file or a listed name not like '<type>_<id>_cam<n>.jpg'.
    """
    root = Path(root)
    split = Path(split_file)
    if not split.is_absolute() and not split.is_file():
        split = root / split
    if not split.is_file():
        raise EngineError(f"{split}: split file not found")
    rows = []
    for line in split.read_text().split():
        m = _TWO_CAMERA_NAME.match(Path(line).stem)
        if not m:
            raise EngineError(f"{split}: {line!r} is not named like <type>_<id>_cam<n>.jpg")
        rows.append((root / TWO_CAMERA_IMAGES / line, m.group(1).lower(), int(m.group(2))))
    if not rows:
        raise EngineError(f"{split}: lists no images")
    return rows


def evaluate_split(root, split_file, embed_fn: Callable[[list[np.ndarray]], np.ndarray],
                   query_cam: int = 1, batch_size: int = 32,
                   progress: Optional[Callable[[int, int], None]] = None,
                   ranks: Sequence[int] = (1, 5, 10)) -> dict:
    """evaluate_folder's result for a two-camera split: camera `query_cam` is the query
    side, every other camera the gallery."""
    rows = two_camera_split(root, split_file)
    numbers = {key: n for n, key in enumerate(sorted({key for _, key, _ in rows}))}
    files = [(path, numbers[key], cam) for path, key, cam in rows]
    query = [f for f in files if f[2] == query_cam]
    gallery = [f for f in files if f[2] != query_cam]
    if not query or not gallery:
        raise EngineError(f"{split_file}: needs images of camera {query_cam} and of another "
                          "camera")
    return _embed_and_evaluate(Path(root), query, gallery, embed_fn, batch_size, progress,
                               ranks, {"unreadable": 0, "unparsable": 0})


def _embed_and_evaluate(root: Path, query, gallery, embed_fn, batch_size: int, progress,
                        ranks: Sequence[int], counts: dict) -> dict:
    total = len(query) + len(gallery)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    qv, qi, qc = _embed(query, embed_fn, batch_size, counts, tick)
    gv, gi, gc = _embed(gallery, embed_fn, batch_size, counts, tick)
    if not len(qv) or not len(gv):
        raise EngineError(f"{root}: no readable query or gallery images")
    if counts["unreadable"]:
        log.warning("%s: skipped %d unreadable image(s)", root, counts["unreadable"])
    result = evaluate(qv, qi, qc, gv, gi, gc, ranks)
    result.update(counts, query_images=len(qv), gallery_images=len(gv))
    return result


def _parsed(folder: Path, counts: dict) -> list[tuple[Path, int, int]]:
    out = []
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            out.append((f, *parse_name(f.name)))
        except ValueError:
            counts["unparsable"] += 1
    return out


def _embed(files: list[tuple[Path, int, int]], embed_fn, batch_size: int, counts: dict,
           tick: Callable[[int], None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, vehicle ids, camera ids) of the readable files, read one batch at a time."""
    vecs, ids, cams = [], [], []
    for s in range(0, len(files), batch_size):
        batch = files[s:s + batch_size]
        images = [(cv2.imread(str(f)), vid, cam) for f, vid, cam in batch]
        good = [(img, vid, cam) for img, vid, cam in images if img is not None]
        counts["unreadable"] += len(batch) - len(good)
        if good:
            out = np.asarray(embed_fn([img for img, _, _ in good]), np.float32)
            if out.ndim != 2 or len(out) != len(good):
                raise EngineError(f"embed_fn returned shape {out.shape} for {len(good)} images; "
                                  "expected (N, D)")
            vecs.append(out)
            ids += [vid for _, vid, _ in good]
            cams += [cam for _, _, cam in good]
        tick(len(batch))
    dim = vecs[0].shape[1] if vecs else 0
    return (np.concatenate(vecs) if vecs else np.zeros((0, dim), np.float32),
            np.array(ids, np.int64), np.array(cams, np.int64))
