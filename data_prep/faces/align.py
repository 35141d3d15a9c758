"""Similarity alignment of a face to the fixed 224 x 224 template (docs/data.md, "The template").

Sec. 3.1: "We registered face images to 224 x 224 using similarity transform". The transform is the
least-squares similarity (rotation, uniform scale, translation; no reflection) from the face's
alignment points to the template's.
"""
import cv2
import numpy as np

from dscmr.paper import INPUT_SIZE

# Template points in output pixels (x, y), image-left first: the face's own right eye is on the
# image's left. Interocular distance 64 px; eyes at 41% of the height, so that the 90 px above them
# keep the brows (about 22 px above the eyes) and the forehead up to the hairline, where AU1, AU2
# and AU4 act; the chin (about 1.75 interocular distances below the eyes) lands near y = 204.
TEMPLATE_5 = np.array([
    [80.0, 92.0],    # eye centre, image left  (mean of iBUG points 36-41)
    [144.0, 92.0],   # eye centre, image right (mean of iBUG points 42-47)
    [112.0, 128.0],  # nose tip                (iBUG 30)
    [86.0, 160.0],   # mouth corner, image left  (iBUG 48)
    [138.0, 160.0],  # mouth corner, image right (iBUG 54)
])
# The base of the nose (iBUG 33, subnasale), used with dlib's 5-point model, which has no nose tip
# and no mouth corners (its points are the four eye corners and the base of the nose).
TEMPLATE_NOSE_BASE = np.array([112.0, 138.0])


def five_from_68(landmarks):
    """The template's 5 points from 68 iBUG-ordered landmarks (CK+, dlib's 68-point model)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"expected 68 landmarks as a (68, 2) array, got shape {pts.shape}")
    return np.array([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]])


def three_from_dlib5(landmarks):
    """Eye centres and nose base from dlib's 5-point model (points: image-right eye outer and inner
    corner, image-left eye outer and inner corner, base of the nose), with their template points."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (5, 2):
        raise ValueError(f"expected dlib's 5 landmarks as a (5, 2) array, got shape {pts.shape}")
    src = np.array([(pts[2] + pts[3]) / 2, (pts[0] + pts[1]) / 2, pts[4]])
    dst = np.array([TEMPLATE_5[0], TEMPLATE_5[1], TEMPLATE_NOSE_BASE])
    return src, dst


def similarity_transform(src, dst):
    """The 2 x 3 matrix M of the similarity x -> s R x + t that minimises sum |M src_i - dst_i|^2.

    In complex numbers the similarity is z -> a z + b; with centred points the least-squares a is
    sum(conj(src_c) dst_c) / sum |src_c|^2, and b = mean(dst) - a mean(src).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two equal (k, 2) point arrays with k >= 2, got {src.shape} and {dst.shape}")
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    zs_c, zd_c = zs - zs.mean(), zd - zd.mean()
    denom = np.sum(np.abs(zs_c) ** 2)
    if denom == 0:
        raise ValueError("the source points all coincide; no similarity transform exists")
    a = np.sum(np.conj(zs_c) * zd_c) / denom
    b = zd.mean() - a * zs.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def warp(image, M, size=INPUT_SIZE):
    """image warped by M into size x size. A large shrink is done first with area averaging (a
    plain bilinear warp would alias), then the rest with bilinear interpolation."""
    scale = float(np.hypot(M[0, 0], M[1, 0]))
    if scale < 0.5:
        factor = 2.0 * scale
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))),
                           interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / w, small.shape[0] / h
        M = M @ np.array([[1 / fx, 0, 0], [0, 1 / fy, 0], [0, 0, 1]])
        image = small
    return cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def align_points(landmarks):
    """(src, dst) alignment point pairs for 68 iBUG landmarks, the template's 5 points, or dlib's
    5-point model's points (pass kind='dlib5' through align_face)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape == (68, 2):
        return five_from_68(pts), TEMPLATE_5
    if pts.shape == (5, 2):
        return pts, TEMPLATE_5
    raise ValueError(f"expected 68 or 5 landmarks as (k, 2), got shape {pts.shape}")


def align_face(image, landmarks, kind="template5"):
    """(aligned 224 x 224 image, M) for landmarks of kind 'template5' (68 iBUG points, or the
    template's 5 points: eye centres, nose tip, mouth corners) or 'dlib5' (dlib's 5-point model)."""
    if kind == "dlib5":
        src, dst = three_from_dlib5(landmarks)
    elif kind == "template5":
        src, dst = align_points(landmarks)
    else:
        raise ValueError(f"unknown landmark kind {kind!r}; expected 'template5' or 'dlib5'")
    M = similarity_transform(src, dst)
    return warp(image, M), M


def template():
    """The alignment as data: what a model card records, so that a model is only used on faces
    aligned the way its training faces were."""
    return {"transform": "similarity", "size": INPUT_SIZE, "points_5": TEMPLATE_5.tolist(),
            "points_5_names": ["eye centre, image left", "eye centre, image right", "nose tip",
                               "mouth corner, image left", "mouth corner, image right"],
            "nose_base": TEMPLATE_NOSE_BASE.tolist()}
