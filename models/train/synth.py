"""Synthetic licence plates: renderer + compositor.

Everything is drawn procedurally with OpenCV (Hershey fonts are always
available) and, where present, TrueType fonts (DejaVu) through PIL, so the
generator needs no external assets.  All randomness comes from the
numpy Generator passed in, so a seed reproduces the same samples.

Formats rendered (aspect = width/height of the plate):
  eu      EU long plate, white or yellow, blue strip with country code  (~4.7)
  uk      UK plate, white (front) / yellow (rear), optional strip        (~4.7)
  ru      Russian plate, black frame, region box with flag on the right  (~4.6)
  br      Brazil Mercosul: blue band with "BRASIL" on top                (~3.1)
  us      US plate: coloured background, state name, coloured text       (~2.0)
  square  two-line square plates (EU/Asia motorbike & rear plates)        (~1.1-1.6)
  dark    dark background with light text (various countries)            (2-5)
"""
import glob
import os

import cv2
import numpy as np

try:
    from PIL import Image, ImageDraw, ImageFont
    _TTF = sorted(f for f in glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf")
                  if "Bold" in f or "Condensed" in f)
except Exception:  # PIL missing: Hershey fonts only
    _TTF = []

HERSHEY = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
           cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN]
LET = "ABCDEFGHIJKLMNOPRSTUVWXYZ"
DIG = "0123456789"
STATES = ["CALIFORNIA", "TEXAS", "NEW YORK", "FLORIDA", "OHIO", "ILLINOIS", "GEORGIA",
          "ARIZONA", "NEVADA", "OREGON", "VIRGINIA", "MICHIGAN", "NEW JERSEY", "COLORADO"]
COUNTRIES = ["D", "F", "I", "E", "NL", "B", "PL", "RO", "CZ", "A", "S", "P", "GB", "H", "SK", "BG", "LT"]


def _rand_code(rng, pattern):
    """pattern: L = letter, D = digit, anything else literal."""
    return "".join(LET[rng.integers(len(LET))] if c == "L" else
                   DIG[rng.integers(10)] if c == "D" else c for c in pattern)


