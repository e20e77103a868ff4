#!/usr/bin/env python3
"""Validation only: choose where the mirrored pass looks again (the
manifest's mirror_below and mirror_min_height) for a manifest's weights
and post-processing setting, and write the manifest with it.

The mirrored pass (models/README.md, "Version 6.2") looks again at each
component with the image mirrored left to right and keeps the lower of
the two heat maps. Run on every component it cuts the close-up false
area most, but it loses small plates and costs half a detection more.
Gated, it looks again only at the components the first pass is unsure of
(peak below mirror_below) and that are large enough to read (at least
mirror_min_height cells high); every other cell keeps its heat.

The choice, on validation data only:
  1. every gate of the grid on the ro- and synthetic validation sets (the
     same as train.py's selection): those holding recall >= 0.995 on ro-
     and >= 0.98 on synthetic, ranked by ro- false area plus half the
     synthetic one, as the selection ranks settings;
  2. in that order, the first whose probes (probes.py: blocks, surfaces,
     fences, colours, all on validation frames) lose no recall in any row
     against the same setting without the mirrored pass.

    /usr/bin/python3 models/train/gate.py --shared ../shared --setting models/platenet.json OUT

It takes about ten minutes on a 2-core machine and writes OUT/platenet.json
(with the chosen gate, its validation figures and probes) beside a copy of
the weights, OUT/platenet.onnx.
"""
import argparse
import copy
import json
import os
import shutil
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate  # noqa: E402
import probes  # noqa: E402

# mirror_below 2.0 looks again at components of any peak (a peak is at most 1).
BELOW = (0.5, 0.7, 0.8, 0.9, 0.95, 2.0)
MIN_HEIGHT = (0, 4, 6, 8, 10, 12, 16)
MIN_RECALL, MIN_SYN_RECALL = 0.995, 0.98


def gated(man, below, min_height):
    m = copy.deepcopy(man)
    m.update(mirror=True, mirror_below=below, mirror_min_height=min_height)
    return m


def ungated(man):
    m = copy.deepcopy(man)
    m.update(mirror=False)
    m.pop("mirror_below", None)
    m.pop("mirror_min_height", None)
    return m


def grid(onnx, man, sets):
    """[(measure, below, min_height, {set: result})] for every gate that
    holds the recall bars, best first. The first pass runs once per
    image; only the mirrored crops run per gate."""
    net = cv2.dnn.readNetFromONNX(onnx)
    run = evaluate.cv2_runner(net)
    first = {}
    for name, images in sets.items():
        first[name] = []
        for img, labels in images:
            blob, scale = evaluate.prepare(img, man["input"]["max_side"])
            first[name].append((blob, scale, img.shape, run(blob), labels))
    rows = []
    for below in BELOW:
        for h in MIN_HEIGHT:
            res = {}
            for name, items in first.items():
                hms = [(evaluate.agree(hm, blob, scale, shape, run, man["threshold"], man.get("min_peak", 0.0),
                                       man.get("split_step", 0.0), below, h), scale, shape, labels)
                       for blob, scale, shape, hm, labels in items]
                res[name] = evaluate.evaluate(hms, **evaluate.settings(man))
            ro, syn = res["ro"], res["syn"]
            ok = ro["recall"] >= MIN_RECALL and syn["recall"] >= MIN_SYN_RECALL
            print("  mirror_below %-4s min_height %2d: ro- %.4f, %.4f; synthetic %.4f, %.4f%s" % (
                below, h, ro["recall"], ro["false_area"], syn["recall"], syn["false_area"], "" if ok else "  (bars)"))
            sys.stdout.flush()
            if ok:
                rows.append((ro["false_area"] + syn["false_area"] / 2, below, h, res))
    return sorted(rows, key=lambda r: r[0])


def probe_rows(onnx, man, shared):
    return {"blocks_probe": probes.blocks(onnx, man, shared), "colour_probe": probes.colour(onnx, man, shared),
            "surfaces_probe": probes.surfaces(onnx, man, shared), "fence_probe": probes.fences(onnx, man, shared)}


def loses_recall(rows, base):
    """The probe rows where rows find fewer plates than base."""
    out = []
    for probe, rs in rows.items():
        for r, b in zip(rs, base[probe]):
            if r["recall"] < b["recall"] - 1e-9:
                out.append("%s %s: %.4f < %.4f" % (probe, [v for k, v in r.items() if k not in (
                    "false_area", "recall", "images")], r["recall"], b["recall"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--setting", default="models/platenet.json", help="manifest whose weights and setting to use")
    ap.add_argument("--seed", type=int, default=1234, help="synthetic validation seed (train.py's default)")
    ap.add_argument("out", help="folder for platenet.json and a copy of platenet.onnx")
    a = ap.parse_args()

    man = ungated(json.load(open(a.setting)))
    onnx = os.path.join(os.path.dirname(os.path.abspath(a.setting)), man["file"])
    cv2.setNumThreads(2)
    img_dir, labels, _, val_names = data.ro_split(a.shared)
    val = data.load_images(img_dir, val_names, labels)
    syn = [(im, lb) for _, im, lb in data.synthetic_val(np.random.default_rng([a.seed, 999]), val, 240)]
    print("gates on the validation sets:")
    rows = grid(onnx, man, {"ro": val, "syn": syn})

    print("probes without the mirrored pass")
    base = probe_rows(onnx, man, a.shared)
    chosen = None
    for measure, below, h, res in rows:
        m = gated(man, below, h)
        lost = loses_recall(probe_rows(onnx, m, a.shared), base)
        print("  mirror_below %s min_height %d (measure %.5f): %s" % (
            below, h, measure, "; ".join(lost) if lost else "no probe loses a plate"))
        sys.stdout.flush()
        if not lost:
            chosen = (m, res)
            break
    if chosen is None:
        sys.exit("no gate holds the bars and every probe")
    m, res = chosen

    os.makedirs(a.out, exist_ok=True)
    shutil.copy(onnx, os.path.join(a.out, "platenet.onnx"))
    m["file"] = "platenet.onnx"
    v = m.setdefault("validation", {})
    for key, name in (("ro_val", "ro"), ("synthetic_val", "syn")):
        v[key] = {"images": res[name]["images"], "plates": res[name]["plates"], "recall": res[name]["recall"],
                  "mean_false_area_fraction": res[name]["false_area"]}
    v["mirror_gate"] = ("mirror_below/mirror_min_height (models/train/gate.py): least false area on ro- validation "
                        "plus half that on synthetic validation among gates holding the same recall bars, the first "
                        "in that order whose probes lose no plate against the setting without the mirrored pass")
    for probe, rs in probe_rows(os.path.join(a.out, "platenet.onnx"), m, a.shared).items():
        v[probe]["rows"] = rs
    with open(os.path.join(a.out, "platenet.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    print("chose mirror_below %s, mirror_min_height %d: ro- %.4f, %.4f; synthetic %.4f, %.4f -> %s" % (
        m["mirror_below"], m["mirror_min_height"], res["ro"]["recall"], res["ro"]["false_area"],
        res["syn"]["recall"], res["syn"]["false_area"], os.path.join(a.out, "platenet.json")))


if __name__ == "__main__":
    main()
