#!/usr/bin/env python3
"""Cut a trained PlateNet down to model.SLIM's widths (--arch slim) or
model.NARROW's (--arch narrow), so that distillation starts from most of
what the network knew rather than from scratch.

Three groups of channels are cut, each as a whole because additions tie
its members together: the stem's first convolution (16 -> 8; NARROW
keeps all 16), the stride-4 stream (the stem's last block, the residual
block at stride 4 and what reads it: 32 -> 24) and the top-down path at
every stride (32 -> 24). A channel's importance is its mean absolute
activation on training samples, relative to its group's mean at each
place it is measured, times the size of the weights that read it; each
group keeps its most important channels.

    /usr/bin/python3 models/train/from_onnx.py models/platenet.onnx /tmp/shipped.pt
    /usr/bin/python3 models/train/prune.py --shared ../shared /tmp/shipped.pt /tmp/slim0.pt
    /usr/bin/python3 models/train/prune.py --shared ../shared --arch narrow /tmp/shipped.pt /tmp/narrow0.pt
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import NARROW, SLIM, PlateNet, build  # noqa: E402

# Where each group's channels are measured (module outputs, or inputs
# for the smoothing blocks, whose input is a sum of the path's maps),
# and the convolutions that read them (weight tensors, input dimension).
GROUPS = {
    "stem": {"out": ["stem.0"], "in": [], "readers": [("stem.1.pw.0.weight", 1)]},
    "c4": {"out": ["stem", "s4"], "in": [], "readers": [("s8.0.pw.0.weight", 1), ("lat4.0.weight", 1)]},
    "fpn": {"out": ["sm16", "sm8", "sm4", "lat32"], "in": ["sm16", "sm8", "sm4"],
            "readers": [("head.weight", 1)]},
}

# Every tensor the cut touches: (dim 0's group, dim 1's group). Tensors
# whose names start with a prefix here take its rule; depthwise weights
# have one input channel, so only their dim 0 is cut.
RULES = [
    ("stem.0.", ("stem", None)),
    ("stem.1.dw.", ("stem", None)),
    ("stem.1.pw.0.", ("c4", "stem")),
    ("stem.1.pw.1.", ("c4", None)),
    ("s4.0.dw.", ("c4", None)),
    ("s4.0.pw.0.", ("c4", "c4")),
    ("s4.0.pw.1.", ("c4", None)),
    ("s8.0.dw.", ("c4", None)),
    ("s8.0.pw.0.", (None, "c4")),
    ("lat4.0.", ("fpn", "c4")),
    ("lat4.1.", ("fpn", None)),
    ("lat8.", ("fpn", None)),
    ("lat16.", ("fpn", None)),
    ("lat32.", ("fpn", None)),
    ("sm16.", ("fpn", "fpn")),
    ("sm8.", ("fpn", "fpn")),
    ("sm4.", ("fpn", "fpn")),
    ("head.weight", (None, "fpn")),
]


def importance(net, samples):
    """Per group, a score for every channel (higher: keep)."""
    sums = {g: 0.0 for g in GROUPS}
    hooks = []

    def record(group, of_input):
        def hook(_, inputs, output):
            a = inputs[0] if of_input else output
            m = a.detach().abs().mean((0, 2, 3))
            sums[group] = sums[group] + m / m.mean().clamp_min(1e-8)
        return hook

    for g, spec in GROUPS.items():
        for name in spec["out"]:
            hooks.append(net.get_submodule(name).register_forward_hook(record(g, False)))
        for name in spec["in"]:
            hooks.append(net.get_submodule(name).register_forward_hook(record(g, True)))
    with torch.no_grad():
        for x in samples:
            net(x)
    for h in hooks:
        h.remove()
    state = net.state_dict()
    scores = {}
    for g, spec in GROUPS.items():
        reads = sum(state[k].abs().transpose(0, dim).reshape(state[k].shape[dim], -1).sum(1)
                    for k, dim in spec["readers"])
        scores[g] = sums[g] * reads / reads.mean()
    return scores


def cut(state, slim_state, keep):
    """The slim network's state_dict: every tensor of state sliced to the
    kept channels of the groups its dimensions belong to."""
    out = {}
    for k, want in slim_state.items():
        t = state[k]
        if t.shape != want.shape:
            rule = next((r for p, r in RULES if k.startswith(p)), None)
            if rule is None:
                sys.exit("no rule for %s %s -> %s" % (k, tuple(t.shape), tuple(want.shape)))
            for dim, g in enumerate(rule):
                if g is not None and t.dim() > dim and t.shape[dim] != want.shape[dim]:
                    t = t.index_select(dim, keep[g])
            if t.shape != want.shape:
                sys.exit("%s: cut to %s, want %s" % (k, tuple(t.shape), tuple(want.shape)))
        out[k] = t.clone()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--samples", type=int, default=96, help="training samples the activations are measured on")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--arch", default="slim", choices=["slim", "narrow"],
                    help="the widths to cut to: model.SLIM, or model.NARROW (the stem kept whole)")
    ap.add_argument("init", help="state_dict of a nearest-upsampling PlateNet")
    ap.add_argument("out")
    a = ap.parse_args()
    net = PlateNet(upsample="nearest").eval()
    state = torch.load(a.init, map_location="cpu")
    net.load_state_dict(state)
    img_dir, labels, train_names, _ = data.ro_split(a.shared)
    ds = data.TrainSet(data.load_images(img_dir, train_names, labels), a.samples, a.seed,
                       decoys=True, colour=True, surfaces=True)
    xs = [torch.from_numpy(np.stack([ds[i][0] for i in range(j, min(j + 8, a.samples))]))
          for j in range(0, a.samples, 8)]
    scores = importance(net, xs)
    to = SLIM if a.arch == "slim" else NARROW
    widths = {"stem": to["w"][0], "c4": to["w"][1], "fpn": to["fpn"]}
    keep = {g: torch.sort(torch.argsort(s, descending=True)[:widths[g]]).values for g, s in scores.items()}
    for g in keep:
        print(g, "keeps", keep[g].tolist(), "score kept %.2f of %.2f" % (
            float(scores[g][keep[g]].sum()), float(scores[g].sum())))
    slim = build(a.arch)
    torch.save(cut(state, slim.state_dict(), keep), a.out)


if __name__ == "__main__":
    main()
