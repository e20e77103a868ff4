#!/usr/bin/env python3
"""Turn an exported (BatchNorm-folded) ONNX file back into a state_dict
of its network (PlateNet; FastNet with --arch fast; --arch patch), so
that training can go on from the shipped weights when the checkpoints
that made them are gone.

Each folded Conv node is named after its module ("/s4/s4.0/dw/dw.0/Conv"
is module s4.0.dw.0); its weight goes to that convolution and its bias to
the BatchNorm beside it, which becomes an identity (mean 0, variance
1 - eps, scale 1). The network computes the same function, and exporting
it again folds to the same weights. Train such a network with
--freeze-bn: batch statistics would replace the identity at the first
step.

    /usr/bin/python3 models/train/from_onnx.py models/platenet.onnx /tmp/shipped.pt
    /usr/bin/python3 models/train/from_onnx.py --arch fast models/fast/platenet.onnx /tmp/fast.pt
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import build  # noqa: E402


def module_path(node):
    """"/s4/s4.0/dw/dw.0/Conv" -> "s4.0.dw.0": each scope is a child's
    name, written after its parent's ("s4.0" is child 0 of s4)."""
    parts = []
    scopes = node.strip("/").split("/")[:-1]
    for i, sc in enumerate(scopes):
        if i and sc.startswith(scopes[i - 1] + "."):
            parts.append(sc[len(scopes[i - 1]) + 1:])
        else:
            parts.append(sc)
    return ".".join(parts)


def state_dict(path, arch="platenet"):
    """The state_dict of a nearest-upsampling network of that architecture
    that computes what the ONNX file does. FastNet's fixed one-hot
    ConvTranspose (d2s) is not learnt, so it keeps the network's own."""
    net = build(arch, "nearest")
    own = net.state_dict()
    g = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    out = {}
    for n in g.node:
        if n.op_type != "Conv":
            continue
        mod = module_path(n.name)
        w, b = inits[n.input[1]], inits[n.input[2]]
        if mod + ".weight" not in own:
            sys.exit("%s: no module %s for node %s" % (path, mod, n.name))
        out[mod + ".weight"] = torch.from_numpy(np.array(w))
        if mod + ".bias" in own:  # the head keeps its own bias
            out[mod + ".bias"] = torch.from_numpy(np.array(b))
            continue
        parts = mod.split(".")
        bn = ".".join(parts[:-1] + [str(int(parts[-1]) + 1)])
        eps = net.get_submodule(bn).eps
        c = b.shape[0]
        out[bn + ".weight"] = torch.ones(c)
        out[bn + ".bias"] = torch.from_numpy(np.array(b))
        out[bn + ".running_mean"] = torch.zeros(c)
        out[bn + ".running_var"] = torch.full((c,), 1.0 - eps)
        out[bn + ".num_batches_tracked"] = torch.tensor(0)
    fixed = {n + ".weight" for n, m in net.named_modules()
             if isinstance(m, torch.nn.ConvTranspose2d) and not m.weight.requires_grad}
    for k in fixed:
        out[k] = own[k]
    missing = [k for k in own if k not in out]
    if missing:
        sys.exit("%s: nothing for %s" % (path, missing))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="platenet", choices=["platenet", "fast", "patch", "slim", "narrow", "lean"],
                    help="the manifest's architecture.name")
    ap.add_argument("onnx")
    ap.add_argument("out")
    a = ap.parse_args()
    torch.save(state_dict(a.onnx, a.arch), a.out)


if __name__ == "__main__":
    main()
