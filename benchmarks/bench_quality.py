"""Answer quality, before and after, in one run: detector recall/precision on hand-labelled clips,
ReID mAP/rank-1 on the two-camera val split, pair AUC on labelled track crops, and end-to-end
interval recall / false intervals of a search for cars registered from one frame.

    python -m benchmarks.bench_quality [--sections det,reid,pairs,e2e] [--out benchmarks/out/quality.md]

Labels: benchmarks/labels/ (README there). Data beside the repo: ../shared/data (two-camera set),
../shared/media (street-parked-cars.mp4), ../shared/models/omz (vehicle models).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from benchmarks import labels as lab
from engine import api
from engine.calibrate import pair_auc
from engine.draw import crop
from engine.media import iter_frames
from engine.reid_eval import evaluate
from tests.media import bikes_mp4

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if "VREID_MODEL_DIRS" not in os.environ and (SHARED / "models" / "omz").is_dir():  # data beside the repo
    os.environ["VREID_MODEL_DIRS"] = os.pathsep.join(str(p) for p in (ROOT / "var" / "models", SHARED / "models" / "omz"))
CLIPS = {"bikes": bikes_mp4(), "street-parked-cars": SHARED / "media" / "street-parked-cars.mp4"}
TWO_CAMERA = SHARED / "data" / "two-camera-vehicles"


@dataclass(frozen=True)
class Setup:
    """A configuration to compare: models and matching rules."""

    name: str
    detector: str | None = None
    embedder: str | None = None
    attributes: str | None = None  # "" = none
    options: dict = field(default_factory=dict, hash=False)

    def engine(self) -> api.Engine:
        return engine_for(self.detector, self.embedder, self.attributes)


_ENGINES: dict = {}


def engine_for(detector=None, embedder=None, attributes=None) -> api.Engine:
    key = (detector, embedder, attributes)
    if key not in _ENGINES:
        _ENGINES[key] = api.Engine(api.EngineConfig(detector=detector, embedder=embedder, attributes=attributes))
    return _ENGINES[key]


BEFORE = Setup("before (main c142c89 defaults)", "nanodet-coco", "mobilenetv2-embed", "",
               {"track_vote": "min", "min_colour_agreement": 0.0, "min_type_agreement": 0.0})
AFTER = Setup("after (defaults now)")
# Motion-gated detection (issue 12): the same defaults, the detector only where something moves.
FIXED = Setup("defaults, fixed camera (gated)", options={"camera": "fixed"})
E2E_SETUPS = {"before": BEFORE, "after": AFTER, "fixed": FIXED}


def frames_at(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    return {i: f.copy() for i, _, f in iter_frames(path) if i in wanted}


FINE_STEPS = tuple(round(0.25 + 0.01 * i, 2) for i in range(71))  # 0.25 .. 0.95


# -- detector -----------------------------------------------------------------------------------
def detector_section(detectors: list[str]) -> list[str]:
    out = ["## Detector: recall and precision at IoU 0.5 on hand-labelled frames", "",
           "| clip | detector | min score | recall | precision | TP | FP | missed | best recall at precision >= 0.9 | ms/frame |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for clip, path in CLIPS.items():
        labels = lab.load(clip)
        frames = frames_at(path, set(labels.frames))
        for name in detectors:
            engine = engine_for(detector=name)
            raw = engine.detector  # its own low score: the curve starts there
            raw.detect(next(iter(frames.values())))  # warm-up: first inference compiles
            started = time.perf_counter()
            per_frame = {i: [(d.box, d.score) for d in raw.detect(f)] for i, f in frames.items()}
            ms = 1000 * (time.perf_counter() - started) / len(frames)
            curve = lab.pr_curve(per_frame, labels, FINE_STEPS)
            at = min(curve, key=lambda r: abs(r["score"] - engine.min_score))
            ok = [r for r in curve if r["precision"] >= 0.9]
            best = max(ok, key=lambda r: r["recall"]) if ok else None
            best_text = f"{best['recall']:.3f} at score {best['score']:.2f}" if best else "none"
            out.append(f"| {clip} | {name} | {engine.min_score:.2f} | {at['recall']:.3f} | {at['precision']:.3f} | "
                       f"{at['tp']} | {at['fp']} | {at['missed']} | {best_text} | {ms:.0f} |")
    return out


# -- ReID on the two-camera set -----------------------------------------------------------------
def two_camera(split: str) -> list[tuple[Path, str, int]]:
    rows = []
    for line in (TWO_CAMERA / split).read_text().split():
        name = Path(line).name
        stem = Path(name).stem  # <type>_<id>_cam<n>
        kind, vid, cam = stem.rsplit("_", 2)
        rows.append((TWO_CAMERA / "images" / "train" / name, f"{kind}_{vid}", int(cam[3:])))
    return rows


def reid_section(embedders: list[str]) -> list[str]:
    import cv2
    rows = two_camera("val.txt")
    images = [cv2.imread(str(p)) for p, _, _ in rows]
    keys = sorted({k for _, k, _ in rows})
    ids = np.array([keys.index(k) for _, k, _ in rows])
    cams = np.array([c for _, _, c in rows])
    cars = np.array([not k.startswith("motorcycle") for _, k, _ in rows])
    out = ["## ReID: two-camera val split (cam1 queries, cam2 gallery)", "",
           "| embedder | vehicles | mAP | rank-1 | rank-5 | mAP cars/trucks/buses | rank-1 cars/trucks/buses |",
           "|---|---|---|---|---|---|---|"]
    for name in embedders:
        embedder = engine_for(embedder=name).embedder
        vectors = embedder.embed(images)
        q, g = cams == 1, cams == 2
        every = evaluate(vectors[q], ids[q], cams[q], vectors[g], ids[g], cams[g])
        qc, gc = q & cars, g & cars
        car = evaluate(vectors[qc], ids[qc], cams[qc], vectors[gc], ids[gc], cams[gc])
        out.append(f"| {name} | {every['queries']} | {every['mAP']:.3f} | {every['cmc'][1]:.3f} | {every['cmc'][5]:.3f} | "
                   f"{car['mAP']:.3f} | {car['cmc'][1]:.3f} |")
    return out


# -- pair AUC on labelled tracks -----------------------------------------------------------------
def labelled_crops(clip: str, min_height: int = 24):
    labels = lab.load(clip)
    frames = frames_at(CLIPS[clip], set(labels.frames))
    crops, ids, times = [], [], []
    fps = 25.0 if clip == "bikes" else api.probe(CLIPS[clip]).fps
    for f, boxes in sorted(labels.frames.items()):
        for b in boxes:
            if not b.ignore and b.box[3] - b.box[1] >= min_height:
                crops.append(crop(frames[f], b.box).copy())
                ids.append(b.vehicle)
                times.append(f / fps)
    return crops, np.array(ids), np.array(times)


def pairs_section(embedders: list[str], attributes: str | None) -> list[str]:
    out = ["## Pair AUC on labelled track crops (same vehicle >= 1 s apart vs different vehicles)", "",
           "| clip | embedder | crops | same pairs | different pairs | pair AUC |", "|---|---|---|---|---|---|"]
    att_rows = []
    for clip in CLIPS:
        crops, ids, times = labelled_crops(clip)
        same_idx = [(i, j) for i, j in combinations(range(len(ids)), 2) if ids[i] == ids[j] and abs(times[i] - times[j]) >= 1.0]
        diff_idx = [(i, j) for i, j in combinations(range(len(ids)), 2) if ids[i] != ids[j]]
        for name in embedders:
            v = engine_for(embedder=name).embedder.embed(crops)
            same = np.array([1 - v[i] @ v[j] for i, j in same_idx])
            diff = np.array([1 - v[i] @ v[j] for i, j in diff_idx])
            out.append(f"| {clip} | {name} | {len(crops)} | {len(same)} | {len(diff)} | {pair_auc(same, diff):.3f} |")
        model = engine_for(attributes=attributes).attributes
        if model is not None:
            attrs = model.classify(crops)
            for rule in ("colours", "types"):
                same_a = np.array([api.agreement(getattr(attrs[i], rule), getattr(attrs[j], rule)) for i, j in same_idx])
                diff_a = np.array([api.agreement(getattr(attrs[i], rule), getattr(attrs[j], rule)) for i, j in diff_idx])
                for t in (0.02, 0.05, 0.1, 0.2):
                    att_rows.append(f"| {clip} | {rule[:-1]} | {t:.2f} | {(same_a < t).mean():.1%} | {(diff_a < t).mean():.1%} |")
    if att_rows:
        out += ["", "Colour/type rule on the same pairs (single crops; a track averages several): share of pairs it would refuse",
                "", "| clip | attribute | min agreement | same vehicle refused (bad) | different vehicles refused (good) |",
                "|---|---|---|---|---|"] + att_rows
    return out


# -- end to end -----------------------------------------------------------------------------------
def end_to_end(setup: Setup, clip: str) -> dict:
    """Register every labelled vehicle from its largest labelled box (one frame each), search the
    clip once with the setup's defaults, and score the intervals per vehicle."""
    engine = setup.engine()
    labels = lab.load(clip)
    path = CLIPS[clip]
    frames = frames_at(path, set(labels.frames))
    gallery = api.Gallery(engine.embedder.dim)
    profiles = {}
    for vehicle in sorted(labels.ids()):
        frame, box = max(((f, b.box) for f, bs in labels.frames.items() for b in bs if b.vehicle == vehicle and not b.ignore),
                         key=lambda fb: (fb[1][2] - fb[1][0]) * (fb[1][3] - fb[1][1]))
        gallery.add([vehicle], engine.embed_box(frames[frame], box)[None, :])
        profiles[vehicle] = api.VehicleProfile(attributes=engine.attributes_of(frames[frame], box))
    started = time.perf_counter()
    result = engine.search_video(path, gallery, api.VideoOptions(**setup.options), profiles=profiles)
    seconds = time.perf_counter() - started
    spans: dict[int, list] = {}
    for iv in result.intervals:
        spans.setdefault(iv.gallery_id, []).append((iv.start_s, iv.end_s))
    score = lab.score_intervals(spans, labels, result.fps)
    score.update(fps=result.stats.frames_processed / seconds, refusals=len(result.refusals),
                 vehicles=len(labels.ids()), tracks=result.stats.tracks)
    return score


