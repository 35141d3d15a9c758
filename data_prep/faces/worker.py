"""The worker that turns a real image file into an aligned 224 x 224 face (in worker processes).

A task's payload is (image path, landmarks or None). With landmarks (68 iBUG points, or the
template's 5 points), the face is aligned from them; without, dlib finds the largest face and its
landmarks first. Anything that cannot give a face is a SkipItem naming the file, not a crash.
"""
import os

import numpy as np
from PIL import Image, ImageOps

from data_prep.faces.align import align_face
from dscmr.errors import SkipItem

_STATE = {}


def init(landmarker, upsample):
    """Worker initializer: remembers which dlib model to load (loaded at the first image that needs it)."""
    _STATE.update(landmarker=landmarker, upsample=upsample, model=None)


def read_image(path):
    """H x W x 3 uint8 BGR of an image file (EXIF orientation applied), or SkipItem."""
    if not os.path.isfile(path):
        raise SkipItem(f"image not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I", "I;16", "I;16B", "I;16L"):
                arr = np.asarray(im, dtype=np.float64)
                arr = (arr / max(arr.max(), 1) * 255).round().astype(np.uint8)
                return np.repeat(arr[:, :, None], 3, axis=2)
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise SkipItem(f"cannot read image {path}: unreadable or corrupt ({e})")
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _landmarker():
    if _STATE.get("model") is None:
        from data_prep.faces.detect import Landmarker
        _STATE["model"] = Landmarker(_STATE.get("landmarker", "dlib68"), _STATE.get("upsample", 1))
    return _STATE["model"]


def load_face(payload):
    """Worker: (path, landmarks or None) -> aligned 224 x 224 BGR image."""
    path, landmarks = payload
    image = read_image(path)
    if landmarks is None:
        from data_prep.faces.detect import NoFaceError
        model = _landmarker()
        try:
            landmarks = model(image)
        except NoFaceError as e:
            raise SkipItem(f"{path}: {e}")
        kind = model.align_kind
    else:
        kind = "template5"
    try:
        out, _ = align_face(image, np.asarray(landmarks, dtype=np.float64), kind)
    except ValueError as e:   # e.g. landmarks that all coincide
        raise SkipItem(f"{path}: cannot align: {e}")
    return out


def add_detector_args(parser):
    g = parser.add_argument_group("face detection (images without landmarks)")
    g.add_argument("--landmarker", choices=("dlib68", "dlib5"), default="dlib68",
                   help="dlib's 68-point model (iBUG 300-W licence: non-commercial research only) or its "
                        "5-point model (no such restriction; aligns from eyes and nose) (default: %(default)s)")
    g.add_argument("--upsample", type=int, default=1,
                   help="times dlib's HOG detector doubles the image to find small faces (default: %(default)s)")
