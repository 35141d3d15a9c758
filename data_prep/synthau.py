"""synthau: procedural faces whose geometry follows their AU labels (docs/data.md, "synthau").

A face is a set of parametric curves in face coordinates: origin midway between the eye centres,
x to the image's right, y down, unit = the interocular distance (IOD). An identity fixes the shape
(jaw, brows, eyes, nose, lips, hairline), colours and accessories; the AUs deform the curves (and
add wrinkles) with FACS-inspired changes; a pose, lighting, blur, noise and background are drawn per
image. The 68 iBUG landmarks are samples of the same curves; the image goes through the same
alignment as real data (five_from_68, then the similarity warp to the template). Which AUs a face
shows comes from data_prep/synthau_labels.py.
"""
import cv2
import numpy as np

from data_prep.faces.align import align_face
from data_prep.synthau_face import (
    BRIDGE_Z,
    CANVAS,
    MOUTH_Z,
    NOSTRIL_Z,
    Face,
    Pose,
    identity,
    intensities,
    landmark_depths,
    surface_depth,
    uniform,
)


def _fix(pts):
    return np.round(np.asarray(pts) * 16).astype(np.int32).reshape(-1, 1, 2)


def _poly(img, pts, col):
    cv2.fillPoly(img, [_fix(pts)], tuple(float(c) for c in col), cv2.LINE_AA, 4)


def _line(img, pts, col, th, closed=False):
    cv2.polylines(img, [_fix(pts)], closed, tuple(float(c) for c in col), int(th), cv2.LINE_AA, 4)


def _ellipse_pts(cx, cy, ax, ay, n=24):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], 1)


def _mix(a, b, alpha):
    alpha = float(np.clip(alpha, 0, 1))
    return np.asarray(a) * (1 - alpha) + np.asarray(b) * alpha


def _background(rng):
    small = np.clip(rng.uniform(0, 255, (4, 4, 3)) * uniform(rng, 0.3, 1) + uniform(rng, 0, 80), 0, 255)
    img = cv2.resize(small.astype(np.uint8), (CANVAS, CANVAS), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.integers(0, 4)):
        x0, y0 = rng.integers(0, CANVAS, 2)
        w, h = rng.integers(20, 160, 2)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)),
                      tuple(float(c) for c in rng.uniform(0, 255, 3)), -1)
    return img