def _text_mask(rng, text, font_pick=None):
    """Render `text` as a tight uint8 mask (255 = ink) using a random font."""
    nf = len(HERSHEY) + len(_TTF)
    k = rng.integers(nf) if font_pick is None else font_pick
    if k < len(HERSHEY):
        font = HERSHEY[k]
        th = int(rng.integers(3, 7))
        (tw, tht), base = cv2.getTextSize(text, font, 3.0, th)
        m = np.zeros((tht + base + 20, tw + 20), np.uint8)
        cv2.putText(m, text, (10, tht + 10), font, 3.0, 255, th, cv2.LINE_AA)
    else:
        f = ImageFont.truetype(_TTF[k - len(HERSHEY)], 96)
        bb = f.getbbox(text) if hasattr(f, "getbbox") else (0, 0) + f.getsize(text)
        im = Image.new("L", (bb[2] + 20, bb[3] + 20), 0)
        ImageDraw.Draw(im).text((10, 10), text, fill=255, font=f)
        m = np.asarray(im)
    ys, xs = np.nonzero(m > 40)
    if len(xs) == 0:
        return np.zeros((10, 10), np.uint8)
    return m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _put_text(rng, img, text, box, color, fill_w=True):
    """Draw text fitted into box=(x0,y0,x1,y1) of img with colour `color`."""
    x0, y0, x1, y1 = [int(round(v)) for v in box]
    bw, bh = max(x1 - x0, 2), max(y1 - y0, 2)
    m = _text_mask(rng, text)
    mh, mw = m.shape
    # scale to box height, then squeeze/stretch horizontally to (mostly) fill the width
    tw = mw * bh / mh
    if fill_w or tw > bw:
        tw = bw * rng.uniform(0.85, 1.0) if (fill_w or tw > bw) else tw
    tw = int(max(2, min(bw, tw)))
    m = cv2.resize(m, (tw, bh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    ox = x0 + (bw - tw) // 2
    roi = img[y0:y0 + bh, ox:ox + tw]
    a = m[:roi.shape[0], :roi.shape[1], None]
    roi[:] = (roi * (1 - a) + np.array(color, np.float32) * a).astype(img.dtype)


def _jit(rng, col, s=20):
    return tuple(int(np.clip(c + rng.integers(-s, s + 1), 0, 255)) for c in col)


def render_plate(rng, H=110):
    """Return (BGR uint8 plate image, kind)."""
    kind = rng.choice(["eu", "eu", "uk", "ru", "br", "us", "us", "square", "dark"])
    white = _jit(rng, (235, 235, 235), 20)
    yellow = _jit(rng, (20, 200, 245), 25)
    black = _jit(rng, (25, 25, 25), 20)
    blue = _jit(rng, (160, 60, 10), 30)
    if kind in ("eu", "uk", "ru"):
        W = int(H * rng.uniform(4.3, 5.0))
        bg = yellow if (kind != "ru" and rng.random() < 0.3) else white
        img = np.full((H, W, 3), bg, np.uint8)
        x0 = 0
        if kind == "eu" or (kind == "uk" and rng.random() < 0.5):
            sw = int(H * 0.42)
            img[:, :sw] = blue
            # ring of stars (little yellow dots) and country code
            for a in np.linspace(0, 2 * np.pi, 12, endpoint=False):
                cv2.circle(img, (sw // 2 + int(H * 0.12 * np.cos(a)), int(H * 0.3 + H * 0.12 * np.sin(a))),
                           max(1, H // 50), (0, 210, 250), -1)
            cc = COUNTRIES[rng.integers(len(COUNTRIES))]
            _put_text(rng, img, cc, (sw * 0.15, H * 0.58, sw * 0.85, H * 0.88), (255, 255, 255), fill_w=False)
            x0 = sw
        pat = {"eu": ["LL DDD LL", "L LL DDD", "LL-LL DDD", "DD LLL DD", "LLL DDDD", "LL DDDD LL"],
               "uk": ["LLDD LLL"], "ru": ["LDDDLL"]}[kind]
        code = _rand_code(rng, pat[rng.integers(len(pat))])
        x1 = W
        if kind == "ru":
            rx = int(W * 0.76)
            cv2.line(img, (rx, 0), (rx, H), black, max(2, H // 30))
            _put_text(rng, img, _rand_code(rng, "DD" if rng.random() < 0.6 else "DDD"),
                      (rx + W * 0.03, H * 0.1, W * 0.97, H * 0.6), black)
            fy = int(H * 0.7)
            for i, c in enumerate([(255, 255, 255), (200, 50, 0), (0, 0, 220)]):
                img[fy + i * H // 14: fy + (i + 1) * H // 14, int(W * 0.9):int(W * 0.97)] = c
            x1 = rx
        _put_text(rng, img, code, (x0 + H * 0.12, H * 0.15, x1 - H * 0.12, H * 0.85), black)
    elif kind == "br":
        W = int(H * rng.uniform(2.9, 3.2))
        img = np.full((H, W, 3), white, np.uint8)
        bh = int(H * 0.24)
        img[:bh] = blue
        _put_text(rng, img, "BRASIL", (W * 0.35, bh * 0.2, W * 0.65, bh * 0.85), (255, 255, 255), fill_w=False)
        _put_text(rng, img, _rand_code(rng, "LLLDLDD" if rng.random() < 0.7 else "LLL-DDDD"),
                  (H * 0.12, bh + H * 0.1, W - H * 0.12, H * 0.92), black)
    elif kind == "us":
        W = int(H * rng.uniform(1.8, 2.1))
        bgs = [(240, 240, 240), (235, 225, 200), (200, 235, 250), (245, 220, 180), (200, 240, 220)]
        bg = _jit(rng, bgs[rng.integers(len(bgs))], 15)
        img = np.full((H, W, 3), bg, np.uint8)
        if rng.random() < 0.5:  # vertical gradient / scenic background
            g = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.1), H)[:, None, None]
            img = np.clip(img * g, 0, 255).astype(np.uint8)
        txt = [(140, 30, 10), (20, 20, 160), (30, 30, 30), (40, 110, 20), (130, 20, 120)]
        tc = _jit(rng, txt[rng.integers(len(txt))], 20)
        _put_text(rng, img, STATES[rng.integers(len(STATES))],
                  (W * 0.2, H * 0.05, W * 0.8, H * 0.22), _jit(rng, txt[rng.integers(len(txt))]), fill_w=False)
        pat = ["DLLLDDD", "LLL DDDD", "DLLDDD", "LLL-DDD", "DDD LLL"]
        _put_text(rng, img, _rand_code(rng, pat[rng.integers(len(pat))]),
                  (W * 0.07, H * 0.27, W * 0.93, H * 0.8), tc)
        if rng.random() < 0.5:
            _put_text(rng, img, "DMV.ORG" if rng.random() < 0.5 else "SUNSHINE STATE",
                      (W * 0.25, H * 0.84, W * 0.75, H * 0.96), tc, fill_w=False)
        if rng.random() < 0.4:  # dealer frame
            fc = _jit(rng, (30, 30, 30) if rng.random() < 0.6 else (180, 180, 180), 20)
            t = max(2, int(H * rng.uniform(0.04, 0.1)))
            cv2.rectangle(img, (0, 0), (W - 1, H - 1), fc, t)
    elif kind == "square":
        W = int(H * rng.uniform(1.1, 1.6))
        bg = yellow if rng.random() < 0.3 else white
        img = np.full((H, W, 3), bg, np.uint8)
        _put_text(rng, img, _rand_code(rng, ["LL", "LLL", "DD", "LDD"][rng.integers(4)]),
                  (W * 0.1, H * 0.08, W * 0.9, H * 0.46), black)
        _put_text(rng, img, _rand_code(rng, ["DDDD", "DDD LL", "LDDD", "DDDDD"][rng.integers(4)]),
                  (W * 0.08, H * 0.54, W * 0.92, H * 0.92), black)
    else:  # dark plates with light text
        W = int(H * rng.uniform(2.0, 5.0))
        darks = [(20, 20, 20), (90, 40, 20), (30, 90, 30), (20, 20, 130), (60, 60, 60)]
        img = np.full((H, W, 3), _jit(rng, darks[rng.integers(len(darks))], 15), np.uint8)
        tc = _jit(rng, (230, 230, 230) if rng.random() < 0.7 else (40, 210, 240), 20)
        _put_text(rng, img, _rand_code(rng, ["LL DDDD", "DDD LLL", "LLDDDD", "L DDDDD"][rng.integers(4)]),
                  (H * 0.12, H * 0.15, W - H * 0.12, H * 0.85), tc)
    # border and screws
    if rng.random() < 0.7:
        t = max(1, int(H * rng.uniform(0.02, 0.06)))
        cv2.rectangle(img, (t // 2, t // 2), (img.shape[1] - 1 - t // 2, H - 1 - t // 2),
                      black if kind != "dark" else _jit(rng, (200, 200, 200)), t)
    if rng.random() < 0.3:
        for sx in (0.2, 0.8):
            cv2.circle(img, (int(img.shape[1] * sx), int(H * 0.12)), max(1, H // 25), (120, 120, 120), -1)
    # wear / dirt: a low-frequency multiplicative pattern
    if rng.random() < 0.5:
        n = cv2.resize(rng.uniform(0.75, 1.05, (4, 8)).astype(np.float32), (img.shape[1], H))
        img = np.clip(img * n[:, :, None], 0, 255).astype(np.uint8)
    return img, kind


def paste_plate(rng, scene, h_px, cx, cy, car_context=True, keep=(), painted=None):
    """Composite a random plate of height ~h_px centred at (cx, cy) into scene
    (in place).  Returns the axis-aligned box (x, y, w, h) of the visible plate
    or None if it fell outside the image.

    keep: boxes (x, y, w, h) of plates already in the scene. The car-body
    block drawn around a plate is left out where it would paint over one:
    a label over a plain painted block teaches that flat panels are plates
    (the random draws are made either way).

    painted, a list, gets the box (x0, y0, x1, y1) of a car-body block
    drawn: it is car, not plate, wherever the plate is not."""
    Hs, Ws = scene.shape[:2]
    plate, _ = render_plate(rng, H=int(np.clip(h_px * 1.3, 40, 160)))
    ph, pw = plate.shape[:2]
    aspect = pw / ph
    h = h_px
    w = h * aspect * rng.uniform(0.85, 1.1)
    # perspective quad: roll, yaw (one side shorter), pitch (top narrower), shear
    roll = np.deg2rad(np.clip(rng.normal(0, 5), -18, 18))
    yaw = rng.uniform(0.75, 1.0) if rng.random() < 0.5 else 1.0
    pitch = rng.uniform(0.85, 1.0) if rng.random() < 0.3 else 1.0
    if rng.random() < 0.3:
        w *= rng.uniform(0.55, 1.0)  # seen at an angle: horizontally foreshortened
    hl, hr = (h, h * yaw) if rng.random() < 0.5 else (h * yaw, h)
    pts = np.array([[-w / 2 * pitch, -hl / 2], [w / 2 * pitch, -hr / 2], [w / 2, hr / 2], [-w / 2, hl / 2]])
    shear = rng.normal(0, 0.08)
    pts[:, 0] += shear * pts[:, 1]
    R = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    pts = pts @ R.T + np.array([cx, cy])
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    if x1 <= 0 or y1 <= 0 or x0 >= Ws or y0 >= Hs:
        return None
    # optional car context: bumper / car body block around the plate
    if car_context and rng.random() < 0.35:
        bw, bh = (x1 - x0) * rng.uniform(1.6, 4.0), (y1 - y0) * rng.uniform(2.0, 6.0)
        bx0, by0 = int(cx - bw / 2), int(cy - bh * rng.uniform(0.3, 0.7))
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        recess = rng.random() < 0.5  # darker recess around plate
        if not any(_overlaps((bx0, by0, bw, bh), b) for b in keep):
            cv2.rectangle(scene, (bx0, by0), (int(bx0 + bw), int(by0 + bh)), col, -1)
            if painted is not None:
                painted.append((bx0, by0, int(bx0 + bw), int(by0 + bh)))
            if recess:
                pad = int((y1 - y0) * 0.3)
                cv2.rectangle(scene, (x0 - pad, y0 - pad), (x1 + pad, y1 + pad),
                              tuple(int(c * 0.5) for c in col), -1)
    # warp the plate (and its alpha) into the bounding ROI
    rx0, ry0 = max(x0 - 2, 0), max(y0 - 2, 0)
    rx1, ry1 = min(x1 + 2, Ws), min(y1 + 2, Hs)
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    M = cv2.getPerspectiveTransform(src, np.float32(pts - [rx0, ry0]))
    size = (rx1 - rx0, ry1 - ry0)
    # pre-shrink big renders for antialiasing when the target is small
    warped = cv2.warpPerspective(plate, M, size, flags=cv2.INTER_AREA if h < ph / 2 else cv2.INTER_LINEAR)
    if h < ph / 3:  # warpPerspective does not antialias: blur to mimic optics
        k = 3
        warped = cv2.GaussianBlur(warped, (k, k), 0)
    alpha = cv2.warpPerspective(np.ones((ph, pw), np.float32), M, size, flags=cv2.INTER_LINEAR)[:, :, None]
    roi = scene[ry0:ry1, rx0:rx1].astype(np.float32)
    # local lighting: plate picks up the scene's brightness (dark scenes -> dim or, at night,
    # retro-reflective bright plates)
    gain = rng.uniform(0.5, 1.15)
    if roi.mean() < 60 and rng.random() < 0.5:
        gain = rng.uniform(0.15, 0.5)
    pl = warped.astype(np.float32) * gain + rng.normal(0, 4, 3)
    if rng.random() < 0.15:  # glare across the plate
        gx = rng.uniform(0, size[0])
        xx = np.arange(size[0])[None, :, None]
        pl = pl + 255 * rng.uniform(0.3, 0.9) * np.exp(-((xx - gx) / (0.2 * size[0] + 1)) ** 2)
    scene[ry0:ry1, rx0:rx1] = np.clip(roi * (1 - alpha) + pl * alpha, 0, 255).astype(np.uint8)
    bx0, by0 = max(x0, 0), max(y0, 0)
    bx1, by1 = min(x1, Ws), min(y1, Hs)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    return (bx0, by0, bx1 - bx0, by1 - by0)


def _overlaps(a, b):
    """Whether boxes (x, y, w, h) a and b share any pixel."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _near_any(boxes, x0, y0, x1, y1):
    """Whether any box (x, y, w, h) comes within 4 pixels of the rectangle
    x0..x1, y0..y1: a decoy drawn there would cover a plate."""
    return any(_overlaps((x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8), b) for b in boxes)


def _gauss(rng, shape, sigma):
    """Fast Gaussian noise (float32) seeded from rng: OpenCV's RNG is much
    faster than numpy's for image-sized arrays."""
    cv2.setRNGSeed(int(rng.integers(2 ** 31 - 1)))
    a = np.empty(shape, np.float32)
    cv2.randn(a, 0.0, float(sigma))
    return a


def procedural_background(rng, H, W):
    """Road/car-park-like background: gradient + random blocks, lines, texture."""
    top = rng.integers(0, 256, 3).astype(np.float32)
    bot = rng.integers(0, 256, 3).astype(np.float32)
    t = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    img = (top * (1 - t) + bot * t) * np.ones((1, W, 1), np.float32)
    img = img.astype(np.uint8)
    for _ in range(int(rng.integers(5, 40))):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        r = rng.random()
        if r < 0.4:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(5, W // 3)), y + int(rng.integers(5, H // 3))), c, -1)
        elif r < 0.7:
            cv2.line(img, (x, y), (int(rng.integers(0, W)), int(rng.integers(0, H))), c, int(rng.integers(1, 8)))
        elif r < 0.85:
            cv2.circle(img, (x, y), int(rng.integers(3, max(4, min(H, W) // 6))), c, -1)
        else:  # distractor text (signs, stickers): not a plate
            s = "".join(rng.choice(list(LET + DIG + "  "), int(rng.integers(3, 12))))
            cv2.putText(img, s, (x, y), HERSHEY[rng.integers(len(HERSHEY))], rng.uniform(0.4, 2.5), c,
                        int(rng.integers(1, 4)))
    noise = cv2.resize(_gauss(rng, (max(2, H // 16), max(2, W // 16), 3), 25), (W, H))
    img = cv2.add(img, noise + _gauss(rng, (H, W, 3), 6), dtype=cv2.CV_8U)
    return img


def hard_textures(rng, img):
    """Close-range surface detail that is not a plate: cracked asphalt,
    grooved concrete, grass blades, paving joints. Real fixed cameras see
    these sharp and large, unlike the blurred dashcam frames."""
    H, W = img.shape[:2]
    out = img.copy()
    kind = rng.random()
    if kind < 0.35:  # cracks: random-walk polylines, thin and dark
        for _ in range(int(rng.integers(3, 25))):
            x, y = rng.uniform(0, W), rng.uniform(0, H)
            ang = rng.uniform(0, 2 * np.pi)
            pts = []
            for _s in range(int(rng.integers(5, 40))):
                pts.append((int(x), int(y)))
                ang += rng.normal(0, 0.6)
                step = rng.uniform(2, 12)
                x, y = x + step * np.cos(ang), y + step * np.sin(ang)
            shade = int(rng.integers(0, 90))
            cv2.polylines(out, [np.array(pts, np.int32)], False, (shade, shade, shade), int(rng.integers(1, 3)))
    elif kind < 0.6:  # grooves or joints: parallel lines, slightly irregular
        gap = rng.uniform(3, 20)
        ang = rng.uniform(-0.4, 0.4) + (np.pi / 2 if rng.random() < 0.5 else 0)
        d = np.array([np.cos(ang), np.sin(ang)])
        n = np.array([-d[1], d[0]])
        delta = int(rng.integers(-50, 50))
        for k in range(int(-max(H, W) / gap), int(2 * max(H, W) / gap)):
            c = n * k * gap + rng.normal(0, gap * 0.1, 2)
            p0, p1 = c - d * 2 * max(H, W), c + d * 2 * max(H, W)
            col = tuple(int(np.clip(v + delta, 0, 255)) for v in out[int(np.clip(c[1], 0, H - 1)), int(np.clip(c[0], 0, W - 1))])
            cv2.line(out, tuple(int(v) for v in p0), tuple(int(v) for v in p1), col, int(rng.integers(1, 3)))
    elif kind < 0.8:  # grass: many short strokes in greens and browns
        for _ in range(int(rng.integers(200, 1500))):
            x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
            g = (int(rng.integers(10, 80)), int(rng.integers(60, 200)), int(rng.integers(20, 120)))
            cv2.line(out, (x, y), (x + int(rng.integers(-3, 4)), y - int(rng.integers(2, 10))), g, 1)
    else:  # coarse aggregate: speckle at several scales
        for sc in (1, 2, 4):
            h, w = max(2, H // sc), max(2, W // sc)
            sp = cv2.resize(_gauss(rng, (h, w, 1), rng.uniform(8, 30)), (W, H), interpolation=cv2.INTER_NEAREST)
            out = cv2.add(out, np.repeat(sp[:, :, None] if sp.ndim == 2 else sp, 3, axis=2), dtype=cv2.CV_8U)
    a = rng.uniform(0.4, 1.0)  # blend, so texture strength varies
    return cv2.addWeighted(out, a, img, 1 - a, 0)


def decoy_body(rng, img, avoid):
    """Draw a car-body-like block with no plate (in place) and return its
    mask, or None when it would cover a box in avoid. Training plates come
    with such blocks around them ("car context"), and a network that sees
    no block without a plate learns that a large flat panel means a plate:
    in close-ups, where a body fills the frame, it glows over all of it.
    Blocks from a tenth of the frame to wider than it, shaded, with the
    parts a body has (recess, window, lights, grille) but never a plate."""
    H, W = img.shape[:2]
    bw = W * float(np.exp(rng.uniform(np.log(0.1), np.log(1.3))))
    bh = bw * rng.uniform(0.3, 0.9)
    x0 = rng.uniform(-0.3 * bw, W - 0.7 * bw)
    y0 = rng.uniform(-0.3 * bh, H - 0.7 * bh)
    x1, y1 = x0 + bw, y0 + bh
    if _near_any(avoid, x0, y0, x1, y1):
        return None
    mask = np.zeros((H, W), np.uint8)
    X0, Y0, X1, Y1 = int(x0), int(y0), int(x1), int(y1)
    if rng.random() < 0.5:
        cv2.rectangle(mask, (X0, Y0), (X1, Y1), 1, -1)
    else:  # rounded body
        cv2.ellipse(mask, ((X0 + X1) // 2, (Y0 + Y1) // 2), (max(1, (X1 - X0) // 2), max(1, (Y1 - Y0) // 2)),
                    0, 0, 360, 1, -1)
        cv2.rectangle(mask, (X0, (Y0 + Y1) // 2), (X1, Y1), 1, -1)
    col = rng.integers(0, 256, 3).astype(np.float32)
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    shade = col * (rng.uniform(0.6, 1.0) + rng.uniform(0.0, 0.5) * (1 - yy))  # lit from above
    body = np.clip(shade * np.ones((1, W, 1), np.float32) + _gauss(rng, (H, W, 3), rng.uniform(1, 8)), 0, 255)
    body = body.astype(np.uint8)
    bwi, bhi = max(1, X1 - X0), max(1, Y1 - Y0)
    dark = tuple(int(c * rng.uniform(0.2, 0.6)) for c in col)
    if rng.random() < 0.5:  # window or windscreen band
        cv2.rectangle(body, (X0 + bwi // 8, Y0 + bhi // 12), (X1 - bwi // 8, Y0 + bhi // 3), (30, 35, 40), -1)
    if rng.random() < 0.5:  # empty recess where a plate could sit
        cx, cy = int(rng.uniform(X0, X1)), int(rng.uniform(Y0 + bhi / 2, Y1))
        rw, rh = int(bwi * rng.uniform(0.15, 0.4)), int(bhi * rng.uniform(0.05, 0.15))
        cv2.rectangle(body, (cx - rw, cy - rh), (cx + rw, cy + rh), dark, -1)
    if rng.random() < 0.5:  # lights
        ly = int(Y0 + bhi * rng.uniform(0.35, 0.6))
        r = (max(2, bwi // 12), max(2, bhi // 14))
        lc = tuple(int(v) for v in rng.integers(120, 256, 3))
        for lx in (X0 + bwi // 7, X1 - bwi // 7):
            cv2.ellipse(body, (lx, ly), r, 0, 0, 360, lc, -1)
    if rng.random() < 0.4:  # grille bars
        gy0, gh = int(Y0 + bhi * 0.4), max(3, int(bhi * rng.uniform(0.1, 0.25)))
        gap = max(2, int(gh / rng.integers(3, 9)))
        for y in range(gy0, gy0 + gh, gap):
            cv2.line(body, (X0 + bwi // 4, y), (X1 - bwi // 4, y), dark, max(1, gap // 2))
    m3 = mask[:, :, None].astype(bool)
    np.copyto(img, body, where=m3)
    return mask


def _grille(rng, img, x0, y0, x1, y1, chrome, dark):
    """A grille in the box: horizontal or vertical slats, a mesh of cells
    or a diamond lattice, chrome on black or the reverse."""
    w, h = max(2, x1 - x0), max(2, y1 - y0)
    cv2.rectangle(img, (x0, y0), (x1, y1), dark, -1)
    kind = rng.integers(4)
    gap = max(3, int(min(w, h) / rng.uniform(3, 9)))
    t = max(1, int(gap * rng.uniform(0.25, 0.6)))
    if kind == 0:
        for y in range(y0 + gap // 2, y1, gap):
            cv2.line(img, (x0, y), (x1, y), chrome, t)
    elif kind == 1:
        gap = max(3, int(w / rng.uniform(8, 24)))
        for x in range(x0 + gap // 2, x1, gap):
            cv2.line(img, (x, y0), (x, y1), chrome, max(1, int(gap * rng.uniform(0.25, 0.6))))
    elif kind == 2:
        for y in range(y0, y1, gap):
            for x in range(x0 + (gap // 2 if (y - y0) // gap % 2 else 0), x1, gap):
                cv2.rectangle(img, (x, y), (x + gap - t, y + gap - t), chrome, t)
    else:
        for k in range(-h, w + h, gap):
            cv2.line(img, (x0 + k, y0), (x0 + k + h, y1), chrome, t)
            cv2.line(img, (x0 + k + h, y0), (x0 + k, y1), chrome, t)
    cv2.rectangle(img, (x0, y0), (x1, y1), chrome, max(1, t))


def _lamp(rng, img, cx, cy, rx, ry, rear):
    """A head or tail lamp: a lens with a bright reflector, projector
    rings, an LED strip or red segments."""
    rx, ry = max(2, rx), max(2, ry)
    lens = _jit(rng, (40, 40, 170), 30) if rear else _jit(rng, (200, 200, 200), 50)
    ang = rng.uniform(-15, 15)
    cv2.ellipse(img, (cx, cy), (rx, ry), ang, 0, 360, lens, -1, cv2.LINE_AA)
    cv2.ellipse(img, (cx, cy), (rx, ry), ang, 0, 360, _jit(rng, (60, 60, 60), 40), max(1, ry // 8), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 4))):
        r = max(1, int(ry * rng.uniform(0.2, 0.6)))
        px = int(cx + rng.uniform(-0.6, 0.6) * rx)
        cv2.circle(img, (px, cy), r, _jit(rng, (235, 235, 235), 20), -1, cv2.LINE_AA)
        cv2.circle(img, (px, cy), max(1, r // 2), _jit(rng, (90, 90, 90), 40), -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # LED strip or segments along the lamp
        y = int(cy + ry * rng.uniform(-0.7, 0.7))
        col = _jit(rng, (60, 60, 255), 20) if rear else _jit(rng, (250, 250, 250), 5)
        if rng.random() < 0.5:
            cv2.line(img, (cx - rx, y), (cx + rx, y), col, max(1, ry // 6), cv2.LINE_AA)
        else:
            n = int(rng.integers(3, 8))
            for k in range(n):
                sx = int(cx - rx + (k + 0.5) * 2 * rx / n)
                cv2.rectangle(img, (sx - rx // (2 * n), y - ry // 5), (sx + rx // (2 * n), y + ry // 5), col, -1)


def car_end_decoy(rng, img, avoid):
    """Draw the front or back of a car seen close up, with no plate (in
    place), and return (its mask, a plate's place on it as (cx, cy, width)),
    or None when it would cover a box in avoid. Fixed cameras at a barrier
    see a car end fill the frame: grille slats and meshes, lamps with
    reflectors and LED strips, badges, bumper vents, the dark band of a
    window. Dashcam frames show these only small, and a network that has
    seen a grille only around a plate glows over it and joins that glow to
    the plate's."""
    H, W = img.shape[:2]
    bw = W * float(np.exp(rng.uniform(np.log(0.45), np.log(1.6))))
    bh = bw * rng.uniform(0.45, 0.8)
    x0 = rng.uniform(min(-0.25 * bw, W - bw), max(-0.25 * bw, W - bw) + 0.25 * bw)
    y0 = rng.uniform(-0.35 * bh, max(-0.35 * bh, H - 0.8 * bh))
    x1, y1 = x0 + bw, y0 + bh
    if _near_any(avoid, x0, y0, x1, y1):
        return None
    X0, Y0, X1, Y1 = int(x0), int(y0), int(x1), int(y1)
    bwi, bhi = max(1, X1 - X0), max(1, Y1 - Y0)
    mask = np.zeros((H, W), np.uint8)
    rad = int(bwi * rng.uniform(0.05, 0.15))
    cv2.rectangle(mask, (X0 + rad, Y0), (X1 - rad, Y1), 1, -1)
    cv2.rectangle(mask, (X0, Y0 + rad), (X1, Y1), 1, -1)
    for cx in (X0 + rad, X1 - rad):
        cv2.circle(mask, (cx, Y0 + rad), rad, 1, -1)
    col = rng.integers(0, 256, 3).astype(np.float32)
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    shade = col * (rng.uniform(0.6, 1.0) + rng.uniform(0.0, 0.5) * (1 - yy))
    body = np.clip(shade * np.ones((1, W, 1), np.float32) + _gauss(rng, (H, W, 3), rng.uniform(1, 6)), 0, 255)
    body = body.astype(np.uint8)
    for _ in range(int(rng.integers(1, 4))):  # body creases and bumper edges
        y = int(Y0 + bhi * rng.uniform(0.35, 0.95))
        c = tuple(int(v * rng.uniform(0.3, 1.4)) for v in col)
        cv2.line(body, (X0, y), (X1, y), tuple(min(255, v) for v in c), int(rng.integers(1, 4)))
    rear = rng.random() < 0.4
    chrome, dark = _jit(rng, (200, 200, 200), 50), _jit(rng, (25, 25, 25), 20)
    if rng.random() < 0.3:
        chrome, dark = dark, chrome
    top = Y0 + bhi * rng.uniform(0.0, 0.1)
    if rng.random() < 0.6:  # window or windscreen
        wy1 = int(top + bhi * rng.uniform(0.15, 0.35))
        cv2.rectangle(body, (X0 + bwi // 10, int(top)), (X1 - bwi // 10, wy1), _jit(rng, (45, 45, 50), 25), -1)
        if rng.random() < 0.5:  # a wiper or a reflection across it
            cv2.line(body, (int(X0 + bwi * rng.uniform(0.2, 0.5)), wy1), (int(X0 + bwi * rng.uniform(0.4, 0.8)),
                     int(top)), _jit(rng, (120, 120, 120), 60), int(rng.integers(1, 5)))
        top = wy1
    ly = int(top + bhi * rng.uniform(0.05, 0.15))
    lrx, lry = int(bwi * rng.uniform(0.08, 0.16)), int(bhi * rng.uniform(0.05, 0.12))
    for lx in (X0 + int(bwi * 0.15), X1 - int(bwi * 0.15)):
        _lamp(rng, body, lx, ly, lrx, lry, rear)
    plate_y = ly + lry + bhi * rng.uniform(0.08, 0.2)
    if not rear or rng.random() < 0.3:  # grille between the lamps, above or below the plate
        gw = int(bwi * rng.uniform(0.25, 0.55))
        gh = int(bhi * rng.uniform(0.08, 0.22))
        gx, gy = (X0 + X1) // 2 - gw // 2, int(ly - gh * rng.uniform(0.2, 0.8))
        if rng.random() < 0.3:  # twin kidneys
            _grille(rng, body, gx, gy, gx + gw // 2 - 2, gy + gh, chrome, dark)
            _grille(rng, body, gx + gw // 2 + 2, gy, gx + gw, gy + gh, chrome, dark)
        else:
            _grille(rng, body, gx, gy, gx + gw, gy + gh, chrome, dark)
        plate_y = max(plate_y, gy + gh + bhi * 0.08)
        if rng.random() < 0.5:  # lower intake under the plate
            iw = int(bwi * rng.uniform(0.3, 0.7))
            iy = int(plate_y + bhi * rng.uniform(0.12, 0.2))
            _grille(rng, body, (X0 + X1) // 2 - iw // 2, iy, (X0 + X1) // 2 + iw // 2,
                    iy + int(bhi * rng.uniform(0.05, 0.12)), chrome, dark)
    if rng.random() < 0.7:  # badge: an emblem ring, or a model name
        bx, by = (X0 + X1) // 2 + int(rng.uniform(-0.3, 0.3) * bwi), int(ly + rng.uniform(-0.5, 0.5) * lry)
        r = max(2, int(bhi * rng.uniform(0.02, 0.06)))
        cv2.ellipse(body, (bx, by), (r, int(r * rng.uniform(0.6, 1.0))), 0, 0, 360, chrome, max(1, r // 4),
                    cv2.LINE_AA)
        if rng.random() < 0.5:
            th = max(6, int(r * rng.uniform(0.8, 1.6)))
            s = _rand_code(rng, "L" * int(rng.integers(2, 7)))
            cv2.putText(body, s, (bx + 2 * r, by + th // 2), HERSHEY[rng.integers(len(HERSHEY))], th / 22.0, chrome,
                        max(1, th // 10), cv2.LINE_AA)
    for fx in (X0 + int(bwi * 0.12), X1 - int(bwi * 0.12)):  # fog lamps or reflectors low on the bumper
        if rng.random() < 0.4:
            fy = int(Y0 + bhi * rng.uniform(0.75, 0.9))
            cv2.ellipse(body, (fx, fy), (max(2, bwi // 30), max(2, bhi // 40)), 0, 0, 360,
                        _jit(rng, (40, 40, 200) if rear else (220, 220, 220), 30), -1, cv2.LINE_AA)
    np.copyto(img, body, where=mask[:, :, None].astype(bool))
    return mask, ((X0 + X1) / 2 + rng.uniform(-0.05, 0.05) * bwi, plate_y, bwi * rng.uniform(0.18, 0.32))


def surface_decoy(rng, img, avoid):
    """Draw a regular man-made surface with no plate (in place) and return
    its mask, or None when it would cover a box in avoid: a tiled or
    chequered floor in perspective, or a railing of bars. Close-up car-park
    photos are full of them, sharp and high in contrast, and a network that
    has seen only dashcam roads glows over them."""
    H, W = img.shape[:2]
    floor = rng.random() < 0.5
    if floor:  # a band from some height down to the bottom
        y0 = rng.uniform(0.3, 0.8) * H
        x0, x1, y1 = 0.0, float(W), float(H)
    else:  # railing: a band across part of the width
        bw = W * rng.uniform(0.3, 1.0)
        bh = H * rng.uniform(0.1, 0.35)
        x0, y0 = rng.uniform(0, W - bw), rng.uniform(0, H - bh)
        x1, y1 = x0 + bw, y0 + bh
    if _near_any(avoid, x0, y0, x1, y1):
        return None
    X0, Y0, X1, Y1 = int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))
    bw, bh = max(1, X1 - X0), max(1, Y1 - Y0)
    a = np.array(rng.integers(0, 256, 3), np.float32)
    b = a * rng.uniform(0.1, 0.5) if rng.random() < 0.5 else np.array(rng.integers(0, 256, 3), np.float32)
    if floor:
        cell = int(rng.integers(8, 48))
        n = int(2.2 * W) // cell + 2
        yy, xx = np.mgrid[0:n * cell, 0:n * cell]
        if rng.random() < 0.6:  # chequers
            tile = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)
        else:  # tiles with grout lines
            g = max(1, cell // 8)
            tile = (((yy % cell) < g) | ((xx % cell) < g)).astype(np.float32)
        tex = (tile[:, :, None] * b + (1 - tile[:, :, None]) * a).astype(np.uint8)
        S = tex.shape[0]
        spread = rng.uniform(0.0, 0.45) * S  # the far edge narrower: a floor seen from above
        sh = min(S, S * bh / bw * rng.uniform(1.5, 3.0))  # foreshortened, not squashed flat
        src = np.float32([[spread, 0], [S - spread, 0], [S, sh], [0, sh]])
        skew = rng.uniform(-0.3, 0.3) * bw
        dst = np.float32([[X0 + skew, Y0], [X1 + skew, Y0], [X1 + 0.6 * bw, Y1], [X0 - 0.6 * bw, Y1]])
        surf = cv2.warpPerspective(tex, cv2.getPerspectiveTransform(src, dst), (W, H), flags=cv2.INTER_LINEAR)
    else:  # railing: vertical bars between rails
        surf = img.copy()
        gap = rng.uniform(4, 24)
        thick = max(1, int(gap * rng.uniform(0.15, 0.5)))
        col = tuple(int(v) for v in a)
        x = X0 + rng.uniform(0, gap)
        while x < X1:
            cv2.line(surf, (int(x), Y0), (int(x), Y1), col, thick)
            x += gap
        for yr in (Y0, Y1 - thick) if rng.random() < 0.7 else (Y0,):
            cv2.rectangle(surf, (X0, int(yr)), (X1, int(yr) + 2 * thick), col, -1)
    mask = np.zeros((H, W), np.uint8)
    if floor:
        mask[Y0:, :] = 1
    else:
        # only the bars and rails, not the scene seen through them
        mask[Y0:Y1, X0:X1] = np.any(surf[Y0:Y1, X0:X1] != img[Y0:Y1, X0:X1], axis=2)
        mask[Y0:Y1, X0:X1] = cv2.dilate(mask[Y0:Y1, X0:X1], np.ones((3, 3), np.uint8))
    np.copyto(img, surf, where=mask[:, :, None].astype(bool))
    return mask


def lettering_decoy(rng, img, avoid):
    """Draw a word with no plate behind it (in place) and return the mask of
    its box, or None when it would cover a box in avoid: a car's model name
    or badge in chrome, black or paint colour, straight on the body, now and
    then with an emblem ring beside it. Close-up photos of cars show such
    lettering near every plate, and a network that has seen characters only
    on plates glows over it. What tells the two apart is the plate itself:
    a flat rectangle, usually framed, behind the characters."""
    H, W = img.shape[:2]
    k = rng.integers(3)
    if k == 0:
        text = _rand_code(rng, "L" * int(rng.integers(3, 9)))
    elif k == 1:
        text = _rand_code(rng, ["DDDL", "D.D LLL", "LDDD", "DLLLLLL", "LL DDD"][rng.integers(5)])
    else:
        text = _rand_code(rng, "L" * int(rng.integers(2, 6))) + " " + _rand_code(rng, "L" * int(rng.integers(2, 6)))
    # letters from 12 px: smaller words look like small plates (the fast
    # network trained with words from 6 px lost small plates: 96 % recall on
    # the synthetic validation set where it had 98 %)
    th = float(np.exp(rng.uniform(np.log(12), np.log(72))))
    m = _text_mask(rng, text)
    tw = m.shape[1] * th / m.shape[0] * rng.uniform(0.8, 1.2)
    ring = rng.random() < 0.3
    bw = tw + (1.6 * th if ring else 0)
    if bw > W - 2 or th > H - 2:
        return None
    x0, y0 = rng.uniform(0, W - bw), rng.uniform(0, H - th)
    x1, y1 = x0 + bw, y0 + th
    if _near_any(avoid, x0, y0, x1, y1):
        return None
    kind = rng.integers(3)
    if kind == 0:  # chrome: bright, with a dark lower edge
        col, edge = _jit(rng, (215, 215, 215), 35), (40, 40, 40)
    elif kind == 1:
        col, edge = _jit(rng, (20, 20, 20), 20), None
    else:
        col, edge = tuple(int(v) for v in rng.integers(0, 256, 3)), None
    X0, Y0 = int(x0 + (1.6 * th if ring else 0)), int(y0)
    a = cv2.resize(m, (max(2, int(tw)), max(2, int(th))), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    a = a[:H - Y0, :W - X0, None]
    for dy, ink in ((max(1, int(th / 12)), edge), (0, col)):  # the edge first, a little lower
        if ink is None or Y0 + dy >= H:
            continue
        roi = img[Y0 + dy:Y0 + dy + a.shape[0], X0:X0 + a.shape[1]]
        aa = a[:roi.shape[0]]
        roi[:] = (roi * (1 - aa) + np.array(ink, np.float32) * aa).astype(img.dtype)
    if ring:
        r = max(2, int(th * 0.7))
        cv2.ellipse(img, (int(x0 + 0.8 * th), int(y0 + th / 2)), (r, int(r * rng.uniform(0.6, 1.0))),
                    0, 0, 360, col, max(1, int(th / 8)), cv2.LINE_AA)
    mask = np.zeros((H, W), np.uint8)
    mask[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = 1
    return mask


def colour_shift(rng, img):
    """Move the colours toward what other cameras see. The ro- frames are
    dashcam footage with a strong magenta cast (median HSV saturation about
    150, against 30-50 for daylight photos of cars), so a network trained
    on them learns that a grey, unsaturated patch means a plate: shown the
    same validation frames in grey, the stage-4 weights redact 15.6% of
    the image away from plates instead of 1.7%. Here: grey-world white
    balance, then less saturation, down to the monochrome of infrared ANPR
    cameras."""
    x = img.astype(np.float32)
    if rng.random() < 0.6:
        m = x.reshape(-1, 3).mean(0) + 1.0
        a = rng.uniform(0.5, 1.0)
        x *= (1 - a) + a * (m.mean() / m)
    if rng.random() < 0.7:
        g = x @ np.float32([0.114, 0.587, 0.299])  # BGR luma
        f = 0.0 if rng.random() < 0.25 else rng.uniform(0.0, 1.0)
        x = g[:, :, None] + (x - g[:, :, None]) * f
    return np.clip(x, 0, 255).astype(np.uint8)


def behind_fence(rng, img, haze=None):
    """The scene through a chain-link fence near the camera: a diamond mesh
    of wires over everything, plates included (a plate behind a fence is
    still a plate), often out of focus; and, half the time (or by haze, a
    share from 0 to 1), the washed-out contrast of a dusty housing facing
    a bright sky. Car-park cameras often look through the perimeter fence,
    and the dashcam frames never do."""
    H, W = img.shape[:2]
    mesh = np.zeros((H, W), np.float32)
    gap = rng.uniform(6, 28)  # between wires, in pixels
    a = np.deg2rad(rng.uniform(30, 60))
    wire = int(rng.integers(1, 3))
    reach = float(np.hypot(H, W))
    for sign in (1, -1):
        dx, dy = np.cos(a), sign * np.sin(a)
        off = rng.uniform(0, gap)
        for k in range(-int(reach / gap) - 1, int(reach / gap) + 2):
            d = k * gap + off  # the wire's distance from the centre, along its normal (-dy, dx)
            cx, cy = W / 2 - dy * d, H / 2 + dx * d
            p0 = (int(16 * (cx - dx * reach)), int(16 * (cy - dy * reach)))
            p1 = (int(16 * (cx + dx * reach)), int(16 * (cy + dy * reach)))
            cv2.line(mesh, p0, p1, 1.0, wire, cv2.LINE_AA, shift=4)
    if rng.random() < 0.5:
        mesh = cv2.GaussianBlur(mesh, (0, 0), rng.uniform(0.5, 1.5))
    alpha = rng.uniform(0.5, 0.95) * np.clip(mesh, 0, 1)[:, :, None]
    ink = rng.uniform(70, 230) + rng.uniform(-15, 15, 3)
    x = img.astype(np.float32) * (1 - alpha) + ink.astype(np.float32) * alpha
    if haze is None:
        haze = rng.uniform(0.3, 0.65) if rng.random() < 0.5 else 0.0
    if haze:
        x = x * (1 - haze) + rng.uniform(150, 230) * haze
    return np.clip(x, 0, 255).astype(np.uint8)


def sharpen(rng, img):
    """Unsharp mask: crisp fixed-camera photos rather than soft dashcam frames."""
    blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 2.5))
    k = rng.uniform(0.5, 2.0)
    return cv2.addWeighted(img, 1.0 + k, blur, -k, 0)


def photometric(rng, img):
    """Whole-image degradations: night, contrast, blur, low-res, glare, noise, JPEG."""
    img = img.astype(np.float32)
    if rng.random() < 0.2:  # night
        img = 255 * (img / 255) ** rng.uniform(1.5, 3.0) * rng.uniform(0.4, 1.0)
        img *= np.array([rng.uniform(1.0, 1.3), 1.0, rng.uniform(0.7, 1.0)], np.float32)
    else:
        img = img * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30)
        if rng.random() < 0.3:  # colour cast
            img *= rng.uniform(0.85, 1.15, 3).astype(np.float32)
    if rng.random() < 0.1:  # glare blob
        H, W = img.shape[:2]
        yy, xx = np.mgrid[0:H, 0:W]
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(10, max(H, W) / 3)
        img += 255 * rng.uniform(0.3, 1.0) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[:, :, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    r = rng.random()
    if r < 0.15:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    elif r < 0.25:  # motion blur
        k = int(rng.integers(3, 8))
        ker = np.zeros((k, k), np.float32)
        ker[k // 2, :] = 1.0 / k
        M = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1)
        ker = cv2.warpAffine(ker, M, (k, k))
        img = cv2.filter2D(img, -1, ker / max(ker.sum(), 1e-6))
    elif r < 0.45:  # low-res source upscaled (small photos are upscaled to max_side)
        H, W = img.shape[:2]
        f = rng.uniform(0.35, 0.8)
        img = cv2.resize(cv2.resize(img, (max(8, int(W * f)), max(8, int(H * f))), interpolation=cv2.INTER_AREA),
                         (W, H), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.4:
        img = cv2.add(img, _gauss(rng, img.shape, rng.uniform(2, 12)), dtype=cv2.CV_8U)
    if rng.random() < 0.6:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 96))])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img
