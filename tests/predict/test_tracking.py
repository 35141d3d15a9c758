"""tools/predict/tracking.py on scripted detections: which frames are searched whole, which face keeps
which id when faces cross, leave and enter. The end-to-end runs on real faces are in test_predict.py."""
import numpy as np
import pytest

from tools.predict.tracking import Tracker, iou, window


class Scripted:
    """A landmarker whose detector finds, in frame t, the boxes script[t] that lie inside the window
    searched (the frame number is the image's first pixel)."""

    def __init__(self, script):
        self.script, self.windows = script, []

    def faces_in(self, rgb, win, min_score):
        t = int(rgb[0, 0, 0])
        self.windows.append((t, win))
        x0, y0, x1, y1 = win
        inside = [(box, score, None) for box, score in self.script[t]
                  if x0 <= box[0] and y0 <= box[1] and box[0] + box[2] <= x1 and box[1] + box[3] <= y1
                  and score >= min_score]
        return sorted(inside, key=lambda f: -f[1])


def frame(t):
    image = np.zeros((360, 640, 3), np.uint8)
    image[0, 0, :] = t
    return image


def run(script, detect_every):
    marks = Scripted(script)
    tracker = Tracker(marks, 0.5, detect_every)
    ids = [[(f.face_id, f.box[0]) for f in tracker.faces(frame(t))] for t in range(len(script))]
    searched = sorted({t for t, win in marks.windows if win == (0, 0, 640, 360)})
    return ids, searched


def crossing(frames=28):
    """Face A moves right, 20 px a frame, face B left, 40 px lower: at frame 14 their boxes overlap by
    a third (IoU 1/3, more than MATCH_IOU), and from 13 to 15 B is inside A's search window. A scores
    higher."""
    return [[((20 * t, 60, 80, 80), 1.5), ((560 - 20 * t, 100, 80, 80), 1.0)] for t in range(frames)]


def test_boxes_overlap_and_windows_are_twice_the_face():
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert window((100, 100, 80, 80), (360, 640)) == (60, 60, 220, 220)
    assert window((0, 300, 80, 80), (360, 640)) == (0, 260, 120, 360)     # clipped to the frame


@pytest.mark.parametrize("detect_every", [1, 10])
def test_faces_that_cross_keep_their_ids(detect_every):
    ids, searched = run(crossing(), detect_every)
    assert [[face_id for face_id, _ in frame_ids] for frame_ids in ids] == [[0, 1]] * 28
    assert all(dict(frame_ids)[0] == 20 * t and dict(frame_ids)[1] == 560 - 20 * t for t, frame_ids in enumerate(ids))
    assert searched == list(range(0, 28, detect_every))


def test_a_lost_face_makes_a_search_and_comes_back_at_the_next_with_a_new_id():
    script = crossing(16)
    for t in (4, 5):                         # A is gone for two frames
        script[t] = script[t][1:]
    ids, searched = run(script, 10)
    assert searched == [0, 4, 14]            # A lost at 4; B followed from 5; the next search at 14
    assert [[face_id for face_id, _ in frame_ids] for frame_ids in ids] == [[0, 1]] * 4 + [[1]] * 10 + [[1, 2]] * 2


def test_a_face_that_enters_is_found_at_the_next_search_and_none_followed_means_search_every_frame():
    script = [[] for _ in range(3)] + [[((300, 100, 80, 80), 1.0)]] * 4
    script += [[((300, 100, 80, 80), 1.0), ((40, 100, 80, 80), 2.0)]] * 12
    ids, searched = run(script, 10)
    assert searched == [0, 1, 2, 3, 13]
    assert [[face_id for face_id, _ in frame_ids] for frame_ids in ids] == [[]] * 3 + [[0]] * 10 + [[0, 1]] * 6


def test_detect_every_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        Tracker(Scripted([]), 0.5, 0)