def render(idt, inten, rng):
    """(canvas image uint8 BGR, 68 landmarks in canvas pixels) of one face."""
    f = Face(idt, inten)
    pose = Pose(rng)
    P = lambda pts, z=0.0: pose(pts, z)
    PD = lambda pts: pose(pts, surface_depth(np.asarray(pts), idt.face_half_width))
    sc = pose.scale
    th1 = max(1, round(sc / 45))
    img = _background(rng)
    skin, hair = idt.skin_colour, idt.hair_colour
    fw, top = idt.face_half_width, idt.head_top_y
    # Body, neck, hair behind the head, ears.
    _poly(img, P(_ellipse_pts(0, 3.0, 2.0, 1.0)), idt.clothes_colour)
    _poly(img, P([[-0.42, 0.9], [0.42, 0.9], [0.5, 2.3], [-0.5, 2.3]], -0.5), skin * 0.8)
    if idt.hair_style == "long":
        t = np.linspace(0, np.pi, 20)
        arc = np.stack([(fw * 1.22) * np.cos(t), 0.2 + (top - idt.hair_volume - 0.2) * np.sin(t)], 1)
        _poly(img, P(np.vstack([[[fw * 1.25, 2.0]], arc, [[-fw * 1.25, 2.0]]]), -0.6), hair * 0.85)
    for side in (-1, 1):
        _poly(img, P(_ellipse_pts(side * (fw + 0.02), 0.25, 0.11, 0.24, 16), -0.7), skin * 0.9)
        if idt.earrings:
            _poly(img, P(_ellipse_pts(side * (fw + 0.03), 0.55, 0.03, 0.03, 10), -0.7), (40, 190, 220))
    # Head: the jaw, then the skull arc back over the top.
    jaw = f.jaw_curve(33)
    t = np.linspace(0, np.pi, 24)
    skull = np.stack([fw * 1.02 * np.cos(t), idt.jaw_top_y + (top - idt.jaw_top_y) * np.sin(t)], 1)
    head = np.vstack([jaw, skull[1:-1]])
    _poly(img, PD(head), skin)
    # Cheeks: AU6 raises and brightens them, with a furrow under the lower lid.
    for side, s in ((-1, 0), (1, 1)):
        a6 = f.a[6][s]
        _poly(img, PD(_ellipse_pts(side * 0.55, 0.55 - 0.12 * a6, 0.22, 0.15 + 0.03 * a6, 16)),
              _mix(skin, skin * np.array([0.92, 0.95, 1.08]) + 8 * a6, 0.5 + 0.5 * a6))
        fur = np.stack([side * np.linspace(0.3, 0.72, 8), 0.2 - 0.05 * a6 + 0.03 * np.sin(np.linspace(0, np.pi, 8))], 1)
        _line(img, PD(fur), _mix(skin, skin * 0.55, 0.08 + 0.35 * a6 + 0.1 * idt.age), th1)
    _hair_front(img, idt, PD)
    _wrinkles(img, f, idt, PD, th1)
    for side in (-1, 1):
        _eye(img, f, idt, side, PD, th1)
        b = f.brow(side, 12)
        u = np.linspace(0, 1, 12)[:, None]
        half = idt.brow_thickness * (0.55 + 0.45 * u) / 2
        _poly(img, PD(np.vstack([b - [0, 1] * half, (b + [0, 1] * half)[::-1]])), idt.brow_colour)
    _nose(img, f, idt, P, th1)
    _mouth(img, f, idt, P, th1)
    if idt.moustache:
        xs = np.linspace(-f.cw[0] * 0.9, f.cw[1] * 0.9, 12)
        ml = f.mouth_line(xs) - f.ut
        lower = ml[::-1] - 0.1 - 0.03 * np.cos(xs[::-1] * 3)
        _poly(img, P(np.vstack([np.stack([xs, ml - 0.02], 1), np.stack([xs[::-1], lower], 1)]), 0.1), hair)
    if idt.beard:
        j = f.jaw_curve(25)[4:21]
        inner = np.stack([j[:, 0] * 0.7, np.maximum(j[:, 1] - 0.35, f.centre + f.lt + 0.08)], 1)
        _poly(img, PD(np.vstack([j, inner[::-1]])), _mix(skin, hair, 0.8))
    if idt.glasses:
        for side in (-1, 1):
            c = _ellipse_pts(side * 0.5, 0.02, 0.3, 0.19, 20)
            _line(img, P(c, 0.25), idt.glasses_colour, th1 + 1, closed=True)
        _line(img, P([[-0.2, -0.02], [0.2, -0.02]], 0.25), idt.glasses_colour, th1 + 1)
    img = _lighting(img, rng)
    pts = f.landmarks68()
    lm = pose(pts, landmark_depths(pts, fw)) + rng.normal(0, 0.012 * sc, (68, 2))
    return img, lm


def _hair_front(img, idt, PD):
    style = idt.hair_style
    fw, top = idt.face_half_width, idt.head_top_y
    # A fringe comes down towards the brows, but stops short of where AU1 and AU2 raise them.
    hl = idt.hairline_y if style != "fringe" else max(idt.hairline_y + 0.35, -0.78)
    x = np.linspace(-fw * 1.0, fw * 1.0, 25)
    line = hl + (-0.3 - hl) * (np.abs(x) / fw) ** 2.5
    if style == "fringe":
        line = line + 0.04 * np.sin(x * 23)
    t = np.linspace(0, np.pi, 24)
    arc = np.stack([fw * 1.06 * np.cos(t), -0.3 + (top - idt.hair_volume + 0.3) * np.sin(t)], 1)
    shape = np.vstack([arc, np.stack([x, line], 1)])
    col = idt.hair_colour if style != "bald" else _mix(idt.skin_colour, idt.hair_colour, 0.12)
    if style == "bald":
        shape = np.vstack([arc, np.stack([x, line - 0.25], 1)])
    _poly(img, PD(shape), col)


