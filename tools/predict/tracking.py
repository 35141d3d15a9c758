"""Faces followed through a video, as OpenFace follows them: the detector searches the whole frame on
the first frame, every `detect_every` frames after it, and on any frame where a followed face is lost;
on the frames in between it searches only a window around each face's last box (WINDOW times the box's
side, a small part of the frame), and the face's landmarks are found in the box found there.

A face keeps its id for as long as it is found from frame to frame: in its window by its overlap with
its last box, or, on a whole-frame search, by matching the boxes found to the faces' last boxes (largest
overlap first, at least MATCH_IOU). A face that its window no longer holds (no detection scoring
min_confidence or more) is lost; a face that leaves and comes back gets a new id (there is no
re-identification), and a face that enters is found at the next whole-frame search, at most
detect_every - 1 frames late (--detect-every 1 searches every frame).
"""
from dataclasses import dataclass

from data_prep.faces.detect import rgb_of

WINDOW = 2.0       # the search window's side, in sides of the face's last box, centred on that box
MATCH_IOU = 0.3    # the least overlap (intersection over union) of a box with a face's last box


def iou(a, b):
    """Intersection over union of two (x, y, w, h) boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def window(box, shape):
    """The search window (x0, y0, x1, y1) around box, within a frame of shape (h, w, ...)."""
    x, y, w, h = box
    cx, cy, half = x + w / 2, y + h / 2, WINDOW * max(w, h) / 2
    return (max(0, round(cx - half)), max(0, round(cy - half)),
            min(shape[1], round(cx + half)), min(shape[0], round(cy + half)))


@dataclass
class Face:
    face_id: int
    box: tuple          # (x, y, w, h)
    score: float        # the detector's score of the box
    landmarks: object


class Tracker:
    """faces(frame) for the frames of one video, in order; reset() before the next video."""

    def __init__(self, landmarker, min_confidence, detect_every):
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {detect_every}")
        self.landmarker, self.min_confidence, self.detect_every = landmarker, min_confidence, detect_every
        self.searches = 0      # whole-frame searches, for the run's summary
        self.reset()

    def reset(self):
        self.faces_now, self.next_id, self.since_search = [], 0, 0

    def faces(self, image_bgr):
        """[Face] of the frame, by id."""
        rgb = rgb_of(image_bgr)
        followed = None
        if self.faces_now and self.since_search < self.detect_every:
            followed = [self._follow(rgb, face) for face in self.faces_now]
        if followed is None or None in followed:
            followed = self._search(rgb)
        else:
            self.since_search += 1
        self.faces_now = sorted(followed, key=lambda f: f.face_id)
        return self.faces_now

    def _follow(self, rgb, face):
        """The face in its window, or None when it is not there."""
        found = self.landmarker.faces_in(rgb, window(face.box, rgb.shape), self.min_confidence)
        near = [(iou(box, face.box), box, score, marks) for box, score, marks in found]
        best = max(near, key=lambda n: n[0], default=None)
        if best is None or best[0] < MATCH_IOU:
            return None
        return Face(face.face_id, best[1], best[2], best[3])

    def _search(self, rgb):
        """Every face in the whole frame, ids carried over from the faces of the last frame."""
        self.searches += 1
        self.since_search = 1
        found = self.landmarker.faces_in(rgb, (0, 0, rgb.shape[1], rgb.shape[0]), self.min_confidence)
        pairs = sorted(((iou(box, face.box), i, face.face_id) for i, (box, _, _) in enumerate(found)
                        for face in self.faces_now), reverse=True)
        ids, taken = {}, set()
        for overlap, i, face_id in pairs:
            if overlap >= MATCH_IOU and i not in ids and face_id not in taken:
                ids[i] = face_id
                taken.add(face_id)
        faces = []
        for i, (box, score, marks) in enumerate(found):
            if i not in ids:
                ids[i] = self.next_id
                self.next_id += 1
            faces.append(Face(ids[i], box, score, marks))
        return faces
