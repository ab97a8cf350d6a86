"""Render a synthetic top-down parking-lot clip with exact per-frame ground-truth boxes.

No real overhead footage is available offline, and the COCO detectors we ship miss most
cars seen from straight above; this clip lets tests and benchmarks measure that gap and
the motion proposer that fills it. Deterministic for a given seed.

    python scripts/make_topdown_clip.py [--out tests/fixtures/topdown.mp4] [--seed 7]

Writes the mp4 (mp4v) and `<stem>_labels.json` beside it:
    {"width", "height", "fps", "frame_count", "seed", "cars": [{"id", "colour", "kind"}],
     "frames": [[{"id", "box": [x1, y1, x2, y2], "moving": bool, "visible": 0..1}, ...]]}
Boxes are the axis-aligned extent of the rendered body (alpha >= 0.5), clipped to the
frame, shadow excluded; `visible` is the fraction of the body inside the frame.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

W, H, FPS, FRAMES = 640, 360, 10, 120
SS = 4  # supersampling factor for anti-aliased sprites

COLOURS = {  # BGR
    "red": (40, 40, 190), "blue": (170, 90, 30), "white": (225, 228, 230),
    "black": (38, 38, 42), "silver": (170, 172, 175), "yellow": (40, 190, 220),
    "green": (60, 120, 40), "grey": (110, 110, 115), "darkblue": (100, 50, 25),
    "orange": (30, 110, 230), "beige": (150, 185, 200), "maroon": (40, 30, 110),
}


# ---------------------------------------------------------------- scene and sprites
def asphalt(rng: np.random.Generator) -> np.ndarray:
    """Grey asphalt with blotches and grain, bay lines, kerbs and a dashed centre line."""
    low = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 25)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 0.8)
    g = 92 + 8 * low / (low.std() + 1e-6) + 6 * grain / (grain.std() + 1e-6)
    img = np.repeat(g[..., None], 3, axis=2)
    img[..., 0] += 3  # slightly blue-grey
    for _ in range(6):  # oil stains
        c = (int(rng.integers(0, W)), int(rng.integers(30, H - 30)))
        stain = np.zeros((H, W), np.float32)
        cv2.ellipse(stain, c, (int(rng.integers(6, 16)), int(rng.integers(4, 10))),
                    float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        img *= 1 - 0.25 * cv2.GaussianBlur(stain, (0, 0), 3)[..., None]
    for y0, y1 in ((0, 24), (H - 24, H)):  # concrete kerbs, cut by the vertical aisle
        for x0, x1 in ((0, 285), (355, W)):
            img[y0:y1, x0:x1] = 150 + 5 * grain[y0:y1, x0:x1, None]
    line = (205, 205, 200)
    for x in list(range(10, 251, 40)) + list(range(390, 631, 40)):
        cv2.line(img, (x, 24), (x, 95), line, 2)
        cv2.line(img, (x, H - 95), (x, H - 24), line, 2)
    for x0, x1 in ((10, 250), (390, 630)):
        cv2.line(img, (x0, 95), (x1, 95), line, 2)
        cv2.line(img, (x0, H - 95), (x1, H - 95), line, 2)
    for x in range(0, W, 40):  # dashed centre line of the aisle
        if not 280 < x < 350:
            cv2.line(img, (x, 180), (x + 20, 180), (120, 200, 215), 2)
    return img


def rounded_rect(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int, r: int, val) -> None:
    cv2.rectangle(mask, (x0 + r, y0), (x1 - r, y1), val, -1)
    cv2.rectangle(mask, (x0, y0 + r), (x1, y1 - r), val, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(mask, (cx, cy), r, val, -1)


def car_sprite(length: int, width: int, colour) -> tuple[np.ndarray, np.ndarray]:
    """A car seen from above, front towards +x. Returns (BGR float32, alpha float32)."""
    L, Wd = length * SS, width * SS
    body = np.zeros((Wd, L), np.float32)
    rounded_rect(body, 0, 0, L - 1, Wd - 1, int(0.3 * Wd), 1.0)
    # Cylinder-like shading across the width, brighter on the centre line.
    v = np.linspace(-1, 1, Wd, dtype=np.float32)[:, None]
    shade = 0.72 + 0.28 * np.cos(v * np.pi / 2)
    img = np.float32(colour)[None, None, :] * shade[..., None] * np.ones((1, L, 1), np.float32)
    glass = (45, 40, 35)
    m = int(0.12 * Wd)  # glass is inset from the sides
    ws = np.array([[0.58 * L, m], [0.74 * L, m + 0.06 * Wd], [0.74 * L, Wd - m - 0.06 * Wd],
                   [0.58 * L, Wd - m]], np.int32)  # windscreen, wider at its base
    rw = np.array([[0.14 * L, m + 0.08 * Wd], [0.24 * L, m], [0.24 * L, Wd - m],
                   [0.14 * L, Wd - m - 0.08 * Wd]], np.int32)
    cv2.fillPoly(img, [ws, rw], glass)
    for y0, y1 in ((m, m + int(0.09 * Wd)), (Wd - m - int(0.09 * Wd), Wd - m)):  # side windows
        cv2.rectangle(img, (int(0.26 * L), y0), (int(0.56 * L), y1), glass, -1)
    roof = img[m + int(0.1 * Wd):Wd - m - int(0.1 * Wd), int(0.26 * L):int(0.56 * L)]
    roof *= 1.08  # roof catches more light
    for y in (int(0.18 * Wd), int(0.82 * Wd)):  # head and tail lights
        cv2.circle(img, (L - int(0.04 * L), y), int(0.07 * Wd), (200, 235, 245), -1)
        cv2.circle(img, (int(0.03 * L), y), int(0.06 * Wd), (30, 30, 170), -1)
    img = np.clip(img, 0, 255) * body[..., None]
    small = (length, width)
    return (cv2.resize(img, small, interpolation=cv2.INTER_AREA),
            cv2.resize(body, small, interpolation=cv2.INTER_AREA))


# ---------------------------------------------------------------- paths
def arc(cx: float, cy: float, r: float, a0: float, a1: float) -> list[tuple[float, float]]:
    t = np.radians(np.linspace(a0, a1, 24))
    return list(zip(cx + r * np.cos(t), cy + r * np.sin(t)))


@dataclass
class Car:
    id: int
    colour: str
    length: int
    width: int
    path: list[tuple[float, float]]  # polyline; one point for a parked car
    speed: float = 0.0  # pixels per frame along the path
    start: int = 0  # frame at which it starts moving
    wait_visible: bool = False  # shown at the path start before `start` (leaves a bay)
    heading: float = 0.0  # degrees, for a parked car

    def pose(self, f: int) -> tuple[float, float, float, bool] | None:
        """(x, y, heading in degrees, moving) at frame f, or None when not in the scene."""
        p = np.asarray(self.path, np.float64)
        if len(p) == 1:
            return p[0, 0], p[0, 1], self.heading, False
        if f < self.start and not self.wait_visible:
            return None
        seg = np.r_[0, np.cumsum(np.hypot(*np.diff(p, axis=0).T))]
        s = max(f - self.start, 0) * self.speed
        if s > seg[-1]:
            return None
        x, y = np.interp(s, seg, p[:, 0]), np.interp(s, seg, p[:, 1])
        xa, ya = np.interp(s + 3, seg, p[:, 0]), np.interp(s + 3, seg, p[:, 1])
        xb, yb = np.interp(s - 3, seg, p[:, 0]), np.interp(s - 3, seg, p[:, 1])
        return x, y, np.degrees(np.arctan2(ya - yb, xa - xb)), f >= self.start


def scene(rng: np.random.Generator) -> list[Car]:
    names = list(COLOURS)
    cars: list[Car] = []

    def add(path, speed=0.0, start=0, length=None, width=None, wait=False, colour=None,
            heading=0.0):
        cars.append(Car(len(cars) + 1, colour or names[int(rng.integers(len(names)))],
                        length or int(rng.integers(42, 50)), width or int(rng.integers(19, 23)),
                        path, speed, start, wait, heading))

    # Parked cars in bays (bays are 40 px wide), nose in or nose out.
    for cx, cy in ((30, 62), (110, 60), (190, 61), (470, 60), (590, 63),
                   (70, H - 60), (150, H - 61), (410, H - 62), (530, H - 60)):
        add([(cx + rng.uniform(-3, 3), cy)], heading=float(rng.choice([90.0, -90.0])))
    # Moving cars: lanes y=155 (left to right) and y=205 (right to left); vertical aisle
    # lanes x=305 (down) and x=335 (up).
    add([(-40, 155), (W + 40, 155)], 6.0, 4, colour="red")
    add([(W + 40, 205), (-40, 205)], 7.0, 4, colour="silver")
    add([(305, -40), (305, 175)] + arc(275, 175, 30, 0, 90) + [(-40, 205)], 4.0, 24,
        colour="blue")  # comes down the aisle, turns right
    add([(410, 62), (410, 130)] + arc(435, 130, 25, 180, 90) + [(W + 40, 155)], 5.0, 75,
        wait=True, colour="black")  # leaves its bay, turns left
    add([(-40, 155), (280, 155)] + arc(280, 180, 25, -90, 0) + [(305, H + 40)], 5.0, 50,
        colour="yellow")  # turns down the aisle
    add([(335, H + 40), (335, -40)], 4.5, 60, colour="green")
    add([(W + 40, 205), (-40, 205)], 7.0, 20, length=58, width=25, colour="white")  # van
    add([(-40, 155), (W + 40, 155)], 2.5, 78, colour="orange")  # slow
    return cars


# ---------------------------------------------------------------- rendering
def place(sprite: np.ndarray, x: float, y: float, heading: float) -> np.ndarray:
    h, w = sprite.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -heading, 1.0)  # OpenCV: +angle is CCW
    m[:, 2] += (x - w / 2, y - h / 2)
    return cv2.warpAffine(sprite, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)


def render(seed: int, out: Path) -> dict:
    rng = np.random.default_rng(seed)
    ground = asphalt(rng)
    cars = scene(rng)
    sprites = {c.id: car_sprite(c.length, c.width, COLOURS[c.colour]) for c in cars}
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    frames = []
    for f in range(FRAMES):
        img = ground.copy()
        labels = []
        for car in cars:
            pose = car.pose(f)
            if pose is None:
                continue
            x, y, heading, moving = pose
            rgb, alpha = sprites[car.id]
            a = place(alpha, x, y, heading)
            if a.max() < 0.5:
                continue
            shadow = cv2.GaussianBlur(np.roll(a, (4, 3), axis=(0, 1)), (0, 0), 2.5)
            img *= 1 - 0.45 * shadow[..., None]
            img = img * (1 - a[..., None]) + place(rgb, x, y, heading)
            bx, by, bw, bh = cv2.boundingRect((a >= 0.5).astype(np.uint8))
            labels.append({"id": car.id, "box": [bx, by, bx + bw, by + bh],
                           "moving": bool(moving),
                           "visible": round(float(a.sum() / alpha.sum()), 3)})
        gain = 1 + 0.08 * np.sin(2 * np.pi * f / FRAMES)  # slow brightness drift
        img = img * gain + rng.normal(0, 3, img.shape)  # sensor noise
        writer.write(np.clip(img, 0, 255).astype(np.uint8))
        frames.append(labels)
    writer.release()
    return {"width": W, "height": H, "fps": FPS, "frame_count": FRAMES, "seed": seed,
            "note": "synthetic top-down clip rendered by scripts/make_topdown_clip.py",
            "cars": [{"id": c.id, "colour": c.colour,
                      "kind": "parked" if len(c.path) == 1 else "moving"} for c in cars],
            "frames": frames}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parents[1] / "tests/fixtures/topdown.mp4")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    labels = render(args.seed, args.out)
    cap = cv2.VideoCapture(str(args.out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, _ = cap.read()
    cap.release()
    if not ok or n != FRAMES:
        raise SystemExit(f"{args.out}: written clip does not decode ({n} frames)")
    path = args.out.with_name(args.out.stem + "_labels.json")
    path.write_text(json.dumps(labels, separators=(",", ":")))
    print(f"{args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {n} frames), {path}")


if __name__ == "__main__":
    main()
