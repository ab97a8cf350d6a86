"""Footage index at scale (issue 10): index queries, results pages, explore filters, storage.

    .venv/bin/python benchmarks/bench_sightings.py --quick            # 100k index, 10k rows, SQLite
    .venv/bin/python benchmarks/bench_sightings.py                    # 1M index, 100k rows, SQLite
    .venv/bin/python benchmarks/bench_sightings.py --parts db --postgres   # rows on a throwaway PostgreSQL

Throwaway everything, as benchmarks/load_test.py (whose environment helpers it uses): a temp folder
(MEDIA_ROOT, SQLite database), its own Redis database (--redis-db), optionally its own PostgreSQL
database, dropped at the end.

Sightings are made from REAL ones: the app's engine runs once over bikes.mp4 and
../shared/media/street-parked-cars.mp4 (stride 2; cached in benchmarks/out/real_sightings.pkl),
and each stored sighting is a replica of one of them: its vector plus Gaussian noise, renormalised
(most replicas with noise of norm --s-other, "look-alikes" beyond the match threshold; a share
--p-same with noise of norm --s-same, "the same vehicle seen again", within it), its colour, type,
attributes, box and thumbnail JPEG; cameras (--cameras) and times (30 days) are random. Isotropic
noise is the hard case for IVF (no low-dimensional structure for the lists to follow): treat its
recall as a floor, real embeddings cluster more.

Parts (--parts, comma-separated):
  index    engine Gallery of --index-n sighting vectors (what searches.footage.index builds: IVF
           above AUTO_APPROX_MIN, built here with the same parameters but added in chunks so that
           no second float32 copy is needed); p50/p95 of api.near(index, 3 photos, threshold) and
           api.nearest(index, v, 48), recall against exact search, build time, RSS, file sizes.
  db       --rows Sighting rows in --footage files, a registered vehicle (the real parked car of
           bikes.mp4) and a job over all footage answered from the index (searches.tasks, in
           process); then the job page and its timeline fragment (Django test Client), explore
           (footage:explore if it resolves, else the equivalent queryset) with EXPLAIN, storage.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout first: the shared venv's editable install may point elsewhere
from benchmarks.load_test import create_postgres_db, drop_postgres_db, setup_env  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
STREET = ROOT.parent / "shared" / "media" / "street-parked-cars.mp4"
OMZ = ROOT.parent / "shared" / "models" / "omz"
CHUNK = 20_000
FPS = 25.0
INDEX_USE = re.compile(r"(?:USING (?:COVERING )?INDEX|Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)")


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def timed(fn, repeat: int, warm: int = 2) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


# --- real sightings ---------------------------------------------------------------------------
def real_sightings(engine) -> list[dict]:
    """Every track the engine reports in the two clips (stride 2), with its JPEG thumbnail."""
    from engine import api
    from gallery.engine_cache import embedder_name
    from tests.media import bikes_mp4

    cache = OUT / "real_sightings.pkl"
    key = (embedder_name(engine), engine.models.get("detector"))
    if cache.is_file():
        saved = pickle.loads(cache.read_bytes())
        if saved["key"] == key:
            return saved["sightings"]
    found = []
    for clip in (bikes_mp4(), STREET):
        seen: list = []
        t0 = time.perf_counter()
        engine.search_video(str(clip), api.Gallery(engine.embedder.dim), api.VideoOptions(frame_stride=2),
                            on_sighting=seen.append)
        print(f"# {clip.name}: {len(seen)} sightings in {time.perf_counter() - t0:.0f} s", flush=True)
        for s in seen:
            a = s.attributes
            found.append({"clip": clip.name, "vector": np.asarray(s.vector, np.float32),
                          "colour": a.colour if a else "", "type": a.type if a else "",
                          "attributes": a.to_dict() if a else None, "box": [round(float(v), 1) for v in s.box],
                          "duration_s": max(0.1, s.end_s - s.start_s), "crops": s.crops,
                          "jpeg": api.encode_jpeg(s.thumbnail, quality=80) if s.thumbnail is not None else b""})
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps({"key": key, "sightings": found}))
    return found


class Replicas:
    """Noisy copies of the real sighting vectors, chunk by chunk, deterministic per chunk."""

    def __init__(self, base: np.ndarray, args, seed: int = 0):
        self.base, self.dim, self.seed = base, base.shape[1], seed
        self.s_other, self.s_same, self.p_same = args.s_other, args.s_same, args.p_same

    def chunk(self, start: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.seed, start))
        which = rng.integers(0, len(self.base), m)
        sigma = np.where(rng.random(m) < self.p_same, self.s_same, self.s_other).astype(np.float32)
        x = rng.standard_normal((m, self.dim), np.float32)
        x *= (sigma / np.sqrt(self.dim))[:, None]
        x += self.base[which]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x, which

    def photos(self, b: int, n: int = 3, s_photo: float = 0.4) -> np.ndarray:
        """n new photos of the vehicle of base sighting b (not stored copies)."""
        rng = np.random.default_rng((self.seed, 1 << 40, b))
        x = self.base[b] + s_photo / np.sqrt(self.dim) * rng.standard_normal((n, self.dim), np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_photos(engine) -> np.ndarray:
    """Three real photos of the parked car of bikes.mp4 (frames 140, 160, 180), embedded."""
    from engine import api
    from tests.media import bikes_mp4

    out, last = [], None
    for index in (160, 140, 180):
        frame = api.read_frame(str(bikes_mp4()), index)
        dets = engine.detect(frame)
        if last is None:
            dets = [d for d in dets if (d.box[0] + d.box[2]) / 2 > 400] or dets
            pick = dets[0]
        else:
            pick = min(dets, key=lambda d: sum(abs(a - b) for a, b in zip(d.box, last)))
        last = pick.box
        out.append(engine.embed_box(frame, tuple(int(v) for v in pick.box)))
    return np.stack(out).astype(np.float32)


# --- part 1: the index ------------------------------------------------------------------------
class Truth:
    """Exact answers, gathered chunk by chunk while the index is filled."""

    def __init__(self, sets: list[np.ndarray], threshold: float, k: int):
        self.sets, self.threshold, self.k = sets, threshold, k
        self.q = np.concatenate(sets)
        self.near = [set() for _ in sets]
        self.top_sim = np.full((len(sets), k), -np.inf, np.float32)
        self.top_id = np.zeros((len(sets), k), np.int64)

    def add(self, x: np.ndarray, ids: np.ndarray) -> None:
        sims = self.q @ x.T
        row = 0
        for i, s in enumerate(self.sets):
            best = sims[row:row + len(s)].max(axis=0)
            self.near[i].update(ids[1 - best <= self.threshold].tolist())
            first = sims[row]  # nearest(): the set's first photo
            allsim = np.concatenate([self.top_sim[i], first])
            allid = np.concatenate([self.top_id[i], ids])
            top = np.argpartition(-allsim, self.k - 1)[:self.k]
            self.top_sim[i], self.top_id[i] = allsim[top], allid[top]
            row += len(s)


TRAIN_NOTES: list[str] = []


def build_index(replicas: Replicas, n: int, name: str, truth: Truth):
    """The Gallery searches.footage.index would hold for n sightings (ids 1..n), filled in chunks."""
    import faiss

    from engine import gallery as gm

    gallery = gm.Gallery(replicas.dim, embedder=name)
    if n < gm.AUTO_APPROX_MIN:
        for start in range(0, n, CHUNK):
            x, _ = replicas.chunk(start, min(CHUNK, n - start))
            ids = np.arange(start + 1, start + 1 + len(x))
            gallery.add(ids, x)
            truth.add(x, ids)
        return gallery
    # As Gallery._train_ivf with n vectors, without holding all n as float32 (5 GB at 1M x 1280).
    nlist, nprobe = gm.ivf_params(n)
    sample_n = min(n, 40 * nlist)
    sample = np.concatenate([replicas.chunk(s, min(CHUNK, sample_n - s))[0] for s in range(0, sample_n, CHUNK)])
    centroids = gm._train_centroids(sample, nlist)
    quantizer = faiss.IndexHNSWFlat(replicas.dim, gm.HNSW_M, faiss.METRIC_INNER_PRODUCT)
    quantizer.hnsw.efConstruction = 40
    quantizer.add(centroids)
    index = faiss.IndexIVFScalarQuantizer(quantizer, replicas.dim, len(centroids), faiss.ScalarQuantizer.QT_fp16,
                                          faiss.METRIC_INNER_PRODUCT, False)
    index.train(sample[:1])
    del sample
    for start in range(0, n, CHUNK):
        x, _ = replicas.chunk(start, min(CHUNK, n - start))
        ids = np.arange(start + 1, start + 1 + len(x))
        index.add_with_ids(x, ids)
        truth.add(x, ids)
    gm._set_nprobe(index, nprobe)
    gallery._index, gallery._trained_for = index, n
    gallery._counts, gallery._most = Counter(range(1, n + 1)), 1
    return gallery


def part_index(args, engine, real, report: dict) -> None:
    from engine import api
    from gallery.engine_cache import embedder_name

    base = np.stack([s["vector"] for s in real])
    replicas = Replicas(base, args)
    threshold = engine.embedder.spec.threshold if getattr(engine.embedder, "spec", None) else 0.3
    threshold = threshold or 0.3
    rng = np.random.default_rng(7)
    picks = rng.choice(len(base), min(args.query_sets, len(base)), replace=False)
    sets = [real_photos(engine)] + [replicas.photos(int(b)) for b in picks]
    truth = Truth(sets, threshold, args.k)
    n, load0, rss0 = args.index_n, load(), rss_mib()
    t0 = time.perf_counter()
    gallery = build_index(replicas, n, embedder_name(engine), truth)
    build_s = time.perf_counter() - t0
    rss = rss_mib() - rss0
    print(f"# index: {n:,} vectors ({gallery.kind}, nprobe {gallery.nprobe}) built in {build_s:.0f} s, "
          f"+{rss:,.0f} MiB RSS; load {load()}", flush=True)

    near_ms, found_n, hit, want = [], [], 0, 0
    for i, s in enumerate(sets):
        found = api.near(gallery, s, threshold)
        found_n.append(len(found))
        hit += len(set(found) & truth.near[i])
        want += len(truth.near[i])
        near_ms += timed(lambda s=s: api.near(gallery, s, threshold), args.repeat, warm=1)
    nearest_ms, top_hit = [], 0
    for i, s in enumerate(sets):
        got = api.nearest(gallery, s[0], args.k)
        top_hit += len({g for g, _ in got} & set(truth.top_id[i].tolist()))
        nearest_ms += timed(lambda s=s: api.nearest(gallery, s[0], args.k), args.repeat, warm=1)
    with tempfile.TemporaryDirectory() as tmp:
        ivf_bytes = gallery.save(Path(tmp) / "ivf.faiss").stat().st_size
    flat_n = min(n, 20_000)
    flat = api.Gallery(base.shape[1], index_kind="flat")
    flat.add(np.arange(1, flat_n + 1), replicas.chunk(0, flat_n)[0])
    with tempfile.TemporaryDirectory() as tmp:
        flat_bytes = flat.save(Path(tmp) / "flat.faiss").stat().st_size
    report["index"] = {
        "n": n, "dim": base.shape[1], "kind": gallery.kind, "nlist": getattr(gallery._index, "nlist", 0),
        "nprobe": gallery.nprobe, "threshold": threshold, "real_base": len(base), "query_sets": len(sets),
        "build_s": round(build_s, 1), "rss_growth_mib": round(rss), "rss_mib": round(rss_mib()),
        "near_p50_ms": round(pct(near_ms, 50), 2), "near_p95_ms": round(pct(near_ms, 95), 2),
        "near_found_mean": round(statistics.mean(found_n), 1), "near_found_max": max(found_n),
        "near_recall": round(hit / want, 4) if want else None, "near_truth_total": want,
        "nearest_k": args.k, "nearest_p50_ms": round(pct(nearest_ms, 50), 2),
        "nearest_p95_ms": round(pct(nearest_ms, 95), 2), "nearest_recall": round(top_hit / (args.k * len(sets)), 4),
        "ivf_file_bytes": ivf_bytes, "ivf_bytes_per_sighting": round(ivf_bytes / n, 1),
        "flat_file_bytes": flat_bytes, "flat_n": flat_n, "flat_bytes_per_sighting": round(flat_bytes / flat_n, 1),
        "load_before": load0, "load_after": load(), "timings": len(near_ms), "train_notes": TRAIN_NOTES,
    }
    print(json.dumps(report["index"], indent=1), flush=True)


# --- part 2: rows, job, pages, explore, storage -------------------------------------------------
def seed(args, engine, real, user) -> dict:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection
    from django.utils import timezone

    from gallery.engine_cache import embedder_name
    from searches.footage.models import Camera, Footage, Sighting

    name = embedder_name(engine)
    base = np.stack([s["vector"] for s in real])
    replicas = Replicas(base, args, seed=1)
    thumbs = [default_storage.save(f"sightings/user_{user.pk}/bench/real-{i}.jpg", ContentFile(s["jpeg"]))
              if s["jpeg"] else "" for i, s in enumerate(real)]
    cameras = Camera.objects.bulk_create([Camera(owner=user, name=f"cam {i:02d}") for i in range(args.cameras)])
    rng = np.random.default_rng(3)
    now = timezone.now().replace(microsecond=0)
    per = args.rows // args.footage
    duration = 600.0
    footage = Footage.objects.bulk_create([Footage(
        owner=user, file=f"footage/bench/cam{i % args.cameras:02d}/clip-{i:04d}.mp4", original_name=f"clip-{i:04d}.mp4",
        camera=cameras[i % args.cameras], recorded_at=now - timedelta(days=30) + timedelta(seconds=float(rng.uniform(0, 30 * 86400 - duration))),
        recorded_at_source="metadata", kind="video", fps=FPS, duration_s=duration, status=Footage.Status.INDEXED,
        detector=engine.models.get("detector", ""), embedder=name, frame_stride=2, indexed_at=now,
        sightings_count=per) for i in range(args.footage)])
    t0 = time.perf_counter()
    made = 0
    for start in range(0, per * len(footage), CHUNK):
        m = min(CHUNK, per * len(footage) - start)
        x, which = replicas.chunk(start, m)
        rows = []
        for j in range(m):
            f = footage[(start + j) // per]
            r = real[which[j]]
            s = float(rng.uniform(0, duration - r["duration_s"]))
            rows.append(Sighting(
                footage=f, owner=user, camera_id=f.camera_id, seen_at=f.seconds_at(s), start_s=s,
                end_s=s + r["duration_s"], start_frame=int(s * FPS), end_frame=int((s + r["duration_s"]) * FPS),
                best_frame=int(s * FPS), best_time_s=s, box=r["box"], colour=r["colour"], vehicle_type=r["type"],
                attributes=r["attributes"], embedding=x[j].tobytes(), embedder=name, crops=r["crops"],
                thumbnail=thumbs[which[j]]))
        Sighting.objects.bulk_create(rows, batch_size=1000)
        made += m
    seed_s = time.perf_counter() - t0
    if connection.vendor == "postgresql":  # what autovacuum does soon after a big insert
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    print(f"# seeded {made:,} sightings in {len(footage)} files in {seed_s:.0f} s; load {load()}", flush=True)
    return {"rows": made, "footage": len(footage), "cameras": len(cameras), "seed_s": round(seed_s, 1),
            "thumbnail_files": len([t for t in thumbs if t]), "footage_rows": footage, "camera_rows": cameras}


def run_job(user, vehicle, footage) -> dict:
    from engine import api
    from gallery.engine_cache import embedder_name, get_engine
    from searches import tasks
    from searches.footage.index import forget, sightings_index
    from searches.models import Hit, SearchFile, SearchJob

    engine = get_engine("cpu")
    forget()
    t0 = time.perf_counter()
    index = sightings_index(user.pk, embedder_name(engine), engine.embedder.dim)
    cold_s = time.perf_counter() - t0
    forget()
    t0 = time.perf_counter()
    sightings_index(user.pk, embedder_name(engine), engine.embedder.dim)
    stored_s = time.perf_counter() - t0
    job = SearchJob.objects.create(owner=user, name=f"bench: {len(footage)} indexed files", frame_stride=2,
                                   status=SearchJob.Status.QUEUED, rq_job_id="bench-run")
    job.vehicles.set([vehicle])
    SearchFile.objects.bulk_create([SearchFile(job=job, position=i, original_name=f.original_name, kind="video",
                                               file=f.file, footage=f) for i, f in enumerate(footage)])
    t0 = time.perf_counter()
    status = tasks._run(job.pk, "bench-run")
    job_s = time.perf_counter() - t0
    from gallery.models import VehiclePhoto
    from searches.models import NearMiss

    photos = np.stack([np.frombuffer(bytes(b), np.float32) for b in
                       VehiclePhoto.objects.filter(vehicle=vehicle).values_list("embedding", flat=True)])
    index = sightings_index(user.pk, embedder_name(engine), engine.embedder.dim)
    near = api.near(index, photos, engine.embedder.spec.threshold or 0.3)
    sources = Counter(SearchFile.objects.filter(job=job).values_list("source", flat=True))
    out = {"index_cold_s": round(cold_s, 2), "index_from_storage_s": round(stored_s, 2), "index_kind": index.kind,
           "job_s": round(job_s, 2), "job_status": status, "files": len(footage), "sources": dict(sources),
           "hits": Hit.objects.filter(job=job).count(), "near_misses": NearMiss.objects.filter(job=job).count(),
           "near_candidates": len(near), "vehicle_photos": len(photos)}
    print(f"# job: {out}; load {load()}", flush=True)
    return {**out, "job": job}


def pages(args, user, job) -> dict:
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    out = {}
    for key, url in (("detail", reverse("searches:detail", args=[job.pk])),
                     ("timeline", reverse("searches:timeline", args=[job.pk]))):
        status = client.get(url).status_code
        ms = timed(lambda url=url: client.get(url), args.requests)
        out[key] = {"url": url, "status": status, "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
                    "load": load()}
        print(f"# page {key} {url}: {out[key]}", flush=True)
    return out


def explore_filters(user, seeded) -> list[tuple[str, dict, int]]:
    from searches.footage.models import Sighting

    rows = Sighting.objects.filter(owner=user)
    cam = seeded["camera_rows"][3]
    mid = rows.filter(camera=cam).order_by("seen_at").values_list("seen_at", flat=True)[rows.filter(camera=cam).count() // 2]
    colour, vtype = Counter(rows.values_list("colour", "vehicle_type")[:20000]).most_common(1)[0][0]
    deep = max(1, seeded["rows"] // 48 // 2)
    return [("none", {}, 1), ("camera", {"camera": cam.pk}, 1),
            ("camera + 3-day range", {"camera": cam.pk, "start": mid - timedelta(days=1.5),
                                      "end": mid + timedelta(days=1.5)}, 1),
            ("colour + type", {"colour": colour, "type": vtype}, 1),
            (f"deep page ({deep})", {}, deep)]


def explore_queryset(user, f: dict):
    from searches.footage.models import Sighting

    qs = Sighting.objects.filter(owner=user)
    if "camera" in f:
        qs = qs.filter(camera_id=f["camera"])
    if "start" in f:
        qs = qs.filter(seen_at__gte=f["start"], seen_at__lt=f["end"])
    if "colour" in f:
        qs = qs.filter(colour=f["colour"])
    if "type" in f:
        qs = qs.filter(vehicle_type=f["type"])
    # "footage_id" as Sighting.Meta.ordering: order_by("footage") would sort by Footage.Meta.ordering (a join)
    return (qs.order_by("seen_at", "footage_id", "start_s", "pk").defer("embedding", "attributes")
            .select_related("footage", "camera"))


def explore(args, user, seeded) -> dict:
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse("footage:explore")
    except NoReverseMatch:
        url = None
    client = Client()
    client.force_login(user)
    out = {"view": url or "(footage:explore not on this branch: the equivalent queryset)", "rows": []}
    for label, f, page in explore_filters(user, seeded):
        qs = explore_queryset(user, f)
        off = (page - 1) * 48
        if url:
            params = {k: (v.strftime("%Y-%m-%dT%H:%M") if hasattr(v, "strftime") else v) for k, v in f.items()}
            if page > 1:
                params["page"] = page
            status = client.get(url, params).status_code
            ms = timed(lambda params=params: client.get(url, params), args.requests)
            count_ms = []
        else:
            status = 200
            ms = timed(lambda qs=qs, off=off: list(qs[off:off + 48]), args.requests)
            count_ms = timed(lambda qs=qs: qs.count(), args.requests)
        plan = qs[off:off + 48].explain()
        count_plan = explore_queryset(user, f).order_by().explain()
        used = sorted(set(INDEX_USE.findall(plan + "\n" + count_plan)))
        row = {"filter": label, "status": status, "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
               "count_p50_ms": round(pct(count_ms, 50), 1) if count_ms else None,
               "count_p95_ms": round(pct(count_ms, 95), 1) if count_ms else None,
               "matching": qs.count(), "plan": plan, "count_plan": count_plan, "indexes": used, "load": load()}
        out["rows"].append(row)
        print(f"# explore {label}: p50 {row['p50_ms']} p95 {row['p95_ms']} (count {row['count_p50_ms']}/"
              f"{row['count_p95_ms']}) matching {row['matching']}\n{plan}\n-- count:\n{count_plan}", flush=True)
    return out


def storage(env, real, dim: int) -> dict:
    from django.db import connection

    from searches.footage.models import Sighting

    table, n = Sighting._meta.db_table, Sighting.objects.count()
    out = {"rows": n, "vector_bytes": dim * 4,
           "thumbnail_mean_bytes": round(statistics.mean(len(s["jpeg"]) for s in real if s["jpeg"]))}
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            path = Path(connection.settings_dict["NAME"])
            out["db_file_bytes"] = path.stat().st_size
            try:
                cur.execute("SELECT d.name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
                            "WHERE m.tbl_name = %s GROUP BY d.name", [table])
                parts = dict(cur.fetchall())
                out["table_bytes"] = parts.get(table)
                out["table_and_index_bytes"] = sum(parts.values())
                out["index_bytes"] = {k: v for k, v in parts.items() if k != table}
            except Exception as exc:  # dbstat not compiled in
                out["dbstat"] = str(exc)
        else:
            cur.execute("SELECT pg_relation_size(%s), pg_total_relation_size(%s), pg_indexes_size(%s), "
                        "pg_table_size(%s)", [table] * 4)
            rel, total, idx, tab = cur.fetchone()
            out.update({"table_bytes": rel, "table_and_index_bytes": total, "index_total_bytes": idx,
                        "table_with_toast_bytes": tab})
    total = out.get("table_and_index_bytes") or out.get("db_file_bytes")
    out["bytes_per_row"] = round(total / n) if n else None
    print(f"# storage: {out}", flush=True)
    return out


def part_db(args, engine, real, report: dict, env: dict) -> None:
    from django.contrib.auth import get_user_model

    from benchmarks.load_test import real_vehicle

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    seeded = seed(args, engine, real, user)
    vehicle = real_vehicle(user)
    job = run_job(user, vehicle, seeded["footage_rows"])
    report["db"] = {"vendor": env["DATABASE_URL"].split(":")[0],
                    "seed": {k: v for k, v in seeded.items() if not k.endswith("_rows")},
                    "job": {k: v for k, v in job.items() if k != "job"},
                    "pages": pages(args, user, job["job"]), "explore": explore(args, user, seeded),
                    "storage": storage(env, real, engine.embedder.dim), "load_after": load()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k index, 10k rows in 50 files")
    ap.add_argument("--parts", default="index,db")
    ap.add_argument("--index-n", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--footage", type=int, default=500)
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--query-sets", type=int, default=20, help="vehicles queried (+ the real parked car)")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per query set")
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page / filter")
    ap.add_argument("--k", type=int, default=48)
    ap.add_argument("--s-other", type=float, default=1.2, help="noise norm of look-alike replicas")
    ap.add_argument("--s-same", type=float, default=0.45, help="noise norm of same-vehicle replicas")
    ap.add_argument("--p-same", type=float, default=0.005, help="share of same-vehicle replicas")
    ap.add_argument("--redis-db", type=int, default=14)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.index_n, args.rows, args.footage = 100_000, 10_000, 50
    if args.redis_db in (0, 15):
        ap.error("redis db 0/15 belong to the app and the tests")
    parts = set(args.parts.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="vreid-sightings-"))
    pg_name = f"vreid_sightings_{os.getpid()}" if args.postgres else ""
    if pg_name:
        args.database_url = create_postgres_db(pg_name)
    env = setup_env(args, tmp)
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    if "VREID_MODEL_DIRS" not in env and OMZ.is_dir():
        env["VREID_MODEL_DIRS"] = str(OMZ)
    os.environ.update(env)
    report = {"argv": sys.argv[1:], "load_before": load(), "cpus": os.cpu_count()}
    try:
        import django

        django.setup()
        import redis
        from django.core.management import call_command

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        call_command("migrate", verbosity=0)
        from gallery.engine_cache import embedder_name, get_engine

        engine = get_engine("cpu")
        real = real_sightings(engine)
        report["models"] = {"detector": engine.models.get("detector"), "embedder": embedder_name(engine),
                            "dim": engine.embedder.dim, "real_sightings": len(real),
                            "per_clip": dict(Counter(s["clip"] for s in real)),
                            "colours": dict(Counter(s["colour"] for s in real)),
                            "types": dict(Counter(s["type"] for s in real))}
        print(f"# {report['models']}", flush=True)
        if "index" in parts:
            part_index(args, engine, real, report)
        if "db" in parts:
            part_db(args, engine, real, report, env)
        out = args.out or OUT / f"bench_sightings-{'pg' if pg_name else 'sqlite'}{'-quick' if args.quick else ''}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=str))
        print(f"# written {out}")
        return 0
    finally:
        if pg_name:
            from django.db import connections

            connections.close_all()
            drop_postgres_db(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