def _wrinkles(img, f, idt, PD, th):
    skin, age = idt.skin_colour, idt.age
    dark = skin * 0.5
    by = idt.brow_y
    # Forehead: AU1 in the middle, AU2 at the sides; age adds faint lines everywhere.
    for k in range(3):
        y = by - 0.2 - 0.11 * k
        for side, s in ((-1, 0), (1, 1)):
            a1, a2 = f.a[1][s], f.a[2][s]
            xs = np.linspace(0, 0.75, 12)
            w = np.clip(0.6 * a1 * (1 - xs / 0.45) + 0.6 * a2 * np.clip((xs - 0.25) / 0.3, 0, 1) + 0.12 * age, 0, 1)
            if w.max() <= 0.04:
                continue
            px = PD(np.stack([side * xs, y - 0.03 * np.cos(xs * 2.5) + 0.01 * k * xs], 1))
            for i in np.flatnonzero(w[:-1] > 0.04):
                _line(img, px[i:i + 2], _mix(skin, dark, w[i]), th)
    # Glabella: AU4's vertical furrows between the brows.
    a4 = f.mean(4)
    if a4 > 0.02:
        for x in (-0.07, 0.07):
            _line(img, PD([[x, by + 0.02], [x * 0.8, by - 0.16]]), _mix(skin, dark, 0.7 * a4), th)
    # Crow's feet: AU6.
    for side, s in ((-1, 0), (1, 1)):
        a6 = f.a[6][s]
        if a6 > 0.02:
            ox = side * (0.5 + idt.eye_half_width + 0.04)
            for dy in (-0.06, 0.0, 0.06):
                _line(img, PD([[ox, dy * 0.5], [ox + side * 0.12, dy * 1.6]]), _mix(skin, dark, 0.6 * a6), th)
    # Nose wrinkles: AU9.
    a9 = f.mean(9)
    if a9 > 0.02:
        for k in range(3):
            y = 0.05 + 0.07 * k
            _line(img, PD([[-0.1, y], [0, y - 0.02], [0.1, y]]), _mix(skin, dark, 0.75 * a9), th)
        for side in (-1, 1):
            _line(img, PD([[side * 0.12, 0.0], [side * 0.2, 0.25]]), _mix(skin, dark, 0.5 * a9), th)
    # Nasolabial folds: deeper and higher with AU12 (and AU6), faint with age.
    for side, s in ((-1, 0), (1, 1)):
        a12, a6 = f.a[12][s], f.a[6][s]
        w = 0.1 + 0.2 * age + 0.5 * a12 + 0.15 * a6
        nose_x = idt.nose_half_width + 0.05
        cx = f.cw[s] + 0.06 + 0.04 * a12
        cy = f.corner_y[s] + 0.12 - 0.05 * a12
        t = np.linspace(0, 1, 8)
        pts = np.stack([side * (nose_x + (cx - nose_x) * t ** 0.7), idt.nose_tip_y + 0.02 + (cy - idt.nose_tip_y - 0.02) * t], 1)
        _line(img, PD(pts), _mix(skin, dark, w), th)
    # Chin: AU17 wrinkles the chin boss and deepens the crease under the lower lip.
    a17 = f.mean(17)
    chin_y = f.jaw_curve(17)[8, 1]
    crease_y = f.centre + f.lt + 0.12
    _line(img, PD([[-0.18, crease_y + 0.02], [0, crease_y], [0.18, crease_y + 0.02]]),
          _mix(skin, dark, 0.15 + 0.55 * a17), th)
    if a17 > 0.02:
        for dx, dy in ((-0.08, -0.25), (0.07, -0.22), (0.0, -0.16), (-0.05, -0.12), (0.09, -0.13)):
            p = [dx, chin_y + dy]
            _line(img, PD([p, [p[0] + 0.04, p[1] + 0.01]]), _mix(skin, dark, 0.5 * a17), th)
    # Lip stretcher: AU20 pulls short lines beyond the corners.
    for side, s in ((-1, 0), (1, 1)):
        a20 = f.a[20][s]
        if a20 > 0.02:
            x0 = side * (f.cw[s] + 0.05)
            y0 = f.corner_y[s]
            _line(img, PD([[x0, y0 - 0.06], [x0 + side * 0.03, y0 + 0.08]]), _mix(skin, dark, 0.6 * a20), th)


def _eye(img, f, idt, side, PD, th):
    up, lo = f.eye(side, 16)
    _poly(img, PD(np.vstack([up, lo[::-1][1:-1]])), (228, 232, 238))
    centre = np.array([0.5 * side, idt.eye_tilt * 0.5]) + idt.gaze_offset
    iris = _ellipse_pts(centre[0], centre[1], idt.iris_radius, idt.iris_radius, 20)
    _poly(img, PD(iris), idt.iris_colour)
    _poly(img, PD(_ellipse_pts(centre[0], centre[1], idt.iris_radius * 0.45, idt.iris_radius * 0.45, 12)), (15, 15, 18))
    _poly(img, PD(_ellipse_pts(centre[0] + 0.025, centre[1] - 0.03, 0.018, 0.018, 8)), (245, 245, 250))
    # Lids: skin above the upper lid and below the lower lid clips the iris.
    skin = idt.skin_colour
    _poly(img, PD(np.vstack([up, (up - [0, 0.16])[::-1]])), skin)
    _poly(img, PD(np.vstack([lo, (lo + [0, 0.1])[::-1]])), skin)
    crease = up - [0, 0.05 + 0.02 * f.a[5][0 if side < 0 else 1]]
    _line(img, PD(crease[2:-2]), _mix(skin, skin * 0.6, 0.45 - 0.3 * f.a[5][0 if side < 0 else 1]), th)
    _line(img, PD(up), (25, 25, 30), th + 1)
    _line(img, PD(lo), _mix(skin, (40, 40, 50), 0.6), th)


