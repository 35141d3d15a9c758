"""synthau: procedural faces whose geometry follows their AU labels (docs/data.md, "synthau").

A face is a set of parametric curves in face coordinates: origin midway between the eye centres,
x to the image's right, y down, unit = the interocular distance (IOD). An identity fixes the shape
(jaw, brows, eyes, nose, lips, hairline), colours and accessories; the AUs deform the curves (and
add wrinkles) with FACS-inspired changes; a pose, lighting, blur, noise and background are drawn per
image. The 68 iBUG landmarks are samples of the same curves; the image goes through the same
alignment as real data (five_from_68, then the similarity warp to the template). Which AUs a face
shows comes from data_prep/synthau_labels.py.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from data_prep.faces.align import align_face
from dscmr.paper import EMOTIONET_AUS

CANVAS = 320
TRACE_PROB = 0.25       # an inactive AU shows a trace (intensity < 0.15, below FACS's A level)

SKIN = np.array([(205, 218, 245), (172, 196, 232), (135, 168, 212), (112, 150, 186),
                 (82, 117, 162), (58, 82, 122), (42, 56, 86)], np.float64)
HAIR = np.array([(20, 20, 24), (30, 45, 70), (45, 72, 112), (110, 170, 212), (40, 72, 160),
                 (160, 160, 166), (215, 215, 220)], np.float64)
HAIR_P = np.array([0.3, 0.25, 0.15, 0.1, 0.05, 0.1, 0.05])
IRIS = np.array([(30, 52, 92), (24, 30, 40), (160, 122, 80), (92, 132, 92), (60, 100, 124)], np.float64)


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


# eq=False: the colours are arrays, which a field-by-field == cannot compare.
@dataclass(frozen=True, eq=False)
class Identity:
    """An identity's shape, colours and accessories. Colours are BGR (0-255); lengths and positions are
    in face coordinates (IOD, y down from the eye line). Fields are in the order identity() draws them."""
    skin_colour: np.ndarray
    hair_colour: np.ndarray
    lip_colour: np.ndarray
    brow_colour: np.ndarray
    iris_colour: np.ndarray
    face_half_width: float      # x of the jaw's ends; the ears sit just outside
    jaw_top_y: float            # y where the jaw line starts at the sides of the face
    chin_y: float               # y of the chin's lowest point, at rest
    jaw_roundness: float        # exponent of the jaw curve: 1 is elliptic, lower is squarer
    head_top_y: float
    eye_half_width: float       # corner to centre of one eye
    upper_lid_height: float     # upper lid's rise above the line between the corners, at rest
    lower_lid_height: float     # lower lid's drop below that line, at rest
    eye_tilt: float             # y of the outer corners relative to the inner ones (negative: higher)
    iris_radius: float
    gaze_offset: np.ndarray     # (x, y) of the irises from the eye centres
    brow_y: float               # y of the brows' base line, before the arch
    brow_arch: float            # how far the arch rises above that line
    brow_thickness: float
    brow_outer_extent: float    # x of a brow's outer end beyond its eye's centre
    brow_inner_extent: float    # x of a brow's inner end inside its eye's centre
    nose_tip_y: float           # the eyes are at y = 0, so this is also the nose's length
    nose_half_width: float      # x of the nostril wings
    mouth_y: float              # y of the mouth line's centre, at rest
    mouth_half_width: float     # x of the lip corners, at rest
    upper_lip_thickness: float
    lower_lip_thickness: float
    lip_corner_drop: float      # y of the lip corners below the mouth's centre, at rest (negative: above)
    cupids_bow_depth: float     # the upper lip's dip at the middle
    age: float                  # 0 (young) to 1: faint forehead lines, deeper folds, whatever the AUs
    hairline_y: float           # y of the hairline at the middle of the forehead
    hair_style: str             # bald, short, long or fringe
    hair_volume: float          # how far the hair stands above the top of the head
    glasses: bool
    glasses_colour: np.ndarray
    beard: bool
    moustache: bool
    earrings: bool
    clothes_colour: np.ndarray


def identity(rng):
    """An Identity drawn from rng. The keyword arguments are evaluated in order, so their order is the draw
    order: changing it changes every face of every dataset."""
    t = _u(rng, 0, len(SKIN) - 1)
    i = int(t)
    skin = SKIN[i] + (SKIN[min(i + 1, len(SKIN) - 1)] - SKIN[i]) * (t - i) + rng.normal(0, 6, 3)
    hair = HAIR[rng.choice(len(HAIR), p=HAIR_P)] + rng.normal(0, 8, 3)
    lips = skin * np.array([0.78, 0.7, 0.98]) + rng.normal(0, 5, 3)
    if rng.random() < 0.15:
        lips = np.array([(60, 40, 190), (150, 110, 215), (90, 70, 150)][rng.integers(3)], np.float64)
    return Identity(
        skin_colour=skin, hair_colour=hair, lip_colour=lips, brow_colour=hair * 0.7 + skin * 0.12,
        iris_colour=IRIS[rng.integers(len(IRIS))] + rng.normal(0, 6, 3),
        face_half_width=_u(rng, 0.95, 1.15), jaw_top_y=_u(rng, 0.0, 0.15), chin_y=_u(rng, 1.62, 1.92),
        jaw_roundness=_u(rng, 0.55, 1.0), head_top_y=_u(rng, -1.85, -1.6),
        eye_half_width=_u(rng, 0.2, 0.24), upper_lid_height=_u(rng, 0.07, 0.1), lower_lid_height=_u(rng, 0.045, 0.065),
        eye_tilt=_u(rng, -0.035, 0.02), iris_radius=_u(rng, 0.085, 0.1), gaze_offset=rng.normal(0, 0.02, 2),
        brow_y=_u(rng, -0.36, -0.26), brow_arch=_u(rng, 0.03, 0.09), brow_thickness=_u(rng, 0.035, 0.075),
        brow_outer_extent=_u(rng, 0.3, 0.38), brow_inner_extent=_u(rng, 0.22, 0.3),
        nose_tip_y=_u(rng, 0.5, 0.62), nose_half_width=_u(rng, 0.16, 0.23),
        mouth_y=_u(rng, 0.98, 1.12), mouth_half_width=_u(rng, 0.36, 0.46), upper_lip_thickness=_u(rng, 0.045, 0.085),
        lower_lip_thickness=_u(rng, 0.065, 0.115), lip_corner_drop=_u(rng, -0.025, 0.02),
        cupids_bow_depth=_u(rng, 0.0, 0.025),
        age=_u(rng, 0, 1) ** 2, hairline_y=_u(rng, -1.3, -0.95),
        hair_style=rng.choice(["bald", "short", "long", "fringe"], p=[0.1, 0.4, 0.35, 0.15]),
        hair_volume=_u(rng, 0.04, 0.25), glasses=rng.random() < 0.2,
        glasses_colour=rng.uniform(10, 120, 3), beard=rng.random() < 0.1,
        moustache=rng.random() < 0.1 and hair.mean() < 140, earrings=rng.random() < 0.15,
        clothes_colour=rng.uniform(20, 230, 3),
    )


def intensities(active, rng):
    """Per-AU (left, right) intensities: active AUs U(0.35, 1) with a little asymmetry; an inactive
    one shows a trace (< 0.15) with probability TRACE_PROB. All 11 EmotioNet AUs are keyed."""
    out = {}
    for au in EMOTIONET_AUS:
        if au in active:
            a, d = _u(rng, 0.35, 1.0), _u(rng, -0.15, 0.15)
        elif rng.random() < TRACE_PROB:
            a, d = _u(rng, 0.0, 0.15), 0.0
        else:
            a, d = 0.0, 0.0
        out[au] = (a * (1 + d), a * (1 - d))
    return out


def _side(x, pair):
    """Per-point intensity: the left value where x < 0, the right where x >= 0."""
    return np.where(np.asarray(x) < 0, pair[0], pair[1])


class Face:
    """The deformed curves of one identity under one set of AU intensities (face coordinates)."""

    def __init__(self, idt, inten):
        self.idt, self.a = idt, inten
        # Jaw: AU26 drops it (most at the chin), AU17 raises the chin.
        self.jaw_drop = 0.2 * self.mean(26)
        self.chin_up = 0.07 * self.mean(17)
        self._mouth()

    def mean(self, au):
        return 0.5 * (self.a[au][0] + self.a[au][1])

    def jaw_curve(self, n):
        g = self.idt
        phi = np.linspace(np.pi, 0, n)
        s = np.sin(phi)
        x = g.face_half_width * np.cos(phi) * (1 - 0.05 * s)
        y = g.jaw_top_y + (g.chin_y - g.jaw_top_y) * s ** g.jaw_roundness + self.jaw_drop * s ** 2 \
            - self.chin_up * s ** 8
        return np.stack([x, y], 1)

    # Mouth: the mouth line is a parabola through the corners and the centre; the lips hang on it.
    # AU12 pulls the corners up and out, AU20 out (and a little down), AU17 pushes the lower lip
    # and the mouth's centre up (the corners go down), AU9 lifts the upper lip, AU25 parts the
    # lips, AU26 opens them further when parted and otherwise lowers the closed mouth.
    def _mouth(self):
        g, a = self.idt, self.a
        a12, a20, a17 = a[12], a[20], a[17]
        self.cw = tuple(g.mouth_half_width + 0.07 * a12[s] + 0.1 * a20[s] for s in (0, 1))
        parted = self.mean(25) > 0.15
        self.gap = (0.03 + 0.07 * self.mean(25) + 0.75 * self.jaw_drop) if parted else 0.0
        self.centre = g.mouth_y - 0.035 * self.mean(17) - 0.025 * self.mean(9) \
            + (0.0 if parted else 0.3 * self.jaw_drop)
        self.corner_y = tuple(self.centre + g.lip_corner_drop - 0.09 * a12[s] + 0.025 * a20[s] + 0.025 * a17[s]
                              for s in (0, 1))
        self.ut = g.upper_lip_thickness * (1 - 0.3 * self.mean(20) - 0.15 * self.mean(12))
        self.lt = g.lower_lip_thickness * (1 - 0.3 * self.mean(20) + (0.0 if parted else 0.8 * self.jaw_drop))

    def mouth_line(self, x):
        x = np.asarray(x, np.float64)
        cw = _side(x, self.cw)
        cy = _side(x, self.corner_y)
        r = np.clip(np.abs(x) / cw, 0, 1)
        return cy + (self.centre - cy) * (1 - r ** 2)

    def lips(self, n=25):
        """(upper outer, upper inner, lower inner, lower outer) curves, each left to right."""
        cwl, cwr = self.cw
        x = np.concatenate([np.linspace(-cwl, 0, n // 2, endpoint=False), np.linspace(0, cwr, n - n // 2)])
        r = np.clip(np.abs(x) / _side(x, self.cw), 0, 1)
        base = self.mouth_line(x)
        bow = self.idt.cupids_bow_depth * np.exp(-(x / 0.06) ** 2)
        upper = base - self.ut * (1 - r ** 2) ** 0.45 + bow
        inner_r = np.clip(r / 0.88, 0, 1)
        gu = 0.25 * self.gap * (1 - inner_r ** 2) ** 0.7
        gl = 0.75 * self.gap * (1 - inner_r ** 2) ** 0.7
        lower = base + gl + self.lt * (1 - r ** 2) ** 0.6
        return (np.stack([x, upper], 1), np.stack([x, base - gu], 1),
                np.stack([x, base + gl], 1), np.stack([x, lower], 1))

    # Eyes: corners fixed, lids are arcs; AU5 raises the upper lid, AU6 raises the lower lid,
    # AU4 lowers the upper lid a little.
    def eye(self, side, n=16):
        """(upper lid, lower lid) curves of one eye (side -1 image left, +1 image right), outer
        corner to inner corner."""
        g = self.idt
        s = 0 if side < 0 else 1
        ex = 0.5 * side
        t = np.linspace(0, 1, n)
        x = ex + side * g.eye_half_width * (1 - 2 * t)
        ybase = g.eye_tilt * (1 - t)
        uh = g.upper_lid_height * (1 + 0.6 * self.a[5][s] - 0.15 * self.a[4][s] - 0.1 * self.a[6][s])
        lh = g.lower_lid_height * (1 - 0.55 * self.a[6][s])
        shape = np.sin(np.pi * t ** 0.9)
        up = ybase - uh * shape ** 0.8
        lo = ybase + lh * shape - 0.02 * self.a[6][s] * shape
        return np.stack([x, up], 1), np.stack([x, lo], 1)

    # Brows: AU1 raises the inner ends, AU2 the outer ends, AU4 lowers them and draws them together.
    def brow(self, side, n=12):
        """Brow centre line, outer end to inner end."""
        g = self.idt
        s = 0 if side < 0 else 1
        u = np.linspace(0, 1, n)
        x_out, x_in = 0.5 + g.brow_outer_extent, 0.5 - g.brow_inner_extent
        x = x_out + (x_in - x_out) * u
        y = g.brow_y - g.brow_arch * (1 - (u - 0.4) ** 2 / 0.36)
        a1, a2, a4 = self.a[1][s], self.a[2][s], self.a[4][s]
        y = y - 0.1 * a1 * u ** 1.5 - 0.1 * a2 * (1 - u) ** 1.2 + 0.05 * a4 + 0.035 * a4 * u
        x = x - 0.06 * a4 * u ** 2
        return np.stack([side * x, y], 1)

    # Nose: AU9 lifts and widens the nostril wings.
    def nose(self):
        """(bridge 4 points top to tip, nostril base 5 points left to right)."""
        g = self.idt
        a9 = self.mean(9)
        bridge = np.array([[0, -0.05], [0, 0.12], [0, 0.3], [0, g.nose_tip_y]])
        nw = g.nose_half_width + 0.03 * a9
        lift = 0.04 * a9
        base = np.array([[-nw, g.nose_tip_y + 0.06 - lift], [-nw * 0.5, g.nose_tip_y + 0.1 - lift * 0.7],
                         [0, g.nose_tip_y + 0.13 - lift * 0.4], [nw * 0.5, g.nose_tip_y + 0.1 - lift * 0.7],
                         [nw, g.nose_tip_y + 0.06 - lift]])
        return bridge, base

    def landmarks68(self):
        """The 68 iBUG landmarks (face coordinates)."""
        pts = np.zeros((68, 2))
        pts[0:17] = self.jaw_curve(17)
        for side, sl in ((-1, slice(17, 22)), (1, slice(22, 27))):
            b = self.brow(side, 5)
            pts[sl] = b if side < 0 else b[::-1]
        bridge, base = self.nose()
        pts[27:31], pts[31:36] = bridge, base
        for side, start in ((-1, 36), (1, 42)):
            up, lo = self.eye(side, 7)
            if side < 0:   # 36 outer, 37-38 upper, 39 inner, 40-41 lower (inner to outer)
                pts[start:start + 6] = [up[0], up[2], up[4], up[6], lo[4], lo[2]]
            else:          # 42 inner, 43-44 upper, 45 outer, 46-47 lower (outer to inner)
                pts[start:start + 6] = [up[6], up[4], up[2], up[0], lo[2], lo[4]]
        uo, ui, li, lo = self.lips(25)

        def at(curve, xs):
            return np.stack([xs, np.interp(xs, curve[:, 0], curve[:, 1])], 1)
        cwl, cwr = self.cw
        xo = np.array([-cwl, -0.6 * cwl, -0.25 * cwl, 0, 0.25 * cwr, 0.6 * cwr, cwr])
        pts[48:55] = at(uo, xo)
        pts[55:60] = at(lo, xo[5:0:-1])
        xi = np.array([-0.88 * cwl, -0.4 * cwl, 0, 0.4 * cwr, 0.88 * cwr])
        pts[60:65] = at(ui, xi)
        pts[65:68] = at(li, xi[3:0:-1])
        return pts


def _depth(pts, fw):
    """Rough depth (towards the camera) of face points: a curved face, 0 at the eyes' plane."""
    x = pts[:, 0] / (fw * 1.08)
    return 0.9 * np.sqrt(np.clip(1 - x ** 2, 0.02, 1)) - 0.9


