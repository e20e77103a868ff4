#!/usr/bin/env python3
"""Validation only: the manifest's setting on close-up views of the ro-
validation frames, the closest the training licence allows to a car-park
camera's close-up. Around each validation plate, two views in which the
plate takes a sixth to a third of the width (4:3, clear of other plates'
edges), at native resolution and enlarged to 800 px wide.

    /usr/bin/python3 models/train/closeups.py --shared ../shared --model models/platenet.json
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


def views(val_imgs, rng, width=0):
    """[(image, boxes)]: two close-up views around each plate; width > 0
    enlarges each view to that many pixels wide."""
    out = []
    for img, bb in val_imgs:
        H, W = img.shape[:2]
        for (x, y, w, h) in bb:
            for _ in range(2):
                f = rng.uniform(1 / 6, 1 / 3)
                cw = min(w / f, W)
                ch = min(cw * 0.75, H)
                cw = ch / 0.75
                x0 = np.clip(x + w / 2 - cw * rng.uniform(0.3, 0.7), 0, W - cw)
                y0 = np.clip(y + h / 2 - ch * rng.uniform(0.4, 0.75), 0, H - ch)
                inside, cut = [], False
                for (X, Y, Wd, Hd) in bb:
                    ix = max(0, min(X + Wd, x0 + cw) - max(X, x0))
                    iy = max(0, min(Y + Hd, y0 + ch) - max(Y, y0))
                    if ix * iy == 0:
                        continue
                    cut |= ix * iy < Wd * Hd * 0.999
                    inside.append((X, Y, Wd, Hd))
                if cut:
                    continue
                s = width / cw if width else 1.0
                M = np.float32([[s, 0, -x0 * s], [0, s, -y0 * s]])
                v = cv2.warpAffine(img, M, (int(round(cw * s)), int(round(ch * s))), flags=cv2.INTER_LINEAR)
                out.append((v, np.array([((X - x0) * s, (Y - y0) * s, Wd * s, Hd * s)
                                         for X, Y, Wd, Hd in inside], np.float32).reshape(-1, 4)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--model", default="models/platenet.json")
    ap.add_argument("--seed", type=int, default=77)
    a = ap.parse_args()
    man = json.load(open(a.model))
    setting = evaluate.settings(man)
    img_dir, labels, _, val = data.ro_split(a.shared)
    val_imgs = data.load_images(img_dir, val, labels)
    onnx = os.path.join(os.path.dirname(a.model), man["file"])
    for name, width in [("native", 0), ("enlarged to 800 px", 800)]:
        vs = views(val_imgs, np.random.default_rng(a.seed), width)
        items = evaluate.heatmaps_cv2(onnx, vs, man["input"]["max_side"], evaluate.mirror_of(man))
        r = evaluate.evaluate(items, **setting)
        print("close-ups, %-18s views %d plates %d: %s" % (name, len(vs), sum(len(b) for _, b in vs), r))


if __name__ == "__main__":
    main()
