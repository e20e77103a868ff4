#!/usr/bin/env python3
"""MEASUREMENT ONLY: recall / false area per prefix of plates-dev through
OpenCV dnn with the shipped manifest (mirrors the Go post-processing).
Nothing here feeds back into training or threshold selection; the oa- (AGPL)
images are only read, never trained on.

    /usr/bin/python3 models/train/measure_oa.py --shared ../shared --model models/platenet.json

--breakdown also splits the area away from plates by where it comes from:
components that hold a plate, and the rest, each by peak (each
component's padded box counted alone, so overlaps count twice).
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate  # noqa: E402


def breakdown(hm, scale, shape, labels, man):
    """Area away from plates of each component's padded box, as a share of
    the image: [holds a plate and peaks >= 0.9, holds one and peaks lower,
    no plate and >= 0.9, no plate and lower]."""
    H, W = shape[:2]
    plate = np.zeros((H, W), bool)
    for (x, y, w, h) in labels:
        plate[int(round(y)):int(round(y + h)), int(round(x)):int(round(x + w))] = True
    out = np.zeros(4)
    comps = evaluate.components(hm, man["threshold"], evaluate.valid_grid(scale, shape), man.get("split_step", 0.0))
    for comp in comps:
        boxes = evaluate.core_boxes(hm, [comp], man.get("core", 0.0), man.get("min_peak", 0.0), man.get("grow", 0.0),
                                    man.get("parts", False))
        for (x0, y0, x1, y1) in evaluate.boxes_from_components(boxes, scale, shape, man["margin"], man["margin_px"]):
            m = np.zeros((H, W), bool)
            m[int(np.floor(y0)):int(np.ceil(y1)), int(np.floor(x0)):int(np.ceil(x1))] = True
            k = (0 if (m & plate).any() else 2) + (0 if comp[4] >= 0.9 else 1)
            out[k] += (m & ~plate).sum() / (H * W)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--model", default="models/platenet.json")
    ap.add_argument("--breakdown", action="store_true", help="split the area away from plates by component")
    a = ap.parse_args()
    man = json.load(open(a.model))
    # The manifest's settings only: they are chosen on validation data.
    setting = evaluate.settings(man)
    cv2.setNumThreads(2)
    labels = data.load_labels(a.shared)
    img_dir = os.path.join(a.shared, "datasets", "plates-dev", "images")
    groups = {}
    for n in sorted(os.listdir(img_dir)):
        if not n.endswith(".jpg"):
            continue
        k = "ro-val" if (n.startswith("ro-") and data.is_val(n)) else "ro-train" if n.startswith("ro-") \
            else n[:5]
        groups.setdefault(k, []).append(n)
    heat = evaluate.heat_cv2(os.path.join(os.path.dirname(a.model), man["file"]), evaluate.mirror_of(man))
    allc, allf = [], []
    for k in sorted(groups):
        covs, fs, misses = [], [], []
        sources = np.zeros(4)  # plate peak >= 0.9, plate below, other >= 0.9, other below
        for n in groups[k]:
            img = cv2.imread(os.path.join(img_dir, n))
            blob, scale = evaluate.prepare(img, man["input"]["max_side"])
            hm = heat(blob, scale, img.shape)
            b = evaluate.detect(hm, scale, img.shape, **setting)
            c, f = evaluate.score(b, labels.get(n, []), img.shape)
            covs += c
            fs.append(f)
            misses += [(n, round(x, 2)) for x in c if x < evaluate.COVER]
            if a.breakdown:
                sources += breakdown(hm, scale, img.shape, labels.get(n, []), man)
        covs = np.array(covs)
        allc += list(covs)
        allf += fs
        print("%-8s images %3d plates %3d recall %.4f false area %.4f misses %s" %
              (k, len(groups[k]), len(covs), (covs >= evaluate.COVER).mean(), np.mean(fs), misses[:6]))
        if a.breakdown:
            sources /= len(groups[k])
            print("         away from plates: components holding a plate, peak >= 0.9 %.4f, below %.4f; "
                  "others, peak >= 0.9 %.4f, below %.4f" % tuple(sources))
    allc = np.array(allc)
    print("ALL      recall %.4f false area %.4f (%s)" % ((allc >= evaluate.COVER).mean(), np.mean(allf),
                                                     " ".join("%s=%s" % kv for kv in setting.items())))


if __name__ == "__main__":
    main()
