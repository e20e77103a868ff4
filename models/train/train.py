#!/usr/bin/env python3
"""Train PlateNet, export it to ONNX and write the manifest.

Reproduce the shipped model (from the repository root, with ../shared present):

    /usr/bin/python3 models/train/train.py --shared ../shared --out models

Options that matter: --device auto|cpu|cuda, --steps, --batch, --seed;
--arch fast trains model.FastNet (see models/README.md) instead of PlateNet,
--arch patch PlateNet with FastNet's patch stem, --arch lean FastNet with
PlateNet's stem, --arch slim and --arch narrow narrower PlateNets (see
prune.py).
Works with torch 1.13 (CPU) and torch 2.x (CUDA).  Training data: ro- images
(MIT) from shared/datasets/plates-dev plus procedurally rendered synthetic
plates; the AGPL oa- images are never read.
"""
import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import evaluate  # noqa: E402
import probes  # noqa: E402
from model import build, export_onnx  # noqa: E402


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def worker_init(_):
    import cv2
    cv2.setNumThreads(1)


def loss_fn(logits, t, w, pos_weight):
    bce = F.binary_cross_entropy_with_logits(logits, t, weight=w,
                                             pos_weight=torch.tensor(pos_weight, device=logits.device),
                                             reduction="sum") / max(1.0, float(w.sum()))
    p = torch.sigmoid(logits)
    inter = (p * t).sum()
    dice = 1 - (2 * inter + 1) / (p.sum() + t.sum() + 1)
    return bce * 10 + 0.5 * dice


def one_cycle(f):
    """OneCycleLR's shape (pct_start 0.05, div_factor 25, final_div_factor
    100) as a factor of the peak rate at fraction f of the run."""
    f = min(max(f, 0.0), 1.0)
    if f < 0.05:
        return 0.04 + 0.96 * (1 - np.cos(np.pi * f / 0.05)) / 2
    return 0.0004 + (1 - 0.0004) * (1 + np.cos(np.pi * (f - 0.05) / 0.95)) / 2


def _grid_job(args):
    real, syn, t = args
    return evaluate.grid(real, syn, [t])


def _mirror_job(args):
    real, syn, t, min_peak = args
    return evaluate.grid(real, syn, [t], [min_peak], mirror=True)


def validate_and_choose(net, device, val_imgs, syn_val, max_side, min_recall, min_syn_recall, workers):
    syn_imgs = [(im, lb) for _, im, lb in syn_val]
    real = evaluate.heatmaps_torch(net, val_imgs, max_side, device)
    syn = evaluate.heatmaps_torch(net, syn_imgs, max_side, device)
    jobs = [(real, syn, t) for t in evaluate.THRESHOLDS] if False in evaluate.MIRRORS else []
    mirror_jobs = []
    if True in evaluate.MIRRORS:
        # The mirrored pass looks again around the components found at a
        # threshold and min_peak, so each pair gets heat maps of its own.
        run = evaluate.torch_runner(net, device)
        for t in evaluate.THRESHOLDS:
            for mpk in evaluate.MIN_PEAKS:
                if mpk and mpk <= t:
                    continue
                mirror_jobs.append((evaluate.mirrored(real, val_imgs, max_side, run, t, mpk),
                                    evaluate.mirrored(syn, syn_imgs, max_side, run, t, mpk), t, mpk))
    with mp.get_context("fork").Pool(max(1, workers)) as pool:
        rows = sum(pool.map(_grid_job, jobs), []) + sum(pool.map(_mirror_job, mirror_jobs), [])
    return evaluate.choose(rows, min_recall, min_syn_recall), rows


def set_train(net, freeze_bn):
    """Training mode, with every BatchNorm kept on its running statistics
    under --freeze-bn."""
    net.train()
    if freeze_bn:
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()


