"""Probes of four ways the detector can fail away from its training data,
on validation data only, with a model's manifest settings exactly as the
product runs it.

Blocks: how much of an image does the detector redact when a large flat
panel (a car body seen close up) fills part of it?

Close-up photos from fixed cameras show car bodies far larger than the
dashcam frames the network trains on, and a network taught that a plate
sits inside every large block glows over such panels. This draws plain
blocks of a tenth to four fifths of the width (uniform colour, no plate,
none of the parts synth.decoy_body draws) on ro- validation frames and
procedural backgrounds, runs the ONNX model with its manifest's settings
exactly as the product does, and reports the area redacted away from the
labelled plates, and their recall, per block size.

Surfaces: close-up car-park photos are full of tiled floors and railings,
sharp and high in contrast, which dashcam roads do not show. One or two
(synth.surface_decoy) are drawn on each of the blocks probe's images; in
another run, three words and badges (synth.lettering_decoy), as a
car's model name and maker's badge show beside its plate.

Fences: car-park cameras often look through a chain-link fence, and in
haze. The ro- validation frames are run as they are and through a fence
(synth.behind_fence), clear and hazy.

Colour: the ro- frames carry a strong magenta cast; other cameras give
balanced colour, or grey (infrared ANPR cameras). The ro- validation
frames are run as they are, desaturated, grey and grey-world balanced.

    /usr/bin/python3 models/train/probes.py models/platenet.onnx [more.onnx ...]
"""
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate  # noqa: E402
import synth  # noqa: E402

SIZES = (0.0, 0.1, 0.25, 0.5, 0.8)
TRIALS = 60


def images(shared, rng):
    img_dir, labels, _, val = data.ro_split(shared)
    frames = data.load_images(img_dir, val, labels)
    out = []
    for k in range(TRIALS):
        if k % 3 == 0:
            out.append((synth.procedural_background(rng, 480, 640), np.zeros((0, 4), np.float32)))
            continue
        img, boxes = frames[k % len(frames)]
        sx, sy = 640 / img.shape[1], 480 / img.shape[0]
        out.append((cv2.resize(img, (640, 480), interpolation=cv2.INTER_AREA),
                    boxes * np.float32([sx, sy, sx, sy])))
    return out


def with_block(rng, img, boxes, size):
    img = img.copy()
    if size == 0:
        return img
    bw = int(640 * size)
    bh = int(bw * rng.uniform(0.4, 0.8))
    for _ in range(20):  # keep the labelled plates visible
        x0, y0 = int(rng.uniform(0, 640 - bw)), int(rng.uniform(0, max(1, 480 - bh)))
        if all(x + w < x0 or x > x0 + bw or y + h < y0 or y > y0 + bh for x, y, w, h in boxes):
            break
    else:
        return None
    cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    return img


def blocks(path, man, shared):
    """[{block, false_area, recall, images}] for the ONNX model at path run
    with the settings of manifest man."""
    rng = np.random.default_rng(2026)
    base = images(shared, rng)
    rows = []
    for size in SIZES:
        items = []
        for img, boxes in base:
            im = with_block(rng, img, boxes, size)
            if im is not None:
                items.append((im, boxes))
        hms = evaluate.heatmaps_cv2(path, items, man["input"]["max_side"], evaluate.mirror_of(man))
        r = evaluate.evaluate(hms, **evaluate.settings(man))
        rows.append({"block": size, "false_area": r["false_area"], "recall": r["recall"], "images": r["images"]})
    return rows


def surfaces(path, man, shared):
    """[{surfaces, false_area, recall, images}]: the probe images as they
    are, with one or two tiled floors or railings (synth.surface_decoy),
    with three words (synth.lettering_decoy), and with a car's end
    (synth.car_end_decoy), all drawn clear of the labelled plates."""
    rng = np.random.default_rng(2027)
    base = images(shared, rng)
    sets = [("none", base), ("floors and railings", draw(rng, base, synth.surface_decoy, 2))]
    sets.append(("lettering", draw(np.random.default_rng(2028), base, synth.lettering_decoy, 3)))
    sets.append(("car ends", draw(np.random.default_rng(2030), base, synth.car_end_decoy, 1)))
    rows = []
    for name, items in sets:
        hms = evaluate.heatmaps_cv2(path, items, man["input"]["max_side"], evaluate.mirror_of(man))
        r = evaluate.evaluate(hms, **evaluate.settings(man))
        rows.append({"surfaces": name, "false_area": r["false_area"], "recall": r["recall"], "images": r["images"]})
    return rows