def e2e_section(setups: list[Setup]) -> list[str]:
    out = ["## End to end: every labelled vehicle registered from one frame, clip searched once", "",
           "| clip | setup | vehicles | interval recall | intervals | false intervals | false frames | refused near-matches | tracks | fps |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for clip in CLIPS:
        for setup in setups:
            s = end_to_end(setup, clip)
            out.append(f"| {clip} | {setup.name} | {s['vehicles']} | {s['interval_recall']:.3f} | {s['intervals']} | "
                       f"{s['false_intervals']} | {s['false_frames']} | {s['refusals']} | {s['tracks']} | {s['fps']:.1f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="det,reid,pairs,e2e")
    parser.add_argument("--detectors", default="nanodet-coco,vehicle-detection-0202")
    present = [m.name for m in api.list_models() if m.kind == "embedder" and m.present]
    parser.add_argument("--embedders", default=",".join(present))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "quality.md")
    parser.add_argument("--e2e-setups", default="before,after", help=f"of {', '.join(E2E_SETUPS)}")
    args = parser.parse_args()
    sections = args.sections.split(",")
    detectors, embedders = args.detectors.split(","), args.embedders.split(",")
    lines = [f"# Quality ({time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, load {os.getloadavg()[0]:.1f})", ""]
    if "det" in sections:
        lines += detector_section(detectors) + [""]
    if "reid" in sections:
        lines += reid_section(embedders) + [""]
    if "pairs" in sections:
        lines += pairs_section(embedders, None) + [""]
    if "e2e" in sections:
        lines += e2e_section([E2E_SETUPS[name] for name in args.e2e_setups.split(",")]) + [""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    (args.out.with_suffix(".json")).write_text(json.dumps({"sections": sections}, indent=1))


if __name__ == "__main__":
    main()
