#!/usr/bin/env python3
"""Validation only: weights from a training run, exported and measured at
a fixed manifest's post-processing setting instead of one selected for
them. It writes OUT/platenet.onnx and OUT/platenet.json (the manifest's
settings, the new file and sha256), which measure_oa.py, closeups.py and
probes.py read, and prints recall and area away from plates on the ro-
and synthetic validation sets. A selection (train.py --skip-train) takes
about 15 minutes; this takes under a minute, so fine-tunes can be
compared on equal terms first.

    /usr/bin/python3 models/train/at_setting.py --shared ../shared --setting models/platenet.json \\
        --arch narrow /tmp/run/platenet.pt /tmp/run-at-6.1
"""
import argparse
import hashlib
import json
import os
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate  # noqa: E402
from model import build, export_onnx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--setting", default="models/platenet.json", help="manifest whose setting to use")
    ap.add_argument("--arch", default="narrow", help="the weights' architecture (train.py --arch)")
    ap.add_argument("--upsample", default="nearest", help="the weights' upsampling (train.py --upsample)")
    ap.add_argument("--seed", type=int, default=1234, help="synthetic validation seed (train.py's default)")
    ap.add_argument("weights", help="state_dict from train.py (OUT/platenet.pt)")
    ap.add_argument("out", help="folder for platenet.onnx and platenet.json")
    a = ap.parse_args()

    net = build(a.arch, a.upsample)
    net.load_state_dict(torch.load(a.weights, map_location="cpu"))
    net.eval()
    os.makedirs(a.out, exist_ok=True)
    onnx = os.path.join(a.out, "platenet.onnx")
    export_onnx(net, onnx)
    man = json.load(open(a.setting))
    man["file"] = "platenet.onnx"
    man["sha256"] = hashlib.sha256(open(onnx, "rb").read()).hexdigest()
    man["architecture"] = {"name": a.arch, "upsample": a.upsample}
    with open(os.path.join(a.out, "platenet.json"), "w") as f:
        json.dump(man, f, indent=2)

    # The same validation sets as train.py's selection at its default seed.
    img_dir, labels, _, val_names = data.ro_split(a.shared)
    val = data.load_images(img_dir, val_names, labels)
    syn = [(im, lb) for _, im, lb in data.synthetic_val(np.random.default_rng([a.seed, 999]), val, 240)]
    cv2.setNumThreads(2)
    for name, images in (("ro- validation", val), ("synthetic validation", syn)):
        items = evaluate.heatmaps_cv2(onnx, images, man["input"]["max_side"], evaluate.mirror_of(man))
        r = evaluate.evaluate(items, **evaluate.settings(man))
        print("%-20s plates %3d recall %.4f false area %.4f" % (name, r["plates"], r["recall"], r["false_area"]))


if __name__ == "__main__":
    main()
