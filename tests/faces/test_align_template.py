"""Similarity alignment to the template, and dlib detection on a real photograph."""
import cv2
import numpy as np
import pytest
import skimage.data

from data_prep.faces import worker
from data_prep.faces.align import TEMPLATE_5, align_face, five_from_68, similarity_transform, three_from_dlib5
from data_prep.faces.detect import Landmarker, NoFaceError
from dscmr.errors import SkipItem


def apply_transform(M, points):
    """Points (k, 2) mapped by the 2 x 3 matrix M."""
    return np.asarray(points, dtype=np.float64) @ M[:, :2].T + M[:, 2]


def _similarity(scale, angle, tx, ty):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_similarity_recovers_a_known_transform_exactly():
    M_true = _similarity(0.37, 0.4, 55.0, -20.0)
    src = apply_transform(np.linalg.inv(np.vstack([M_true, [0, 0, 1]]))[:2], TEMPLATE_5)
    M = similarity_transform(src, TEMPLATE_5)
    np.testing.assert_allclose(M, M_true, atol=1e-9)
    np.testing.assert_allclose(apply_transform(M, src), TEMPLATE_5, atol=1e-9)


def test_similarity_is_the_least_squares_optimum():
    rng = np.random.default_rng(3)
    src = TEMPLATE_5 * 1.7 + rng.normal(0, 4, TEMPLATE_5.shape) + [30, 12]
    M = similarity_transform(src, TEMPLATE_5)
    err = lambda m: np.sum((apply_transform(m, src) - TEMPLATE_5) ** 2)
    best = err(M)
    a, b = M[0, 0], M[1, 0]
    for da, db, dx, dy in [(1e-3, 0, 0, 0), (0, 1e-3, 0, 0), (0, 0, 0.1, 0), (0, 0, 0, 0.1)]:
        for sign in (1, -1):
            A, B = a + sign * da, b + sign * db
            m = np.array([[A, -B, M[0, 2] + sign * dx], [B, A, M[1, 2] + sign * dy]])
            assert err(m) > best
    # No reflection: the determinant of the linear part is positive.
    assert np.linalg.det(M[:, :2]) > 0


def test_five_from_68_takes_eye_means_nose_tip_and_mouth_corners():
    pts = np.stack([np.arange(68.0), 100 + np.arange(68.0) ** 2], 1)
    five = five_from_68(pts)
    np.testing.assert_allclose(five[0], pts[36:42].mean(0))
    np.testing.assert_allclose(five[1], pts[42:48].mean(0))
    np.testing.assert_allclose(five[2:], pts[[30, 48, 54]])


def test_dlib5_points_give_eye_centres_and_nose_base():
    pts = np.array([[10.0, 1], [6, 1], [-10, 0], [-6, 2], [0, 5]])
    src, dst = three_from_dlib5(pts)
    np.testing.assert_allclose(src, [[-8, 1], [8, 1], [0, 5]])
    assert dst.shape == (3, 2)


@pytest.mark.parametrize("fn, shape", [(five_from_68, (67, 2)), (five_from_68, (68, 3)), (three_from_dlib5, (4, 2))])
def test_wrong_landmark_counts_are_named(fn, shape):
    with pytest.raises(ValueError, match=r"got shape \(%d, %d\)" % shape):
        fn(np.zeros(shape))


def test_template_keeps_brows_and_forehead():
    # 64 px interocular distance; the brows sit about a third of it above the eyes: the 92 px
    # above the eye line hold them and most of the forehead, and the chin fits below.
    eye_y = TEMPLATE_5[:2, 1].mean()
    iod = TEMPLATE_5[1, 0] - TEMPLATE_5[0, 0]
    assert iod == 64 and eye_y - 0.35 * iod > 60 and eye_y + 1.75 * iod < 224


@pytest.fixture(scope="module")
def astronaut():
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("model", ["dlib68", "dlib5"])
def test_astronaut_eyes_land_on_the_template(astronaut, model):
    lm = Landmarker(model)
    aligned, M = align_face(astronaut, lm(astronaut), lm.align_kind)
    assert aligned.shape == (224, 224, 3)
    # Detect again in the aligned face: its eye centres are within a few pixels of the template's.
    again = lm(aligned)
    eyes = five_from_68(again)[:2] if model == "dlib68" else three_from_dlib5(again)[0][:2]
    assert np.abs(eyes - TEMPLATE_5[:2]).max() < 6.0


def test_large_images_shrink_without_aliasing(astronaut):
    lm = Landmarker("dlib68")
    pts = lm(astronaut)
    small, _ = align_face(astronaut, pts)
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    large, M = align_face(big, pts * 4 + 1.5)
    assert np.hypot(*M[:, 0]) < 0.5
    assert np.abs(large.astype(float) - small).mean() < 4.0


def test_an_image_without_a_face_is_a_skip_not_a_crash(tmp_path):
    with pytest.raises(NoFaceError):
        Landmarker("dlib68")(np.full((200, 200, 3), 128, np.uint8))
    p = tmp_path / "wall.png"
    cv2.imwrite(str(p), np.full((200, 200, 3), 128, np.uint8))
    worker.init("dlib68", 1)
    with pytest.raises(SkipItem, match="wall.png: no face found"):
        worker.load_face((str(p), None))
