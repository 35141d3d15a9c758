"""Per-AU F1 and AUC against hand-computed cases and scikit-learn, with ignored labels."""
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from tools.evaluation.metrics import (
    bootstrap_metrics,
    mean_metrics,
    per_au_metrics,
    resample_counts,
    with_intervals,
)


def test_hand_computed_case_with_an_ignored_label():
    probs = np.array([[0.9, 0.2], [0.6, 0.7], [0.4, 0.1], [0.1, 0.8], [0.8, 0.3]])
    labels = np.array([[1, 0], [0, 1], [1, 999], [0, 1], [1, 1]])
    au1, au2 = per_au_metrics(probs, labels, aus=(1, 2))
    # AU1: predicted 1,1,0,0,1 vs 1,0,1,0,1 -> tp 2, fp 1, fn 1: F1 = 4/6.
    assert au1["f1"] == pytest.approx(100 * 4 / 6)
    # AU1 AUC: positives {0.9, 0.4, 0.8} vs negatives {0.6, 0.1}: 5 of 6 pairs ordered right.
    assert au1["auc"] == pytest.approx(100 * 5 / 6)
    assert (au1["positives"], au1["negatives"], au1["np_ratio"]) == (3, 2, pytest.approx(2 / 3))
    # AU2 without sample 2: predicted 0,1,1,0 vs 0,1,1,1 -> tp 2, fp 0, fn 1: F1 = 4/5; the one
    # negative (0.2) is below every positive (0.7, 0.8, 0.3): AUC = 1.
    assert au2["f1"] == pytest.approx(80.0)
    assert au2["auc"] == pytest.approx(100.0)
    assert au2["accuracy"] == pytest.approx(75.0)
    assert mean_metrics([au1, au2])["f1"] == pytest.approx((100 * 4 / 6 + 80) / 2)


def test_agrees_with_scikit_learn_on_random_data():
    rng = np.random.default_rng(3)
    labels = (rng.random((300, 4)) < [0.5, 0.2, 0.05, 0.3]).astype(float)
    probs = np.clip(0.3 * labels + rng.random((300, 4)) * 0.7, 0, 1)
    labels[rng.random((300, 4)) < 0.1] = 999
    for scores in (probs, np.round(probs, 1)):    # and with ties
        for i, row in enumerate(per_au_metrics(scores, labels, aus=(1, 2, 4, 5), threshold=0.4)):
            valid = labels[:, i] != 999
            assert row["f1"] == pytest.approx(100 * f1_score(labels[valid, i], scores[valid, i] >= 0.4))
            assert row["auc"] == pytest.approx(100 * roc_auc_score(labels[valid, i], scores[valid, i]), abs=1e-12)


def test_an_au_without_positives_has_no_f1_or_auc_and_is_left_out_of_the_means():
    rows = per_au_metrics(np.array([[0.2, 0.9], [0.3, 0.1]]), np.array([[0, 1], [0, 0]]), aus=(1, 2))
    assert math.isnan(rows[0]["auc"]) and math.isnan(rows[0]["f1"]) and rows[0]["np_ratio"] == math.inf
    assert mean_metrics(rows)["auc"] == pytest.approx(100.0) and mean_metrics(rows)["f1"] == pytest.approx(100.0)


def test_weighted_bootstrap_metrics_are_those_of_the_resampled_faces():
    rng = np.random.default_rng(3)
    labels = (rng.random((80, 3)) < [0.5, 0.2, 0.1]).astype(float)
    probs = np.round(np.clip(0.3 * labels + rng.random((80, 3)) * 0.7, 0, 1), 1)   # ties on purpose
    labels[rng.random((80, 3)) < 0.1] = 999
    counts = resample_counts(80, rounds=5, seed=1)
    boot = bootstrap_metrics(probs, labels, (1, 2, 4), counts, threshold=0.45)
    for r in range(5):
        faces = np.repeat(np.arange(80), counts[r].astype(int))
        for i, row in enumerate(per_au_metrics(probs[faces], labels[faces], (1, 2, 4), threshold=0.45)):
            assert boot["f1"][r, i] == pytest.approx(row["f1"], nan_ok=True)
            assert boot["auc"][r, i] == pytest.approx(row["auc"], nan_ok=True)
            assert boot["accuracy"][r, i] == pytest.approx(row["accuracy"])


def test_intervals_cover_the_point():
    rng = np.random.default_rng(4)
    labels = (rng.random((400, 2)) < 0.3).astype(float)
    good = np.clip(0.3 * labels + 0.7 * rng.random((400, 2)), 0, 1)
    rows, means = with_intervals(good, labels, (1, 2))
    for r in rows:
        assert r["auc_ci"][0] < r["auc"] < r["auc_ci"][1] and r["f1_ci"][0] < r["f1"] < r["f1_ci"][1]
    assert means["auc_ci"][0] < means["auc"] < means["auc_ci"][1]


def test_bad_label_and_shape_are_named():
    with pytest.raises(ValueError, match=r"label 2 at \(sample 1, AU4\)"):
        per_au_metrics(np.zeros((2, 2)), np.array([[0, 1], [1, 2]]), aus=(1, 4))
    with pytest.raises(ValueError, match="must both be N x 3"):
        per_au_metrics(np.zeros((2, 2)), np.zeros((2, 2)), aus=(1, 2, 4))


def test_the_cpu_budget_rule_finds_where_a_curve_flattens():
    from tools.experiments.plateau import plateau_iteration
    rising = [(i * 250, 50 + i * 2.0) for i in range(25)]
    assert plateau_iteration(rising) is None
    flat_after_2000 = [(i * 250, 50 + 2.0 * min(i, 8) + 0.05 * i) for i in range(25)]
    # at T = 3000 the last quarter (2250, 3000] gains 0.15 points; at 2000 it still gains 4
    assert plateau_iteration(flat_after_2000) == 3000
