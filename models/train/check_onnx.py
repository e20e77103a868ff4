#!/usr/bin/env python3
"""Check an exported PlateNet ONNX file with OpenCV dnn (the product's runtime):
  * it loads with cv2.dnn.readNetFromONNX,
  * outputs match the torch weights within 1e-3 on 1280x736 and 576x448 inputs
    (when --weights is given),
  * single-thread latency on 1280x720 photos prepared at the manifest's max_side.

    /usr/bin/python3 models/train/check_onnx.py --model models/platenet.json [--weights W.pt]
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/platenet.json")
    ap.add_argument("--weights", default="")
    ap.add_argument("--image", default="", help="optional 1280x720 photo for the latency check")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    man = json.load(open(a.model))
    path = os.path.join(os.path.dirname(a.model), man["file"])
    cv2.setNumThreads(1)
    net = cv2.dnn.readNetFromONNX(path)
    print("OpenCV", cv2.__version__, "loaded", path, os.path.getsize(path), "bytes")
    rng = np.random.default_rng(0)
    for H, W in [(736, 1280), (448, 576)]:
        x = rng.random((1, 3, H, W), dtype=np.float32)
        net.setInput(x)
        y = net.forward()
        assert y.shape == (1, 1, H // 4, W // 4), y.shape
        msg = "shape %s" % (y.shape,)
        if a.weights:
            import torch
            from model import build
            arch = man.get("architecture", {})
            m = build(arch.get("name", "platenet"), arch.get("upsample", "deconv"))
            m.load_state_dict(torch.load(a.weights, map_location="cpu"))
            m.eval()
            with torch.no_grad():
                ref = torch.sigmoid(m(torch.from_numpy(x))).numpy()
            d = float(np.abs(ref - y).max())
            msg += " max|torch-opencv| %.2e" % d
            assert d < 1e-3
        print("%dx%d" % (W, H), msg)
    img = cv2.imread(a.image) if a.image else None
    if img is None:
        img = (rng.random((720, 1280, 3)) * 255).astype(np.uint8)
    ts = []
    heat = evaluate.heat_cv2(path, evaluate.mirror_of(man))
    for i in range(a.runs + 2):
        t = time.perf_counter()
        blob, scale = evaluate.prepare(img, man["input"]["max_side"])
        hm = heat(blob, scale, img.shape)
        evaluate.detect(hm, scale, img.shape, **evaluate.settings(man))
        ts.append(time.perf_counter() - t)
    ts = np.array(ts[2:]) * 1000
    print("1280x720 -> max_side %d, 1 thread: median %.1f ms, min %.1f ms (prep+net+components)"
          % (man["input"]["max_side"], np.median(ts), ts.min()))


if __name__ == "__main__":
    main()
