"""Gallery search speed and recall at 10k / 100k / 1M vectors.

    .venv/bin/python benchmarks/bench_gallery.py --sizes 10000,100000 [--dim 1280]

For each size it builds the index Gallery would choose ("auto", or --kind), then measures
single-query latency (p50/p99 over --queries queries, one search() call each, as the web app
does), recall@10 against exact brute force, build time and resident memory growth.

Data: uniform random high-dimensional vectors have no neighbour structure (every point is
nearly equidistant from every other), unlike real embeddings, where each vehicle's photos sit
close together. So the gallery is a Gaussian mixture: one centre per "vehicle" (n / --per-id
of them), each sample = centre + noise, L2-normalised (cosine ~0.8 within a vehicle, ~0
between vehicles). Queries are gallery vectors perturbed by fresh noise (a new photo of a known
vehicle). `--latent L` draws the centres and the noise in an L-dimensional subspace instead
(a low-dimensional manifold with many near-ties): a much harder case, where recall@10 of every
approximate index drops (measured at 100k, latent 64: IVF nprobe 64/512 0.76, HNSW32 ef128 0.90).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.gallery import Gallery, set_threads  # noqa: E402

CHUNK = 50_000


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class Mixture:
    """Clustered unit vectors, generated in chunks so 1M x 1280 never needs two copies."""

    def __init__(self, n: int, dim: int, per_id: int = 10, latent: int = 0, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.n, self.dim, self.seed = n, dim, seed
        self.latent = latent or dim
        # basis maps latent coordinates into the embedding space (identity when latent == dim)
        self.basis = (np.eye(dim, dtype=np.float32) if self.latent == dim else
                      rng.standard_normal((latent, dim)).astype(np.float32) / np.sqrt(latent))
        self.centres = rng.standard_normal((max(1, n // per_id), self.latent)).astype(np.float32)

    def noise(self, rng: np.random.Generator, m: int) -> np.ndarray:
        return (0.5 * rng.standard_normal((m, self.latent), dtype=np.float32)) @ self.basis

    def generate(self) -> np.ndarray:
        out = np.empty((self.n, self.dim), np.float32)
        for start in range(0, self.n, CHUNK):
            rng = np.random.default_rng((self.seed, start))
            m = min(CHUNK, self.n - start)
            which = rng.integers(0, len(self.centres), m)
            out[start:start + m] = _unit(self.centres[which] @ self.basis + self.noise(rng, m))
        return out

    def queries(self, data: np.ndarray, m: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, 1 << 40))
        picks = rng.choice(len(data), m, replace=False)
        scale = np.linalg.norm(self.centres, axis=1).mean()  # data rows are unit, noise is not
        return _unit(data[picks] + self.noise(rng, m) / scale).astype(np.float32)


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k largest inner products per query, by brute force in chunks."""
    best_sim = np.full((len(queries), k), -np.inf, np.float32)
    best_idx = np.zeros((len(queries), k), np.int64)
    for start in range(0, len(data), CHUNK):
        sims = queries @ data[start:start + CHUNK].T
        sims = np.concatenate([best_sim, sims], axis=1)
        idx = np.concatenate([best_idx, np.arange(start, start + sims.shape[1] - k)[None]
                              .repeat(len(queries), 0)], axis=1)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_sim = np.take_along_axis(sims, top, 1)
        best_idx = np.take_along_axis(idx, top, 1)
    return best_idx


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(gallery: Gallery, queries: np.ndarray, truth: np.ndarray, k: int) -> dict:
    times, hits = [], 0
    gallery.search(queries[:1], k)  # warm up
    for q, true in zip(queries, truth):
        t0 = time.perf_counter()
        result = gallery.search(q, k)[0]
        times.append((time.perf_counter() - t0) * 1000)
        hits += len({i for i, _ in result} & set(true.tolist()))
    return {"p50": np.percentile(times, 50), "p99": np.percentile(times, 99),
            "recall": hits / truth.size}


def run_size(n: int, args) -> list[dict]:
    t0 = time.perf_counter()
    mix = Mixture(n, args.dim, args.per_id, args.latent)
    data = mix.generate()
    queries = mix.queries(data, args.queries)
    truth = exact_top_k(data, queries, args.k)
    print(f"# {n}: data + ground truth in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    rss0 = rss_mib()
    t0 = time.perf_counter()
    gallery = Gallery.build(np.arange(n), data, index_kind=args.kind)  # one id per vector
    build_s = time.perf_counter() - t0
    mem = rss_mib() - rss0
    del data
    rows = []
    for nprobe in (args.nprobe or [gallery.nprobe]):
        gallery.nprobe = nprobe
        m = measure(gallery, queries, truth, args.k)
        rows.append({"n": n, "kind": gallery.kind, "nprobe": gallery.nprobe, "build_s": build_s,
                     "mem_mib": mem, **m})
        print(_row(rows[-1], args.k), flush=True)
    return rows


def _row(r: dict, k: int) -> str:
    return (f"| {r['n']:,} | {r['kind']} | {r['nprobe'] or '-'} | {r['p50']:.2f} | {r['p99']:.2f}"
            f" | {r['recall']:.3f} | {r['build_s']:.1f} | {r['mem_mib']:,.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--per-id", type=int, default=10, help="mean vectors per vehicle")
    ap.add_argument("--latent", type=int, default=0, help="latent dimension (0: all of dim)")
    ap.add_argument("--kind", default="auto", choices=["auto", "flat", "ivf"])
    ap.add_argument("--nprobe", type=lambda s: [int(v) for v in s.split(",")], default=None,
                    help="comma-separated nprobe values to sweep (IVF only)")
    ap.add_argument("--threads", type=int, default=None, help="Faiss threads (default: auto)")
    args = ap.parse_args()
    set_threads(args.threads)
    import faiss
    print(f"dim {args.dim}, latent {args.latent or args.dim}, {args.per_id} vectors per "
          f"vehicle, {args.queries} single queries, recall@{args.k} vs exact, "
          f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads\n")
    print("| vectors | index | nprobe | p50 ms | p99 ms | recall@10 | build s | memory MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        run_size(n, args)


if __name__ == "__main__":
    main()
