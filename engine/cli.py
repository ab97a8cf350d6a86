"""`python -m engine`: register vehicles, search images, folders and videos, evaluate ReID.
No Django needed: a gallery is a directory holding a Faiss index and its labels."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from engine import api
from engine.pipeline import PROPOSAL_MODES
from engine.reid_eval import evaluate_folder, evaluate_split

MEDIA_EXTENSIONS = api.IMAGE_EXTENSIONS | api.VIDEO_EXTENSIONS


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (api.EngineError, api.Interrupted) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    models = sub.add_parser("models", help="list the models in the registry")
    models.set_defaults(func=cmd_models)

    reg = sub.add_parser("register", help="add a vehicle from a photo to a gallery")
    reg.add_argument("image")
    reg.add_argument("--gallery", required=True, help="gallery directory (created if missing)")
    reg.add_argument("--label", required=True)
    reg.add_argument("--pick", default="largest", help="'largest' or the n-th detection (0-based)")
    reg.add_argument("--id", type=int, help="gallery id (default: next free); reuse to add a view")
    _model_args(reg)
    reg.set_defaults(func=cmd_register)

    search = sub.add_parser("search", help="search an image, a folder or a video")
    search.add_argument("path")
    search.add_argument("--gallery", required=True)
    search.add_argument("--stride", type=int, default=1, help="process every n-th frame")
    search.add_argument("--threshold", type=float, help="cosine distance (default: model card)")
    search.add_argument("--no-tracking", action="store_true", help="embed every detection")
    search.add_argument("--proposals", choices=PROPOSAL_MODES, default="detector")
    search.add_argument("--segment-s", type=float, default=api.VideoOptions.segment_s,
                        help="a vehicle in view longer than this is matched once per segment")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    _model_args(search)
    search.set_defaults(func=cmd_search)

    ev = sub.add_parser("eval-reid", help="mAP and CMC on a folder in VeRi-776 layout")
    ev.add_argument("folder")
    ev.add_argument("--split", help="two-camera set: split file (e.g. val.txt); cam1 = queries")
    ev.add_argument("--json", action="store_true")
    _model_args(ev)
    ev.set_defaults(func=cmd_eval)
    return parser


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", help="registry name or .onnx path (default: registry's)")
    parser.add_argument("--embedder", help="registry name or .onnx path (default: registry's)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")


def _engine(args) -> api.Engine:
    return api.Engine(api.EngineConfig(detector=args.detector, embedder=args.embedder, device=args.device))


def cmd_models(args) -> int:
    for spec in api.list_models():
        print(f"{spec.kind:9} {spec.name:24} {spec.path}")
    return 0


def cmd_register(args) -> int:
    engine = _engine(args)
    image = api.read_image(args.image)
    box = _pick_box(engine.detect(image), args.pick, image)
    gallery = _open_gallery(Path(args.gallery), engine)
    gallery_id = args.id if args.id is not None else max(gallery.ids(), default=0) + 1
    gallery.add([gallery_id], engine.embed_box(image, box)[None, :])
    gallery.labels[gallery_id] = args.label
    gallery.save(args.gallery)
    print(f"registered {args.label!r} as id {gallery_id} (box {_fmt_box(box)}) in {args.gallery}")
    return 0


def _pick_box(detections, pick: str, image) -> api.Box:
    if not detections:
        raise api.EngineError("no vehicle found in the image; crop it to the vehicle and retry")
    if pick == "largest":
        return max(detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])).box
    index = int(pick)
    if not 0 <= index < len(detections):
        raise api.EngineError(f"--pick {index}: only {len(detections)} vehicles found")
    return detections[index].box


def _open_gallery(path: Path, engine: api.Engine) -> api.Gallery:
    if path.exists() and any(path.iterdir()):
        return _load_gallery(path, engine)
    return api.Gallery(engine.embedder.dim, embedder=engine.embedder.name)


def _load_gallery(path, engine: api.Engine) -> api.Gallery:
    return api.Gallery.load(path, expect_dim=engine.embedder.dim, expect_embedder=engine.embedder.name)


def cmd_search(args) -> int:
    engine = _engine(args)
    gallery = _load_gallery(args.gallery, engine)
    files = _media_files(Path(args.path))
    options = api.VideoOptions(
        frame_stride=args.stride, tracking=not args.no_tracking,
        threshold=args.threshold, proposals=args.proposals, segment_s=args.segment_s,
    )
    rows, errors = [], []
    for path in files:
        try:
            rows.extend(_search_one(engine, gallery, path, options, quiet=args.json))
        except api.MediaError as exc:
            errors.append({"file": str(path), "error": str(exc)})
            print(f"skipped: {exc}", file=sys.stderr)
    for row in rows:
        row["label"] = gallery.labels.get(row["gallery_id"], "")
    if args.json:
        print(json.dumps({"hits": rows, "errors": errors}, indent=2))
    else:
        _print_table(rows)
    return 0 if files and len(errors) < len(files) else 1


def _media_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in MEDIA_EXTENSIONS)
        if not files:
            raise api.MediaError(f"{path}: folder holds no images or videos")
        return files
    return [path]


def _search_one(engine, gallery, path: Path, options, quiet: bool) -> list[dict]:
    info = api.probe(path)
    if info.kind == "image":
        result = engine.search_image(path, gallery, options.threshold)
        return [{"file": str(path), "gallery_id": h.gallery_id, "start_s": None, "end_s": None,
                 "distance": round(h.distance, 4), "box": [round(v, 1) for v in h.box]}
                for h in result.hits]
    with tqdm(total=info.frame_count, desc=path.name, unit="frame", disable=quiet,
              file=sys.stderr) as bar:
        def progress(p: api.Progress) -> None:
            bar.update(p.frames_done - bar.n)
        result = engine.search_video(path, gallery, options, on_progress=progress)
    return [{"file": str(path), "gallery_id": i.gallery_id, "start_s": round(i.start_s, 2),
             "end_s": round(i.end_s, 2), "distance": round(i.best_distance, 4),
             "box": [round(v, 1) for v in i.box]} for i in result.intervals]


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("no hits")
        return
    print(f"{'label':20} {'file':30} {'from':>8} {'to':>8} {'distance':>9}")
    for r in sorted(rows, key=lambda r: (r["label"], r["file"], r["start_s"] or 0)):
        span = ("", "") if r["start_s"] is None else (_clock(r["start_s"]), _clock(r["end_s"]))
        print(f"{r['label'][:20]:20} {Path(r['file']).name[:30]:30} {span[0]:>8} {span[1]:>8} "
              f"{r['distance']:9.3f}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def _fmt_box(box) -> str:
    return ",".join(str(round(v)) for v in box)


def cmd_eval(args) -> int:
    engine = _engine(args)
    with tqdm(desc="embedding", unit="img", disable=args.json, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
        if args.split:
            result = evaluate_split(args.folder, args.split, engine.embedder.embed,
                                    progress=progress)
        else:
            result = evaluate_folder(args.folder, engine.embedder.embed, progress=progress)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"mAP {result['mAP']:.4f}  " + "  ".join(
            f"rank-{k} {v:.4f}" for k, v in sorted(result["cmc"].items())))
    return 0
