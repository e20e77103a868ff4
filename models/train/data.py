"""Real data (ro- only), deterministic train/validation split, and the
training-sample generator (real ro- frames + synthetic plates).

Only images whose name starts with `ro-` (MIT) are ever opened here for
training or validation.  The AGPL `oa-` images are never read by this module.
"""
import csv
import hashlib
import os

import cv2
import numpy as np

import synth

STRIDE = 4


def load_labels(shared):
    """{image name: [(x,y,w,h), ...]} from shared/datasets/plates-dev/labels.csv."""
    path = os.path.join(shared, "datasets", "plates-dev", "labels.csv")
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["image"], []).append(tuple(float(r[k]) for k in "xywh"))
    return out


def is_val(name):
    """Deterministic ~80/20 split by a hash of the file name."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 5 == 0


def ro_split(shared):
    labels = load_labels(shared)
    img_dir = os.path.join(shared, "datasets", "plates-dev", "images")
    names = sorted(n for n in os.listdir(img_dir) if n.startswith("ro-") and n.endswith(".jpg"))
    train = [n for n in names if not is_val(n)]
    val = [n for n in names if is_val(n)]
    return img_dir, labels, train, val


def load_images(img_dir, names, labels):
    return [(cv2.imread(os.path.join(img_dir, n), cv2.IMREAD_COLOR),
             np.array(labels.get(n, []), np.float32).reshape(-1, 4)) for n in names]


def heatmap_target(boxes, H, W):
    """Stride-4 target: 1 where the cell centre lies inside a box; the cell
    nearest each box centre is always 1 so tiny plates are never empty.
    Also returns a weight map that down-weights the 1-cell ring around each
    positive area (ambiguous boundary cells)."""
    h, w = H // STRIDE, W // STRIDE
    t = np.zeros((h, w), np.float32)
    cx = (np.arange(w) + 0.5) * STRIDE
    cy = (np.arange(h) + 0.5) * STRIDE
    for (x, y, bw, bh) in boxes:
        xs = np.nonzero((cx >= x) & (cx <= x + bw))[0]
        ys = np.nonzero((cy >= y) & (cy <= y + bh))[0]
        if len(xs) and len(ys):
            t[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1] = 1
        i = int(np.clip((y + bh / 2) // STRIDE, 0, h - 1))
        j = int(np.clip((x + bw / 2) // STRIDE, 0, w - 1))
        t[i, j] = 1
    ring = cv2.dilate(t, np.ones((3, 3), np.uint8)) - t
    wgt = 1.0 - 0.7 * ring
    return t, wgt


def draw_decoys(rng, img, boxes, draw, n):
    """Draw n decoys on img (in place) with draw, four tries each, and
    return the union of their masks."""
    mask = np.zeros(img.shape[:2], np.uint8)
    for _ in range(n):
        for _try in range(4):
            m = draw(rng, img, boxes)
            if m is not None:
                mask |= m
                break
    return mask


def make_sample(rng, bgs, crop=384, max_side=896, synth_n=(0, 4), hard=False, decoys=False, colour=False,
                surfaces=False, lettering=False, fences=False, fronts=False, tight=False, zoom=False):
    """One training crop: a real ro- frame (or a procedural background),
    rescaled as the product would (longer side -> max_side, with jitter),
    cropped, with 0-4 synthetic plates composited and degraded.

    hard adds what fixed close-range cameras show and dashcam frames do
    not: zoomed-in frames, sharp surface textures (cracks, grooves, grass)
    under the plates, and sharpening.

    decoys adds car-body blocks without plates (synth.decoy_body); colour
    shifts half the samples toward white-balanced, less saturated or grey
    colours (synth.colour_shift); surfaces adds tiled floors and railings
    without plates (synth.surface_decoy); lettering adds words and badges
    without a plate behind them (synth.lettering_decoy); cells marked as
    decoys. fences puts a chain-link fence, often with haze, in front of
    the whole scene, plates included, on a fifth of the samples
    (synth.behind_fence). fronts draws the end of a car seen close up on
    three fifths of the samples (synth.car_end_decoy), grille, lamps and
    badges as decoy cells, and on most of them a plate in its place.
    tight marks the band around each plate, from two cells out to a plate
    height away, as decoy cells weighed five times: a glow that spreads
    from the plate over the bumper and lamps joins them to its box. The
    plate's outermost cells weigh three times, so its own edges hold.
    zoom magnifies the real frame 1.5-3x on three tenths of its samples,
    as hard does, without hard's textures and sharpening: the cars come
    as close as a car-park camera's.

    Returns the image, the stride-4 target and weight maps, the plate
    boxes, the decoy cells away from any plate (where a teacher's glow is
    no target), and whether the colours were shifted (a teacher trained
    without the shift glows on such images: its targets do not count)."""
    if not (bgs and rng.random() < 0.8):
        # procedural background, generated directly at crop size (cheap)
        out = synth.procedural_background(rng, crop, crop)
        bx = []
    else:
        img, boxes = bgs[rng.integers(len(bgs))]
        H, W = img.shape[:2]
        s = max_side / max(H, W) * np.exp(rng.uniform(np.log(0.6), np.log(1.5)))
        if (hard or zoom) and rng.random() < 0.3:  # close-up: the frame magnified up to 3x
            s *= rng.uniform(1.5, 3.0)
        # crop in source coordinates first (cheaper), then resize only the crop
        cs = crop / s  # crop size in source pixels
        if len(boxes) and rng.random() < 0.5:
            b = boxes[rng.integers(len(boxes))]
            x0 = b[0] + b[2] / 2 - cs / 2 + rng.uniform(-0.4, 0.4) * cs
            y0 = b[1] + b[3] / 2 - cs / 2 + rng.uniform(-0.4, 0.4) * cs
        else:
            x0 = rng.uniform(min(0, W - cs), max(0, W - cs))
            y0 = rng.uniform(min(0, H - cs), max(0, H - cs))
        x0 = float(np.clip(x0, min(0, W - cs), max(0, W - cs)))
        y0 = float(np.clip(y0, min(0, H - cs), max(0, H - cs)))
        M = np.float32([[s, 0, -x0 * s], [0, s, -y0 * s]])
        out = cv2.warpAffine(img, M, (crop, crop), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        bx = []
        for (x, y, w, h) in boxes:
            X0, Y0 = (x - x0) * s, (y - y0) * s
            X1, Y1 = X0 + w * s, Y0 + h * s
            cX0, cY0, cX1, cY1 = max(X0, 0), max(Y0, 0), min(X1, crop), min(Y1, crop)
            if cX1 - cX0 > 1 and cY1 - cY0 > 1:
                bx.append((cX0, cY0, cX1 - cX0, cY1 - cY0))
    if hard and rng.random() < 0.35:
        out = synth.hard_textures(rng, out)
    decoy = np.zeros((crop, crop), np.uint8)
    if fronts and rng.random() < 0.6:
        for _try in range(4):
            end = synth.car_end_decoy(rng, out, bx)
            if end is None:
                continue
            mask, (cx, cy, pw) = end
            decoy |= mask
            if rng.random() < 0.8:  # its plate, where the glow must stop at the plate's edges
                b = synth.paste_plate(rng, out, float(np.clip(pw / rng.uniform(2.0, 4.5), 6, 170)), cx, cy,
                                      car_context=False, keep=bx)
                if b is not None:
                    bx.append(b)
            break
    # decoys must not hide a labelled plate (each draw returns None then)
    if decoys and rng.random() < 0.5:
        decoy |= draw_decoys(rng, out, bx, synth.decoy_body, int(rng.integers(1, 3)))
    if surfaces and rng.random() < 0.5:
        decoy |= draw_decoys(rng, out, bx, synth.surface_decoy, int(rng.integers(1, 3)))
    if lettering and rng.random() < 0.5:
        decoy |= draw_decoys(rng, out, bx, synth.lettering_decoy, int(rng.integers(1, 4)))
    # synthetic plates (drawn over the decoys too: a plate on a tiled floor is still a plate)
    n = int(rng.integers(synth_n[0], synth_n[1] + 1))
    bodies = []  # car-body blocks drawn around the plates
    for _ in range(n):
        hp = float(np.exp(rng.uniform(np.log(6), np.log(170))))
        for _try in range(6):
            cx, cy = rng.uniform(0, crop), rng.uniform(0, crop)
            wide = hp * 5
            if all(abs(cx - (b[0] + b[2] / 2)) > (wide + b[2]) / 2 or abs(cy - (b[1] + b[3] / 2)) > (hp + b[3]) / 2 + 4
                   for b in bx):
                break
        else:
            continue
        b = synth.paste_plate(rng, out, hp, cx, cy, keep=bx, painted=bodies)
        if b is not None:
            bx.append(b)
    # a teacher trained before the blocks spared other plates glows over
    # them: they are car, target 0, away from the plates
    for (x0, y0, x1, y1) in bodies:
        decoy[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 1
    fenced = fences and rng.random() < 0.2
    if fenced:
        out = synth.behind_fence(rng, out)
    shifted = colour and rng.random() < 0.5
    if shifted:
        out = synth.colour_shift(rng, out)
    out = synth.photometric(rng, out)
    if hard and rng.random() < 0.3:
        out = synth.sharpen(rng, out)
    t, wgt = heatmap_target(bx, crop, crop)
    # decoy cells (centre inside a block) at least two cells from a plate
    d = decoy[STRIDE // 2::STRIDE, STRIDE // 2::STRIDE][:t.shape[0], :t.shape[1]].astype(np.float32)
    near = cv2.dilate((t > 0).astype(np.uint8), np.ones((5, 5), np.uint8))
    if tight:
        band = np.zeros_like(t)
        for (x, y, w, h) in bx:
            e = max(2 * STRIDE, h)
            x0, y0 = int(max(0, (x - e) // STRIDE)), int(max(0, (y - e) // STRIDE))
            band[y0:int((y + h + e) // STRIDE) + 1, x0:int((x + w + e) // STRIDE) + 1] = 1
        d = np.maximum(d, band)
        wgt = wgt * (1 + 4 * band * (near == 0))
        # without this the band thins the plate's own edges, and the boxes
        # no longer cover it
        edge = t - cv2.erode(t, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        wgt = wgt * (1 + 2 * edge)
    d[near > 0] = 0
    return out, t, wgt, bx, d, shifted


class TrainSet:
    """Map-style dataset; sample i of epoch e is fully determined by (seed, e, i),
    whatever the number of DataLoader workers."""

    def __init__(self, bgs, length, seed, crop=384, max_side=896, hard=False, decoys=False, colour=False,
                 surfaces=False, lettering=False, fences=False, fronts=False, tight=False, zoom=False):
        self.bgs, self.length, self.seed, self.crop, self.max_side = bgs, length, seed, crop, max_side
        self.hard, self.decoys, self.colour, self.surfaces = hard, decoys, colour, surfaces
        self.lettering, self.fences, self.fronts, self.tight = lettering, fences, fronts, tight
        self.zoom = zoom
        self.epoch = 0

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        img, t, wgt, _, d, shifted = make_sample(rng, self.bgs, self.crop, self.max_side, hard=self.hard,
                                                 decoys=self.decoys, colour=self.colour, surfaces=self.surfaces,
                                                 lettering=self.lettering, fences=self.fences,
                                                 fronts=self.fronts, tight=self.tight, zoom=self.zoom)
        x = img.transpose(2, 0, 1).astype(np.float32) / 255.0  # BGR, pixel/255
        return x, t[None], wgt[None], d[None], np.float32(0 if shifted else 1)


def synthetic_val(rng, val_imgs, n):
    """Full-size validation images of assorted sizes built from ro- validation
    frames (crops resized to the target size) or procedural backgrounds, with
    synthetic plates 12-160 px high at original resolution."""
    sizes = [(576, 432), (1280, 720), (1280, 1280), (1024, 640), (800, 600), (640, 480), (1280, 960), (720, 1280)]
    out = []
    for k in range(n):
        W, H = sizes[rng.integers(len(sizes))]
        boxes = []
        if val_imgs and rng.random() < 0.7:
            img, bb = val_imgs[rng.integers(len(val_imgs))]
            sh, sw = img.shape[:2]
            f = rng.uniform(0.5, 1.0)
            cw = min(sw, sh * W / H) * f
            ch = cw * H / W
            x0, y0 = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
            s = W / cw
            M = np.float32([[s, 0, -x0 * s], [0, s, -y0 * s]])
            scene = cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_LINEAR)
            for (x, y, w, h) in bb:
                X0, Y0, X1, Y1 = (x - x0) * s, (y - y0) * s, (x + w - x0) * s, (y + h - y0) * s
                if X0 >= 0 and Y0 >= 0 and X1 <= W and Y1 <= H:
                    boxes.append((X0, Y0, X1 - X0, Y1 - Y0))
        else:
            scene = synth.procedural_background(rng, H, W)
        for _ in range(int(rng.integers(1, 4))):
            hp = float(np.exp(rng.uniform(np.log(12), np.log(160))))
            hp = min(hp, H / 4, W / 8)
            cx, cy = rng.uniform(hp * 3, W - hp * 3), rng.uniform(hp, H - hp)
            if any(abs(cx - (b[0] + b[2] / 2)) < (hp * 5 + b[2]) / 2 + 4 and
                   abs(cy - (b[1] + b[3] / 2)) < (hp + b[3]) / 2 + 4 for b in boxes):
                continue
            b = synth.paste_plate(rng, scene, hp, cx, cy, keep=boxes)
            if b is not None and b[0] > 0 and b[1] > 0 and b[0] + b[2] < W and b[1] + b[3] < H:
                boxes.append(b)
        scene = synth.photometric(rng, scene)
        out.append(("synval-%03d" % k, scene, np.array(boxes, np.float32).reshape(-1, 4)))
    return out
