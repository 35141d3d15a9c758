"""Face detection (dlib's HOG detector) and landmarks (the models of the face_recognition_models
package), both offline.

Licence: dlib's 68-point model (shape_predictor_68_face_landmarks.dat) was trained on the iBUG 300-W
data, whose licence excludes commercial use: use it for non-commercial research only. The 5-point
model (shape_predictor_5_face_landmarks.dat) carries no such restriction (--landmarker dlib5).
"""
import importlib.util
from pathlib import Path

import cv2
import numpy as np

MODEL_FILES = {"dlib68": "shape_predictor_68_face_landmarks.dat",
               "dlib5": "shape_predictor_5_face_landmarks.dat"}


class NoFaceError(Exception):
    """No face was found in an image."""


def model_path(landmarker):
    """Path of a landmark model file inside the installed face_recognition_models package (found
    without importing it: its __init__ needs pkg_resources, which new setuptools lack)."""
    if landmarker not in MODEL_FILES:
        raise ValueError(f"unknown landmarker {landmarker!r}; expected one of {sorted(MODEL_FILES)}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the Python package face_recognition_models is not installed "
                           "(it is in requirements.txt: run setup/make_venv.sh)")
    path = Path(spec.submodule_search_locations[0]) / "models" / MODEL_FILES[landmarker]
    if not path.is_file():
        raise RuntimeError(f"landmark model missing: {path}")
    return path


def rgb_of(image_bgr):
    return np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))


class Landmarker:
    """Faces and their landmarks: (68, 2) iBUG points for 'dlib68', (5, 2) for 'dlib5'.

    upsample: how many times the detector doubles the image (1 finds faces down to about 40 px).
    max_side: larger images are searched at this size (the landmarks are found at full size).
    Calling it gives the largest face's landmarks; faces() gives every face.
    """

    def __init__(self, landmarker="dlib68", upsample=1, max_side=1024):
        import dlib
        self.kind = landmarker
        self.upsample = upsample
        self.max_side = max_side
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_path(landmarker)))
        self._rect = dlib.rectangle

    def _detect(self, image_bgr, min_score):
        """(RGB image, [(dlib.rectangle in full-size pixels, detector score)]) of the faces whose
        score (the HOG SVM's margin) is above min_score."""
        rgb = rgb_of(image_bgr)
        return rgb, self._search(rgb, (0, 0, rgb.shape[1], rgb.shape[0]), min_score)

    def _search(self, rgb, window, min_score):
        """[(dlib.rectangle in full-size pixels, score)] of the faces the detector finds in
        window (x0, y0, x1, y1) of rgb, searched at the scale the whole image is searched at."""
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        x0, y0, x1, y1 = window
        part = rgb[y0:y1, x0:x1]
        search = np.ascontiguousarray(part) if scale == 1.0 else cv2.resize(
            part, (round((x1 - x0) * scale), round((y1 - y0) * scale)), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self.detector.run(search, self.upsample, min_score)
        return [(self._rect(x0 + round(r.left() / scale), y0 + round(r.top() / scale),
                            x0 + round(r.right() / scale), y0 + round(r.bottom() / scale)), float(s))
                for r, s in zip(rects, scores)]

    def _landmarks(self, rgb, rect):
        shape = self.predictor(rgb, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def __call__(self, image_bgr):
        rgb, found = self._detect(image_bgr, 0.0)
        if not found:
            raise NoFaceError("no face found (dlib HOG detector)")
        rect = max((r for r, _ in found), key=lambda r: (r.width() * r.height(), -r.left(), -r.top()))
        return self._landmarks(rgb, rect)

    def faces(self, image_bgr, min_score=0.0):
        """Every face as (box (x, y, w, h) in pixels, detector score, landmarks), highest score
        first (ties: left to right)."""
        rgb, found = self._detect(image_bgr, min_score)
        return self._described(rgb, found)

    def faces_in(self, rgb, window, min_score=0.0):
        """faces() of the faces found in window (x0, y0, x1, y1) of an RGB frame (rgb_of's): the
        detector searches only there, the landmarks are found in the whole frame."""
        return self._described(rgb, self._search(rgb, window, min_score))

    def _described(self, rgb, found):
        found.sort(key=lambda f: (-f[1], f[0].left(), f[0].top()))
        return [((r.left(), r.top(), r.right() - r.left(), r.bottom() - r.top()), score,
                 self._landmarks(rgb, r)) for r, score in found]

    @property
    def align_kind(self):
        """The align_face kind of the points this landmarker returns."""
        return "dlib5" if self.kind == "dlib5" else "template5"
