"""`python -m engine`: list and fetch models, register vehicles, search images, folders and
videos, evaluate ReID. No Django needed: a gallery is a directory holding a Faiss index and its
labels."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from engine import api
from engine.calibrate import choose_threshold, collect_tracks, pair_distances, table
from engine.calibration_report import calibration_text, write_calibration
from engine.fetch import FetchError, Offline, fetch, verified
from engine.gating import CAMERA_MODES
from engine.pipeline import PROPOSAL_MODES, TRACK_VOTES
from engine.registry import KINDS, load_registry, model_dirs
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

    models = sub.add_parser("models", help="list the models: present or missing, and where to get them")
    models.set_defaults(func=cmd_models)
    models_sub = models.add_subparsers(metavar="ACTION")
    get = models_sub.add_parser("fetch", help="download models from their official source")
    get.add_argument("names", nargs="*", metavar="NAME")
    get.add_argument("--recommended", action="store_true", help="every model the registry recommends")
    get.add_argument("--to", type=Path, help="target folder (default: the first model folder)")
    get.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server")
    get.add_argument("--quiet", action="store_true", help="no progress bars")
    get.set_defaults(func=cmd_fetch)

    reg = sub.add_parser("register", help="add a vehicle from a photo to a gallery")
    reg.add_argument("image")
    reg.add_argument("--gallery", required=True, help="gallery directory (created if missing)")
    reg.add_argument("--label", required=True)
    reg.add_argument("--pick", default="largest", help="'largest' or the n-th detection (0-based)")
    reg.add_argument("--box", help="x1,y1,x2,y2 in pixels: the vehicle's box, when none is detected")
    reg.add_argument("--whole", action="store_true", help="the whole image is the vehicle (a tight crop)")
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
    search.add_argument("--camera", choices=CAMERA_MODES, default=api.VideoOptions.camera,
                        help="fixed: run the detector only where the picture changed (fast on still "
                             "footage; falls back to every frame while the camera moves); moving: every frame")
    search.add_argument("--segment-s", type=float, default=api.VideoOptions.segment_s,
                        help="a vehicle in view longer than this is matched once per segment")
    search.add_argument("--track-vote", choices=TRACK_VOTES, default=api.VideoOptions.track_vote,
                        help="a track's crops match by their mean vector, or by the closest one")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    _model_args(search)
    search.set_defaults(func=cmd_search)

    cal = sub.add_parser("calibrate", help="choose an embedder's match threshold from tracks in clips")
    cal.add_argument("clips", nargs="+", type=Path)
    cal.add_argument("--stride", type=int, default=2, help="process every n-th frame")
    cal.add_argument("--max-false-match", type=float, default=0.01,
                     help="share of different-vehicle pairs the threshold may accept")
    cal.add_argument("--write", action="store_true",
                     help="write the threshold into the model card and the shipped registry")
    cal.add_argument("--json", action="store_true")
    _model_args(cal)
    cal.set_defaults(func=cmd_calibrate)

    ev = sub.add_parser("eval-reid", help="mAP and CMC on a folder in VeRi-776 layout")
    ev.add_argument("folder")
    ev.add_argument("--split", help="two-camera set: split file (e.g. val.txt); cam1 = queries")
    ev.add_argument("--json", action="store_true")
    _model_args(ev)
    ev.set_defaults(func=cmd_eval)
    return parser


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", help="registry name or model file (default: first present)")
    parser.add_argument("--embedder", help="registry name or model file (default: first present)")
    parser.add_argument("--attributes", help="colour/type model name, or 'none' (default: if present)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")


def _engine(args) -> api.Engine:
    attributes = "" if (args.attributes or "").lower() == "none" else args.attributes
    return api.Engine(api.EngineConfig(detector=args.detector, embedder=args.embedder,
                                       attributes=attributes, device=args.device))


def cmd_models(args) -> int:
    registry = load_registry()
    print("model folders: " + ", ".join(str(d) for d in model_dirs()))
    for kind, section in KINDS.items():
        in_use = api.default_name(kind, registry)
        for name, spec in sorted(registry[section].items()):
            mark = "*" if name == in_use else " "
            state = "present" if spec.present else "missing"
            where = str(spec.path) if spec.present else f"get it: python -m engine models fetch {name}  ({spec.source})"
            print(f"{mark} {kind:10} {name:44} {state:8} {where}")
            if spec.summary:
                print(f"  {'':10} {spec.summary}")
    print("* = used by default")
    return 0


def cmd_fetch(args) -> int:
    registry = load_registry()
    specs = {n: s for section in KINDS.values() for n, s in registry[section].items()}
    names = list(args.names) + [n for n, s in specs.items() if args.recommended and s.recommended and n not in args.names]
    unknown = [n for n in names if n not in specs]
    if unknown or not names:
        print(f"error: {'unknown model ' + ', '.join(unknown) if unknown else 'name a model or use --recommended'} "
              f"(registered: {', '.join(sorted(specs))})", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        spec = specs[name]
        if spec.present and all(verified(spec.path.parent / f.name, f) for f in spec.files):
            print(f"{name}: present in {spec.path.parent}")
            continue
        try:
            paths = fetch(spec, args.to, timeout=args.timeout, quiet=args.quiet)
        except Offline as exc:
            print(f"offline: {exc}", file=sys.stderr)
            return 3  # the rest would fail the same way
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: fetched into {paths[0].parent}")
    return 1 if failed else 0


def cmd_register(args) -> int:
    engine = _engine(args)
    image = api.read_image(args.image)
    if args.whole:
        box = (0.0, 0.0, float(image.shape[1]), float(image.shape[0]))
    elif args.box:
        box = _parse_box(args.box, image)
    else:
        box = _pick_box(engine.detect(image), args.pick, image)
    gallery = _open_gallery(Path(args.gallery), engine)
    gallery_id = args.id if args.id is not None else max(gallery.ids(), default=0) + 1
    gallery.add([gallery_id], engine.embed_box(image, box)[None, :])
    gallery.labels[gallery_id] = args.label
    gallery.save(args.gallery)
    print(f"registered {args.label!r} as id {gallery_id} (box {_fmt_box(box)}) in {args.gallery}")
    return 0


def _parse_box(text: str, image) -> api.Box:
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise api.EngineError(f"--box {text!r}: give four numbers x1,y1,x2,y2") from None
    height, width = image.shape[:2]
    try:
        return api.clamp_box((x1, y1, x2, y2), width, height)
    except ValueError:
        raise api.EngineError(f"--box {text!r}: the box is too small or outside the {width}x{height} image") from None


def _pick_box(detections, pick: str, image) -> api.Box:
    if not detections:
        raise api.EngineError("no vehicle found in the image; give its box with --box x1,y1,x2,y2 "
                              "or use --whole if the image is a crop of the vehicle")
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
        track_vote=args.track_vote, camera=args.camera,
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
        result = engine.search_image(path, gallery, options)
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


def cmd_calibrate(args) -> int:
    engine = _engine(args)
    tracks = []
    for clip in args.clips:
        found = collect_tracks(engine, clip, stride=args.stride)
        print(f"{clip.name}: {len(found)} tracks", file=sys.stderr)
        tracks.extend(found)
    same, different = pair_distances(engine.embedder.embed, tracks)
    try:
        result = choose_threshold(same, different, args.max_false_match)
    except ValueError as exc:
        raise api.EngineError(str(exc)) from None
    result.update(embedder=engine.embedder.name, detector=engine.detector.spec.name,
                  clips=[c.name for c in args.clips], stride=args.stride,
                  table=table(same, different, [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(calibration_text(result))
    if args.write:
        written = write_calibration(engine.embedder.spec, result)
        print(f"written: {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


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
