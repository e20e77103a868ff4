"""PlateNet: a tiny fully-convolutional licence-plate heatmap network.

Design goals (see models/README.md):
  * input  [1,3,H,W] BGR, pixel/255, H and W multiples of 32
  * output [1,1,H/4,W/4] sigmoid probability that a stride-4 cell lies in a plate
  * only ops that OpenCV 4.6 dnn imports from ONNX opset 11: Conv (BatchNorm is
    folded at export), Relu, Add, Sigmoid, and for 2x upsampling either a
    learnable depthwise ConvTranspose ("deconv") or Resize with constant
    scales ("nearest"; never a Resize whose size is computed from Shape,
    which OpenCV 4.6 handles poorly).

Backbone: aggressive early downsampling (two strided convs reach stride 4),
depthwise-separable residual blocks at strides 4/8/16/32, and a small
FPN-style top-down path back to stride 4.  FastNet (--arch fast) keeps the
body from stride 8 on and replaces what ran at stride 4 by a patch stem and a
stride-8 head; its one-hot ConvTranspose adds that op to the list above.
PlateNet with stem="patch" (--arch patch) takes FastNet's stem and keeps
the rest of PlateNet; --arch lean takes PlateNet's stem and FastNet's
rest. --arch slim is PlateNet at SLIM's widths, fewer channels
where OpenCV spends most: 8 in the full-resolution stem, 24 at stride 4
and in the top-down path (prune.py cuts them from a trained PlateNet).
--arch narrow (NARROW) keeps the stem's 16 and cuts only the other two.
Works with torch 1.13 and 2.x.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k=3, s=1, groups=1, act=True, pad=None):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2 if pad is None else pad, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DSBlock(nn.Module):
    """Depthwise 3x3 (optionally strided) + pointwise 1x1; residual when shapes match."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.dw = conv_bn(cin, cin, 3, stride, groups=cin, act=False)
        self.pw = conv_bn(cin, cout, 1, 1, act=False)
        self.res = stride == 1 and cin == cout
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.pw(self.dw(x))
        if self.res:
            y = y + x
        return self.act(y)


class Up2(nn.Module):
    """2x upsampling as a depthwise ConvTranspose2d(k=2, s=2) initialised to
    nearest-neighbour (weights 1).  Exports to a plain ConvTranspose node."""

    def __init__(self, c):
        super().__init__()
        self.up = nn.ConvTranspose2d(c, c, 2, stride=2, groups=c, bias=False)
        nn.init.constant_(self.up.weight, 1.0)

    def forward(self, x):
        return self.up(x)


class Nearest2(nn.Module):
    """2x nearest-neighbour upsampling; exports to a Resize node with constant
    scales, which OpenCV 4.6 runs several times faster than a depthwise
    ConvTranspose of the same shape."""

    def forward(self, x):
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


UPSAMPLERS = {"deconv": Up2, "nearest": lambda c: Nearest2()}


def add_body(net, w, fpn, blocks, up):
    """Adds the layers PlateNet and FastNet share to net: the stages at
    strides 8, 16 and 32 (from w[0] channels at stride 4 or a stride-4
    stem) and the top-down path back to stride 8. The names are part of
    the stored weights' keys."""
    c4, c8, c16, c32 = w
    net.s8 = nn.Sequential(DSBlock(c4, c8, 2), *[DSBlock(c8, c8) for _ in range(blocks[0])])
    net.s16 = nn.Sequential(DSBlock(c8, c16, 2), *[DSBlock(c16, c16) for _ in range(blocks[1])])
    net.s32 = nn.Sequential(DSBlock(c16, c32, 2), *[DSBlock(c32, c32) for _ in range(blocks[2])])
    net.lat32 = conv_bn(c32, fpn, 1)
    net.lat16 = conv_bn(c16, fpn, 1, act=False)
    net.lat8 = conv_bn(c8, fpn, 1, act=False)
    net.up32, net.up16 = up(fpn), up(fpn)
    net.sm16 = DSBlock(fpn, fpn)
    net.sm8 = DSBlock(fpn, fpn)


def run_body(net, f4):
    """The layers add_body added, from stride-4 features to the top-down
    path's stride-8 map."""
    f8 = net.s8(f4)
    f16 = net.s16(f8)
    p = net.lat32(net.s32(f16))
    p = net.sm16(net.up32(p) + net.lat16(f16))
    return net.sm8(net.up16(p) + net.lat8(f8))


class PlateNet(nn.Module):
    """With stem="patch" (--arch patch), FastNet's 4x4 stride-4 patch stem
    replaces the 3x3 conv on full-resolution pixels, the stride-2 block and
    the residual block at stride 4, which took a third of OpenCV's time;
    the top-down path and head at stride 4 stay, so boxes stay as fine."""

    def __init__(self, w=(16, 32, 64, 96, 128), fpn=32, blocks=(1, 2, 2, 2), upsample="deconv", stem="conv"):
        super().__init__()
        c0, c4, c8, c16, c32 = w
        if stem == "patch":
            self.stem = conv_bn(3, c4, 4, 4, pad=0)
            blocks = (0,) + tuple(blocks[1:])
        else:  # stride 2 -> stride 4
            self.stem = nn.Sequential(conv_bn(3, c0, 3, 2), DSBlock(c0, c4, 2))
        self.s4 = nn.Sequential(*[DSBlock(c4, c4) for _ in range(blocks[0])])
        up = UPSAMPLERS[upsample]
        add_body(self, (c4, c8, c16, c32), fpn, blocks[1:], up)
        self.lat4 = conv_bn(c4, fpn, 1, act=False)
        self.up8 = up(fpn)
        self.sm4 = DSBlock(fpn, fpn)
        self.head = nn.Conv2d(fpn, 1, 1)
        nn.init.constant_(self.head.bias, -4.0)  # start with low plate prior

    def forward_logits(self, x):
        f4 = self.s4(self.stem(x))
        p = self.sm4(self.up8(run_body(self, f4)) + self.lat4(f4))
        return self.head(p)

    def forward(self, x):
        return self.forward_logits(x)