def distill_stem(net, teacher, ds, args, dev):
    """Trains a new stem (--arch fast or patch), or PlateNet's stem without
    the s4 block after it (--arch lean), alone to give the teacher's
    stride-4 features (PlateNet's stem and s4 block), so that the body
    taken from the teacher starts on inputs it knows."""
    opt = torch.optim.AdamW(net.stem.parameters(), lr=args.lr, weight_decay=1e-4)
    dl = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                     worker_init_fn=worker_init, drop_last=True)
    set_train(net, args.freeze_bn)
    step, run, t0 = 0, 0.0, time.time()
    while step < args.stem_steps:
        for x, *_ in dl:
            x = x.to(dev)
            with torch.no_grad():
                want = teacher.s4(teacher.stem(x))
            loss = F.mse_loss(net.stem(x), want)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            run = 0.9 * run + 0.1 * loss.item() if step > 1 else loss.item()
            if step % 50 == 0:
                log("stem step %d/%d loss %.4f %.1f s" % (step, args.stem_steps, run, time.time() - t0))
            if step >= args.stem_steps:
                break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared", help="folder holding datasets/plates-dev")
    ap.add_argument("--out", default="models", help="where platenet.onnx/.json go")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--crop", type=int, default=384)
    ap.add_argument("--max-side", type=int, default=896)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--pos-weight", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--workers", type=int, default=max(1, min(15, (os.cpu_count() or 2) - 1)))
    ap.add_argument("--stop-after", type=int, default=0,
                    help="stop after this many steps of a --steps schedule (0 = run it all)")
    ap.add_argument("--time-limit", type=float, default=0, help="minutes; stop training early (0 = none)")
    ap.add_argument("--time-budget", type=float, default=0,
                    help="minutes; train for this long with the one-cycle schedule laid over the time "
                         "instead of over --steps (which then only caps the steps), so that a run on a "
                         "leased machine ends annealed whatever its speed")
    ap.add_argument("--syn-val", type=int, default=240, help="synthetic validation images")
    ap.add_argument("--min-recall", type=float, default=0.995, help="recall required on ro- validation")
    ap.add_argument("--min-syn-recall", type=float, default=0.98,
                    help="recall required on synthetic validation, which includes plates under 12 px")
    ap.add_argument("--hard-negatives", action="store_true",
                    help="add close-ups, sharp surface textures and sharpening to the samples (see data.make_sample)")
    ap.add_argument("--decoys", action="store_true",
                    help="add car-body blocks without plates (targets 0, teacher ignored there)")
    ap.add_argument("--surfaces", action="store_true",
                    help="add tiled floors and railings without plates (targets 0, teacher ignored there)")
    ap.add_argument("--lettering", action="store_true",
                    help="add words and badges without a plate behind them (targets 0, teacher ignored there)")
    ap.add_argument("--fronts", action="store_true",
                    help="draw the end of a car seen close up (grille, lamps, badges) on three fifths of the "
                         "samples, mostly with a plate in its place (targets 0 off the plate, teacher ignored there)")
    ap.add_argument("--tight-glow", action="store_true",
                    help="weigh the band around each plate, two cells to a plate height out, five times, with "
                         "targets 0 and the teacher ignored there, and the plate's outermost cells three times, "
                         "so the glow stops at the plate")
    ap.add_argument("--fences", action="store_true",
                    help="put a chain-link fence, often with haze, in front of a fifth of the samples, plates "
                         "included; a teacher's targets are raised to the labels")
    ap.add_argument("--freeze-bn", action="store_true",
                    help="keep BatchNorm statistics fixed (needed from weights made by from_onnx.py)")
    ap.add_argument("--colour", action="store_true",
                    help="shift half the samples toward balanced, desaturated or grey colours")
    ap.add_argument("--init", default="", help="optional state_dict to start from (weights the "
                    "architecture lacks, such as deconv upsamplers for --upsample nearest, are skipped)")
    ap.add_argument("--upsample", default="deconv", choices=["deconv", "nearest"],
                    help="2x upsampling in the top-down path (nearest runs faster in OpenCV)")
    ap.add_argument("--teacher", default="", help="state_dict of a PlateNet to distil from (see --teacher-upsample): its "
                    "heat map becomes a second target beside the labels")
    ap.add_argument("--teacher-upsample", default="deconv", choices=["deconv", "nearest"],
                    help="the teacher's upsampling (the shipped stage 8 weights are nearest)")
    ap.add_argument("--teacher-arch", default="platenet", choices=["platenet", "narrow"],
                    help="the teacher's architecture (narrow: version 4 on, the shipped network)")
    ap.add_argument("--mirror-teacher", action="store_true",
                    help="the teacher's target at each cell is the lower of its heat on the crop and on the crop "
                         "mirrored left to right (mirrored back), raised to the labels: the mirrored pass "
                         "(--network mirror) distilled into a single pass")
    ap.add_argument("--zoom", action="store_true",
                    help="magnify three tenths of the real frames 1.5-3x, cars as close as a car-park camera's")
    ap.add_argument("--arch", default="platenet", choices=["platenet", "fast", "patch", "slim", "narrow", "lean"],
                    help="platenet; fast: patch stem and stride-8 head (model.FastNet); patch: PlateNet "
                         "with that patch stem; lean: PlateNet's stem with FastNet's body and head; slim, "
                         "narrow: PlateNet with fewer channels (start them from "
                         "prune.py's output); for fast, patch and lean, with --init "
                         "from a PlateNet, the layers both share are loaded and the rest learnt")
    ap.add_argument("--stem-steps", type=int, default=0,
                    help="with --arch fast, patch or lean and --teacher: first train the stem alone for this many "
                         "steps to reproduce the teacher's stride-4 features")
    ap.add_argument("--distill", type=float, default=5.0, help="weight of the teacher's target")
    ap.add_argument("--name", default="platenet", help="the model's name in its manifest (records show it)")
    ap.add_argument("--skip-train", action="store_true", help="only validate/export --init")
    ap.add_argument("--mirror", action="store_true",
                    help="let the selection also try the mirrored pass (models/mirror; about 20 more minutes)")
    ap.add_argument("--synthetic-only", action="store_true",
                    help="pre-training without the ro- frames (procedural backgrounds only), e.g. on a "
                         "GPU machine that has no copy of the dataset; implies --no-val")
    ap.add_argument("--no-val", action="store_true", help="train + save weights only (validate later "
                    "with --skip-train --init OUT/platenet.pt)")
    args = ap.parse_args()
    if args.mirror_teacher and not args.teacher:
        sys.exit("--mirror-teacher needs --teacher")
    if args.mirror:
        evaluate.MIRRORS = [False, True]

    dev = torch.device("cuda" if (args.device == "auto" and torch.cuda.is_available()) else
                       ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log("torch", torch.__version__, "device", dev, "workers", args.workers)

    if args.synthetic_only:
        args.no_val = True
        labels, train_names, val_names, bgs, val_imgs = {}, [], [], [], []
    else:
        img_dir, labels, train_names, val_names = data.ro_split(args.shared)
        log("ro- train images", len(train_names), "val images", len(val_names))
        bgs = data.load_images(img_dir, train_names, labels)
        val_imgs = data.load_images(img_dir, val_names, labels)

    net = build(args.arch, args.upsample).to(dev)
    if args.init:
        state = torch.load(args.init, map_location="cpu")
        partial = args.arch in ("fast", "patch", "lean")
        if partial:  # from a PlateNet or a FastNet, whose stem or head differ: take what has the same shape
            own = net.state_dict()
            state = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            log("--init: loaded", len(state), "of", len(own), "tensors; new:",
                sorted({k.split(".")[0] for k in own if k not in state}))
        missing, unexpected = net.load_state_dict(state, strict=False)
        if not partial and (missing or any(not k.startswith(("up32.", "up16.", "up8."))
                                            for k in unexpected)):
            sys.exit("--init %s does not fit: missing %s, unexpected %s" % (args.init, missing, unexpected))
    teacher = None
    if args.teacher:
        teacher = build(args.teacher_arch, args.teacher_upsample).to(dev).eval()
        teacher.load_state_dict(torch.load(args.teacher, map_location="cpu"))
        for p in teacher.parameters():
            p.requires_grad_(False)
    log("parameters", sum(p.numel() for p in net.parameters()))
    t0 = time.time()
    step = 0
    epochs_done = 0
    if not args.skip_train:
        epoch_len = args.batch * 100
        ds = data.TrainSet(bgs, epoch_len, args.seed, args.crop, args.max_side, args.hard_negatives,
                           args.decoys, args.colour, args.surfaces, args.lettering, args.fences, args.fronts,
                           args.tight_glow, args.zoom)
        if args.stem_steps:
            if args.arch not in ("fast", "patch", "lean") or teacher is None:
                sys.exit("--stem-steps needs --arch fast, patch or lean, and --teacher")
            distill_stem(net, teacher, ds, args, dev)
        opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
        if args.time_budget:
            budget = args.time_budget * 60
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: one_cycle((time.time() - t0) / budget))
        else:
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps,
                                                        pct_start=0.05, final_div_factor=100)
        use_amp = dev.type == "cuda"
        g = torch.Generator()
        g.manual_seed(args.seed)
        stop = False
        while step < args.steps and not stop:
            ds.epoch = epochs_done
            dl = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, generator=g,
                                             num_workers=args.workers, worker_init_fn=worker_init,
                                             drop_last=True, pin_memory=use_amp)
            set_train(net, args.freeze_bn)
            run = 0.0
            for x, t, w, d, tw in dl:
                x, t, w, d, tw = x.to(dev, non_blocking=True), t.to(dev), w.to(dev), d.to(dev), tw.to(dev)
                if use_amp:  # bf16 autocast on GPU only (torch 1.13 CPU builds lack it)
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        logits = net(x)
                else:
                    logits = net(x)
                loss = loss_fn(logits.float(), t, w, args.pos_weight)
                if teacher is not None:
                    with torch.no_grad():
                        soft = torch.sigmoid(teacher(x).float())
                        if args.mirror_teacher:
                            back = torch.sigmoid(teacher(x.flip(3)).float()).flip(3)
                            # a plate the mirrored look misses (small, blurred)
                            # is still a plate: the labels keep it
                            soft = torch.maximum(torch.minimum(soft, back), t)
                        soft = soft * (1 - d)
                        if args.fences:  # a teacher that misses a plate behind a fence must not teach the miss
                            soft = torch.maximum(soft, t)
                    kd = F.binary_cross_entropy_with_logits(logits.float(), soft, reduction="none")
                    kd = (kd.mean((1, 2, 3)) * tw).sum() / max(1.0, float(tw.sum()))
                    loss = loss + args.distill * kd
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                run = 0.9 * run + 0.1 * loss.item() if step > 1 else loss.item()
                if step % 50 == 0:
                    log("step %d/%d loss %.4f lr %.2e %.1f s" % (step, args.steps, run,
                                                                 sched.get_last_lr()[0], time.time() - t0))
                if step >= args.steps:
                    break
                if args.stop_after and step >= args.stop_after:
                    log("stopped after step", step)
                    stop = True
                    break
                if args.time_budget and time.time() - t0 >= args.time_budget * 60:
                    log("time budget spent at step", step)
                    stop = True
                    break
                if args.time_limit and time.time() - t0 > args.time_limit * 60:
                    log("time limit reached at step", step)
                    stop = True
                    break
            epochs_done += 1
            tmp = os.path.join(args.out, "platenet.pt.tmp")
            torch.save(net.state_dict(), tmp)
            os.replace(tmp, os.path.join(args.out, "platenet.pt"))
            log("epoch", epochs_done, "checkpoint saved")
    train_s = time.time() - t0
    net.eval()
    training = {
        "data": "ro- images of shared/datasets/plates-dev (MIT, RobertLucian/license-plate-dataset), "
                "train split = sha1(name) % 5 != 0, with procedurally rendered synthetic plates "
                "(EU, UK, RU, BR Mercosul, US, square two-line, dark) composited on them and on "
                "procedural backgrounds. oa- (AGPL) images never used.",
        "ro_train_images": len(train_names),
        "ro_train_plates": int(sum(len(labels.get(n, [])) for n in train_names)),
        "samples_seen": step * args.batch, "steps": step, "batch": args.batch, "crop": args.crop,
        "epochs": epochs_done, "epoch_samples": args.batch * 100, "seed": args.seed, "lr": args.lr,
        "device": str(dev), "torch": torch.__version__, "train_seconds": round(train_s),
        "arch": args.arch, "upsample": args.upsample, "decoys": args.decoys, "colour": args.colour,
        "surfaces": args.surfaces, "lettering": args.lettering, "fences": args.fences, "fronts": args.fronts,
        "tight_glow": args.tight_glow, "zoom": args.zoom, "mirror_teacher": args.mirror_teacher,
        "freeze_bn": args.freeze_bn,
        "teacher": args.teacher, "distill": args.distill if args.teacher else 0,
        "command": " ".join(["/usr/bin/python3 models/train/train.py --shared ../shared --out OUT",
                             "--synthetic-only" if args.synthetic_only else "",
                             "--arch %s --upsample %s" % (args.arch, args.upsample),
                             "--stem-steps %d" % args.stem_steps if args.stem_steps else "",
                             "--teacher %s --teacher-arch %s --teacher-upsample %s --distill %g%s" % (
                                 args.teacher, args.teacher_arch, args.teacher_upsample, args.distill,
                                 " --mirror-teacher" if args.mirror_teacher else "") if args.teacher else "",
                             "--hard-negatives" if args.hard_negatives else "",
                             "--decoys" if args.decoys else "",
                             "--colour" if args.colour else "",
                             "--surfaces" if args.surfaces else "",
                             "--lettering" if args.lettering else "",
                             "--fences" if args.fences else "",
                             "--fronts" if args.fronts else "",
                             "--tight-glow" if args.tight_glow else "",
                             "--zoom" if args.zoom else "",
                             "--freeze-bn" if args.freeze_bn else "",
                             "--init %s" % args.init if args.init else "",
                             "--steps %d --batch %d --lr %g --seed %d --max-side %d --crop %d" % (
                                 args.steps, args.batch, args.lr, args.seed, args.max_side, args.crop),
                             "--stop-after %d" % args.stop_after if args.stop_after else "",
                             "--time-budget %g" % args.time_budget if args.time_budget else ""]),
    }
    side = os.path.join(os.path.dirname(args.init), "platenet_train.json") if args.init else ""
    if args.skip_train and side and os.path.exists(side):
        training = json.load(open(side))
    else:
        if side and os.path.exists(side):  # record the stage this run started from
            training["initialised_from"] = json.load(open(side))
        with open(os.path.join(args.out, "platenet_train.json"), "w") as f:
            json.dump(training, f, indent=2)
    if args.no_val:
        log("--no-val: weights in", os.path.join(args.out, "platenet.pt"))
        return

    # ---- validation on ro- validation frames + synthetic validation images
    syn_val = data.synthetic_val(np.random.default_rng([args.seed, 999]), val_imgs, args.syn_val)
    best, rows = validate_and_choose(net, dev, val_imgs, syn_val, args.max_side, args.min_recall,
                                     args.min_syn_recall, max(1, args.workers))
    log("chosen", best)
    with open(os.path.join(args.out, "platenet_val_grid.json"), "w") as f:
        json.dump(rows, f)

    # ---- export (atomically: write temp names, then rename onnx + json)
    net_cpu = net.cpu().float()
    tmp_onnx = os.path.join(args.out, "platenet.onnx.tmp")
    export_onnx(net_cpu, tmp_onnx)
    sha = hashlib.sha256(open(tmp_onnx, "rb").read()).hexdigest()
    n_syn_plates = int(sum(len(lb) for _, _, lb in syn_val))
    manifest = {
        "name": args.name, "version": "1", "file": "platenet.onnx", "sha256": sha, "opset": 11,
        "input": {"name": "input", "max_side": args.max_side, "multiple": 32,
                  "scale": 1.0 / 255.0, "channel_order": "BGR", "resize": "bilinear, longer side -> max_side, never upscaled",
                  "pad": "zeros right/bottom"},
        "output": {"name": "heatmap", "stride": 4},
        "architecture": {"name": args.arch, "upsample": args.upsample},
        "threshold": best["threshold"], "split_step": best["split_step"], "core": best["core"], "grow": best["grow"],
        "parts": best["parts"], "min_peak": best["min_peak"], "mirror": best["mirror"],
        "margin": best["margin"], "margin_px": best["margin_px"],
        "training": training,
        "validation": {
            "coverage_required": evaluate.COVER,
            "ro_val": {"images": len(val_names), "plates": int(sum(len(labels.get(n, [])) for n in val_names)),
                       "recall": best["real_recall"], "mean_false_area_fraction": best["real_false"]},
            "synthetic_val": {"images": len(syn_val), "plates": n_syn_plates,
                              "recall": best["syn_recall"], "mean_false_area_fraction": best["syn_false"]},
            "selection": "threshold/split_step/core/grow/parts/min_peak/mirror/margin/margin_px: least false area on ro- validation (real photos) plus half that on synthetic validation, among "
                         "settings with recall >= %.3f there and >= %.3f on synthetic validation (which "
                         "includes plates under 12 px)" % (args.min_recall, args.min_syn_recall),
        },
        "licence note": "Weights trained by the platemask project on MIT-licensed ro- images and synthetic "
                        "data only; no AGPL (oa-) data and no third-party weights were used.",
    }
    manifest["validation"]["blocks_probe"] = {
        "what": "plain blocks without plates drawn over ro- validation frames and procedural backgrounds "
                "(models/train/probes.py): area redacted away from plates and recall, per block width",
        "rows": probes.blocks(tmp_onnx, manifest, args.shared)}
    manifest["validation"]["colour_probe"] = {
        "what": "the ro- validation frames as they are, desaturated, grey and grey-world balanced "
                "(models/train/probes.py): area redacted away from plates and recall",
        "rows": probes.colour(tmp_onnx, manifest, args.shared)}
    manifest["validation"]["surfaces_probe"] = {
        "what": "tiled floors and railings, or words and badges, without plates drawn over ro- validation "
                "frames and procedural backgrounds (models/train/probes.py): area redacted away from plates "
                "and recall",
        "rows": probes.surfaces(tmp_onnx, manifest, args.shared)}
    manifest["validation"]["fence_probe"] = {
        "what": "the ro- validation frames as they are and seen through a chain-link fence, clear and hazy "
                "(models/train/probes.py): area redacted away from plates and recall",
        "rows": probes.fences(tmp_onnx, manifest, args.shared)}
    tmp_json = os.path.join(args.out, "platenet.json.tmp")
    with open(tmp_json, "w") as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp_onnx, os.path.join(args.out, "platenet.onnx"))
    os.replace(tmp_json, os.path.join(args.out, "platenet.json"))
    log("wrote", os.path.join(args.out, "platenet.onnx"), sha)


if __name__ == "__main__":
    main()