def _nose(img, f, idt, P, th):
    skin = idt.skin_colour
    _, base = f.nose()
    for side in (-1, 1):
        _line(img, P([[side * 0.09, 0.05], [side * 0.1, 0.3], [side * 0.13, idt.nose_tip_y - 0.02]], BRIDGE_Z[1]),
              _mix(skin, skin * 0.6, 0.35), th)
        wing = base[0 if side < 0 else 4]
        _poly(img, P(_ellipse_pts(wing[0] - side * 0.02, wing[1] - 0.03, 0.06, 0.055, 12), NOSTRIL_Z[0]), skin * 0.93)
        _poly(img, P(_ellipse_pts(side * idt.nose_half_width * 0.45, idt.nose_tip_y + 0.07 - 0.03 * f.mean(9), 0.05, 0.025, 10),
                     NOSTRIL_Z[1]), _mix(skin, (20, 20, 30), 0.75))
    _line(img, P(base, np.array(NOSTRIL_Z)), _mix(skin, skin * 0.5, 0.5), th)
    _poly(img, P(_ellipse_pts(0, idt.nose_tip_y - 0.02, 0.06, 0.05, 10), BRIDGE_Z[3]), _mix(skin, (250, 250, 250), 0.15))


def _mouth(img, f, idt, P, th):
    uo, ui, li, lo = f.lips(25)
    z = MOUTH_Z
    if f.gap > 0.005:
        _poly(img, P(np.vstack([ui, li[::-1]]), z), (40, 32, 85))
        teeth_h = min(f.gap * 0.55, 0.07)
        xs = ui[:, 0]
        keep = np.abs(xs) < 0.8 * np.maximum(f.cw[0], f.cw[1])
        tu = ui[keep]
        _poly(img, P(np.vstack([tu, (tu + [0, teeth_h])[::-1]]), z), (222, 228, 232))
    _poly(img, P(np.vstack([uo, ui[::-1]]), z), idt.lip_colour)
    _poly(img, P(np.vstack([li, lo[::-1]]), z), idt.lip_colour * 1.05)
    _line(img, P(ui if f.gap > 0.005 else (ui + li) / 2, z), _mix(idt.lip_colour, (20, 20, 30), 0.6), th)


_NOISE = {}


def _noise_field():
    """A fixed standard-normal field, made once per process; each image takes a seeded crop of it."""
    if "f" not in _NOISE:
        _NOISE["f"] = np.random.default_rng(0).standard_normal((2 * CANVAS, 2 * CANVAS, 3), dtype=np.float32)
    return _NOISE["f"]


def _lighting(img, rng):
    """A directional light gradient, a colour cast and exposure, camera blur and sensor noise."""
    h, w = img.shape[:2]
    beta, k = uniform(rng, 0, 2 * np.pi), uniform(rng, 0, 0.45)
    gain = (uniform(rng, 0.7, 1.2) * rng.uniform(0.9, 1.1, 3)).astype(np.float32)
    gx = (k * np.cos(beta) / w) * (np.arange(w, dtype=np.float32) - w / 2)
    gy = (k * np.sin(beta) / w) * (np.arange(h, dtype=np.float32) - h / 2)
    grad = 1 + gx[None, :, None] + gy[:, None, None]
    out = cv2.GaussianBlur(img, (0, 0), uniform(rng, 0.3, 1.6)).astype(np.float32)
    out *= grad
    out *= gain
    out += uniform(rng, -20, 20)
    oy, ox = rng.integers(0, CANVAS, 2)
    out = cv2.scaleAdd(_noise_field()[oy:oy + h, ox:ox + w], uniform(rng, 1, 7), out)
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def sample_rng(seed, split_code, index):
    return np.random.default_rng([seed, split_code, index])


def identity_rng(seed, identity_id):
    return np.random.default_rng([seed, 7, identity_id])


def render_sample(payload):
    """Worker: (seed, split_code, index, identity_id, active AU tuple) -> aligned 224 image."""
    seed, split_code, index, identity_id, active = payload
    idt = identity(identity_rng(seed, identity_id))
    rng = sample_rng(seed, split_code, index)
    img, lm = render(idt, intensities(set(active), rng), rng)
    out, _ = align_face(img, lm)
    return out