# Depths of the parts drawn in front of the face surface (IOD units), shared by the drawing and
# the landmarks, so that a turned head moves both alike.
BRIDGE_Z = (0.1, 0.2, 0.3, 0.45)        # iBUG 27-30, the last is the nose tip
NOSTRIL_Z = (0.25, 0.3, 0.3, 0.3, 0.25)  # iBUG 31-35
MOUTH_Z = 0.1                            # iBUG 48-67


def landmark_depths(pts, fw):
    z = _depth(pts, fw)
    z[27:31], z[31:36], z[48:68] = BRIDGE_Z, NOSTRIL_Z, MOUTH_Z
    return z


class Pose:
    """Maps face coordinates (with depth) to canvas pixels: yaw, pitch, roll, scale, shift."""

    def __init__(self, rng):
        self.yaw, self.pitch = np.radians(_u(rng, -22, 22)), np.radians(_u(rng, -12, 12))
        roll = np.radians(_u(rng, -18, 18))
        self.scale = _u(rng, 50, 78)
        self.c, self.s = np.cos(roll), np.sin(roll)
        self.t = np.array([CANVAS / 2 + _u(rng, -18, 18), CANVAS / 2 - 25 + _u(rng, -18, 18)])
        self.trig = (np.cos(self.yaw), np.sin(self.yaw), np.cos(self.pitch), np.sin(self.pitch))

    def __call__(self, pts, z):
        pts = np.asarray(pts, np.float64)
        x, y = pts[:, 0], pts[:, 1]
        cy, sy, cp, sp = self.trig
        x1 = x * cy + z * sy
        y1 = y * cp - (z * cy - x * sy) * sp
        out = np.empty_like(pts)
        out[:, 0] = (self.c * x1 - self.s * y1) * self.scale + self.t[0]
        out[:, 1] = (self.s * x1 + self.c * y1) * self.scale + self.t[1]
        return out


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
    small = np.clip(rng.uniform(0, 255, (4, 4, 3)) * _u(rng, 0.3, 1) + _u(rng, 0, 80), 0, 255)
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
    PD = lambda pts: pose(pts, _depth(np.asarray(pts), idt.face_half_width))
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
    beta, k = _u(rng, 0, 2 * np.pi), _u(rng, 0, 0.45)
    gain = (_u(rng, 0.7, 1.2) * rng.uniform(0.9, 1.1, 3)).astype(np.float32)
    gx = (k * np.cos(beta) / w) * (np.arange(w, dtype=np.float32) - w / 2)
    gy = (k * np.sin(beta) / w) * (np.arange(h, dtype=np.float32) - h / 2)
    grad = 1 + gx[None, :, None] + gy[:, None, None]
    out = cv2.GaussianBlur(img, (0, 0), _u(rng, 0.3, 1.6)).astype(np.float32)
    out *= grad
    out *= gain
    out += _u(rng, -20, 20)
    oy, ox = rng.integers(0, CANVAS, 2)
    out = cv2.scaleAdd(_noise_field()[oy:oy + h, ox:ox + w], _u(rng, 1, 7), out)
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