class DepthToSpace2(nn.Module):
    """Puts 4 channels at stride 8 back as 1 channel at stride 4: channel
    2*i+j becomes sub-cell (i, j).  A fixed one-hot ConvTranspose, because
    OpenCV 4.6 cannot import DepthToSpace on inputs of dynamic size."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 1, 2, stride=2, bias=False)
        w = torch.zeros(4, 1, 2, 2)
        for i in range(2):
            for j in range(2):
                w[2 * i + j, 0, i, j] = 1
        self.up.weight.data.copy_(w)
        self.up.weight.requires_grad_(False)

    def forward(self, x):
        return self.up(x)


class FastNet(nn.Module):
    """PlateNet's stride-8 to stride-32 body and top-down path without the
    parts that ran at stride 4, which took over half of OpenCV's time:

      * the stem is one 4x4 stride-4 convolution (a patch embedding), where
        PlateNet had a 3x3 stride-2 conv on full-resolution pixels, a
        stride-2 block and a residual block at stride 4;
      * the head predicts the 2x2 stride-4 cells of each stride-8 cell (4
        channels) and DepthToSpace2 lays them out, so the output is the same
        stride-4 heat map and nothing after the model changes.

    Sub-module names match PlateNet's, so a PlateNet's s8..s32, lateral,
    upsampling and smoothing weights load into it (see train.py --init).

    With stem="conv" (--arch lean) the stem is PlateNet's own (the 3x3
    stride-2 conv on full-resolution pixels and the stride-2 block, c0
    channels between them), which loads from a PlateNet too; only the
    residual block at stride 4 and the top-down path's stride-4 end are
    dropped."""

    def __init__(self, w=(32, 64, 96, 128), fpn=32, blocks=(2, 2, 2), stem="patch", c0=16):
        super().__init__()
        c4, c8, c16, c32 = w
        if stem == "conv":
            self.stem = nn.Sequential(conv_bn(3, c0, 3, 2), DSBlock(c0, c4, 2))
        else:
            self.stem = conv_bn(3, c4, 4, 4, pad=0)
        add_body(self, (c4, c8, c16, c32), fpn, blocks, UPSAMPLERS["nearest"])
        self.head8 = nn.Conv2d(fpn, 4, 1)
        nn.init.constant_(self.head8.bias, -4.0)
        self.d2s = DepthToSpace2()

    def forward_logits(self, x):
        return self.d2s(self.head8(run_body(self, self.stem(x))))

    def forward(self, x):
        return self.forward_logits(x)


# PlateNet's widths with the stem, stride-4 and top-down channels cut.
SLIM = dict(w=(8, 24, 64, 96, 128), fpn=24)
# The same with the full-resolution stem kept whole.
NARROW = dict(w=(16, 24, 64, 96, 128), fpn=24)


def build(arch="platenet", upsample="deconv"):
    """The network a manifest's "architecture" names."""
    if arch == "fast":
        return FastNet()
    if arch == "lean":
        return FastNet(stem="conv")
    if arch == "patch":
        return PlateNet(upsample="nearest", stem="patch")
    if arch == "slim":
        return PlateNet(upsample="nearest", **SLIM)
    if arch == "narrow":
        return PlateNet(upsample="nearest", **NARROW)
    return PlateNet(upsample=upsample)


class Exported(nn.Module):
    """Wrapper used for ONNX export: logits -> sigmoid probabilities."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.sigmoid(self.net.forward_logits(x))


def export_onnx(net, path, opset=11):
    """Export with dynamic H/W. Works on torch 1.13 and 2.x (TorchScript exporter)."""
    net = net.cpu().eval()
    m = Exported(net).eval()
    x = torch.zeros(1, 3, 256, 320)
    kw = dict(opset_version=opset, input_names=["input"], output_names=["heatmap"],
              dynamic_axes={"input": {2: "H", 3: "W"}, "heatmap": {2: "h", 3: "w"}},
              do_constant_folding=True)
    try:
        torch.onnx.export(m, x, path, dynamo=False, **kw)
    except TypeError:  # torch < 2.x has no `dynamo` argument
        torch.onnx.export(m, x, path, **kw)
    clean_onnx(path)


def clean_onnx(path):
    """Replace Identity nodes on initializers (the exporter de-duplicates equal
    weights, e.g. the three upsamplers initialised to ones) by real copies of
    the initializer: OpenCV 4.6 cannot import an Identity whose input is a
    constant."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    keep = []
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            arr = numpy_helper.to_array(inits[n.input[0]])
            g.initializer.append(numpy_helper.from_array(arr.copy(), n.output[0]))
        else:
            keep.append(n)
    del g.node[:]
    g.node.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, path)
