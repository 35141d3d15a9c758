"""synthau's face model (docs/data.md, "synthau"): an identity (shape, colours, accessories), the AU
intensities a face shows, and the curves and 68 iBUG landmarks they give in face coordinates (origin
midway between the eye centres, x to the image's right, y down, unit = the interocular distance), posed
in 3-D (Pose). data_prep/synthau.py draws them.
"""
from dataclasses import dataclass

import numpy as np

from dscmr.paper import EMOTIONET_AUS

CANVAS = 320
TRACE_PROB = 0.25       # an inactive AU shows a trace (intensity < 0.15, below FACS's A level)

SKIN = np.array([(205, 218, 245), (172, 196, 232), (135, 168, 212), (112, 150, 186),
                 (82, 117, 162), (58, 82, 122), (42, 56, 86)], np.float64)
HAIR = np.array([(20, 20, 24), (30, 45, 70), (45, 72, 112), (110, 170, 212), (40, 72, 160),
                 (160, 160, 166), (215, 215, 220)], np.float64)
HAIR_P = np.array([0.3, 0.25, 0.15, 0.1, 0.05, 0.1, 0.05])
IRIS = np.array([(30, 52, 92), (24, 30, 40), (160, 122, 80), (92, 132, 92), (60, 100, 124)], np.float64)


def uniform(rng, lo, hi):
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
    t = uniform(rng, 0, len(SKIN) - 1)
    i = int(t)
    skin = SKIN[i] + (SKIN[min(i + 1, len(SKIN) - 1)] - SKIN[i]) * (t - i) + rng.normal(0, 6, 3)
    hair = HAIR[rng.choice(len(HAIR), p=HAIR_P)] + rng.normal(0, 8, 3)
    lips = skin * np.array([0.78, 0.7, 0.98]) + rng.normal(0, 5, 3)
    if rng.random() < 0.15:
        lips = np.array([(60, 40, 190), (150, 110, 215), (90, 70, 150)][rng.integers(3)], np.float64)
    return Identity(
        skin_colour=skin, hair_colour=hair, lip_colour=lips, brow_colour=hair * 0.7 + skin * 0.12,
        iris_colour=IRIS[rng.integers(len(IRIS))] + rng.normal(0, 6, 3),
        face_half_width=uniform(rng, 0.95, 1.15), jaw_top_y=uniform(rng, 0.0, 0.15), chin_y=uniform(rng, 1.62, 1.92),
        jaw_roundness=uniform(rng, 0.55, 1.0), head_top_y=uniform(rng, -1.85, -1.6),
        eye_half_width=uniform(rng, 0.2, 0.24), upper_lid_height=uniform(rng, 0.07, 0.1),
        lower_lid_height=uniform(rng, 0.045, 0.065),
        eye_tilt=uniform(rng, -0.035, 0.02), iris_radius=uniform(rng, 0.085, 0.1), gaze_offset=rng.normal(0, 0.02, 2),
        brow_y=uniform(rng, -0.36, -0.26), brow_arch=uniform(rng, 0.03, 0.09), brow_thickness=uniform(rng, 0.035, 0.075),
        brow_outer_extent=uniform(rng, 0.3, 0.38), brow_inner_extent=uniform(rng, 0.22, 0.3),
        nose_tip_y=uniform(rng, 0.5, 0.62), nose_half_width=uniform(rng, 0.16, 0.23),
        mouth_y=uniform(rng, 0.98, 1.12), mouth_half_width=uniform(rng, 0.36, 0.46),
        upper_lip_thickness=uniform(rng, 0.045, 0.085),
        lower_lip_thickness=uniform(rng, 0.065, 0.115), lip_corner_drop=uniform(rng, -0.025, 0.02),
        cupids_bow_depth=uniform(rng, 0.0, 0.025),
        age=uniform(rng, 0, 1) ** 2, hairline_y=uniform(rng, -1.3, -0.95),
        hair_style=rng.choice(["bald", "short", "long", "fringe"], p=[0.1, 0.4, 0.35, 0.15]),
        hair_volume=uniform(rng, 0.04, 0.25), glasses=rng.random() < 0.2,
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
            a, d = uniform(rng, 0.35, 1.0), uniform(rng, -0.15, 0.15)
        elif rng.random() < TRACE_PROB:
            a, d = uniform(rng, 0.0, 0.15), 0.0
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


def surface_depth(pts, fw):
    """Rough depth (towards the camera) of face points: a curved face, 0 at the eyes' plane."""
    x = pts[:, 0] / (fw * 1.08)
    return 0.9 * np.sqrt(np.clip(1 - x ** 2, 0.02, 1)) - 0.9


# Depths of the parts drawn in front of the face surface (IOD units), shared by the drawing and
# the landmarks, so that a turned head moves both alike.
BRIDGE_Z = (0.1, 0.2, 0.3, 0.45)        # iBUG 27-30, the last is the nose tip
NOSTRIL_Z = (0.25, 0.3, 0.3, 0.3, 0.25)  # iBUG 31-35
MOUTH_Z = 0.1                            # iBUG 48-67


def landmark_depths(pts, fw):
    z = surface_depth(pts, fw)
    z[27:31], z[31:36], z[48:68] = BRIDGE_Z, NOSTRIL_Z, MOUTH_Z
    return z


class Pose:
    """Maps face coordinates (with depth) to canvas pixels: yaw, pitch, roll, scale, shift."""

    def __init__(self, rng):
        self.yaw, self.pitch = np.radians(uniform(rng, -22, 22)), np.radians(uniform(rng, -12, 12))
        roll = np.radians(uniform(rng, -18, 18))
        self.scale = uniform(rng, 50, 78)
        self.c, self.s = np.cos(roll), np.sin(roll)
        self.t = np.array([CANVAS / 2 + uniform(rng, -18, 18), CANVAS / 2 - 25 + uniform(rng, -18, 18)])
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