def draw(rng, base, decoy, want):
    """The images with `want` decoys each, drawn clear of the plates, or as
    many as 8 tries allow."""
    out = []
    for img, boxes in base:
        im = img.copy()
        n = 0
        for _ in range(8):
            if decoy(rng, im, [tuple(b) for b in boxes]) is not None:
                n += 1
                if n == want:
                    break
        out.append((im, boxes))
    return out


def desaturate(img, f):
    g = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR).astype(np.float32)
    return np.clip(g + (img.astype(np.float32) - g) * f, 0, 255).astype(np.uint8)


def grey_world(img):
    x = img.astype(np.float32)
    m = x.reshape(-1, 3).mean(0) + 1.0
    return np.clip(x * (m.mean() / m), 0, 255).astype(np.uint8)


COLOURS = [("as is", lambda im: im), ("saturation x0.3", lambda im: desaturate(im, 0.3)),
           ("grey", lambda im: desaturate(im, 0.0)), ("grey-world balanced", grey_world)]


def colour(path, man, shared):
    """[{colours, false_area, recall, images}] on the ro- validation frames."""
    img_dir, labels, _, val = data.ro_split(shared)
    frames = data.load_images(img_dir, val, labels)
    rows = []
    for name, fn in COLOURS:
        hms = evaluate.heatmaps_cv2(path, [(fn(im), b) for im, b in frames], man["input"]["max_side"],
                                       evaluate.mirror_of(man))
        r = evaluate.evaluate(hms, **evaluate.settings(man))
        rows.append({"colours": name, "false_area": r["false_area"], "recall": r["recall"], "images": r["images"]})
    return rows


def fences(path, man, shared):
    """[{fence, false_area, recall, images}] on the ro- validation frames as
    they are and seen through a chain-link fence (synth.behind_fence),
    clear and hazy."""
    img_dir, labels, _, val = data.ro_split(shared)
    frames = data.load_images(img_dir, val, labels)
    rows = []
    for name, haze in (("none", None), ("chain-link", 0.0), ("chain-link, hazy", 0.5)):
        rng = np.random.default_rng(2029)
        items = [(im if haze is None else synth.behind_fence(rng, im, haze), b) for im, b in frames]
        hms = evaluate.heatmaps_cv2(path, items, man["input"]["max_side"], evaluate.mirror_of(man))
        r = evaluate.evaluate(hms, **evaluate.settings(man))
        rows.append({"fence": name, "false_area": r["false_area"], "recall": r["recall"], "images": r["images"]})
    return rows


def main():
    shared = os.environ.get("PLATEMASK_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
    cv2.setNumThreads(1)
    for path in sys.argv[1:]:
        man = json.load(open(os.path.splitext(path)[0] + ".json"))
        print(path)
        for r in blocks(path, man, shared):
            print("  block %.2f of the width: area redacted away from plates %.2f%%, recall %.4f (%d images)"
                  % (r["block"], 100 * r["false_area"], r["recall"], r["images"]))
        for r in surfaces(path, man, shared):
            print("  surfaces %s: area redacted away from plates %.2f%%, recall %.4f (%d images)"
                  % (r["surfaces"], 100 * r["false_area"], r["recall"], r["images"]))
        for r in fences(path, man, shared):
            print("  ro- validation, fence %s: area redacted away from plates %.2f%%, recall %.4f (%d images)"
                  % (r["fence"], 100 * r["false_area"], r["recall"], r["images"]))
        for r in colour(path, man, shared):
            print("  ro- validation, %s: area redacted away from plates %.2f%%, recall %.4f (%d images)"
                  % (r["colours"], 100 * r["false_area"], r["recall"], r["images"]))


if __name__ == "__main__":
    main()
