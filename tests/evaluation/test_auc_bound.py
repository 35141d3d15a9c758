"""tools/evaluation/auc_bound.py: the lowest ROC AUC an F1-score allows, on constructed classifiers."""
import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from dscmr import paper
from tools.evaluation import auc_bound


def staircase(tp, fn, fp, tn):
    """Scores that meet an operating point with the lowest AUC it allows: negatives above the
    threshold outrank every positive, positives below it are outranked by every negative."""
    y = np.array([0] * fp + [1] * tp + [0] * tn + [1] * fn)
    s = np.array([3.0] * fp + [2.0] * tp + [1.0] * tn + [0.0] * fn)
    return y, s


@pytest.mark.parametrize("tp, fn, fp, tn", [(20, 0, 5, 15), (16, 4, 0, 20), (40, 0, 40, 160), (5, 0, 95, 0)])
def test_the_bound_is_met_by_a_staircase_at_an_end_of_the_range(tp, fn, fp, tn):
    y, s = staircase(tp, fn, fp, tn)
    f1 = f1_score(y, s >= 2)
    bound = auc_bound.min_roc_auc(f1, (fp + tn) / (tp + fn))
    t, f = tp / (tp + fn), fp / (fp + tn)
    assert roc_auc_score(y, s) == pytest.approx(t * (1 - f)) and t * (1 - f) >= bound - 1e-12
    ends = auc_bound.operating_points(f1, (fp + tn) / (tp + fn))
    assert any(np.isclose(t, te) and np.isclose(f, fe) for te, fe in ends)
    assert bound == pytest.approx(min(te * (1 - fe) for te, fe in ends))


def test_no_classifier_beats_the_bound():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_pos, n_neg = rng.integers(5, 60, 2)
        y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
        s = rng.normal(size=len(y)) + rng.uniform(-2, 3) * y
        threshold = rng.choice(s)
        f1 = f1_score(y, s >= threshold)
        if f1 > 0:
            assert roc_auc_score(y, s) >= auc_bound.min_roc_auc(f1, n_neg / n_pos) - 1e-12
            predicted = s >= threshold
            balanced = (predicted[y == 1].mean() + (~predicted[y == 0]).mean()) / 2
            assert balanced >= auc_bound.min_balanced_accuracy(f1, n_neg / n_pos) - 1e-12


def test_an_f1_no_better_than_calling_everything_positive_bounds_nothing():
    assert auc_bound.min_roc_auc(2 / 3, 1.0) == pytest.approx(0.0)
    assert auc_bound.min_roc_auc(0.5, 1.0) == 0.0


def test_the_papers_l_dscmr_au1_cell():
    """Table 4: F1 89.84 on a test set with N:P 1.00; the ROC AUC cannot be below 77.4."""
    (cell,) = [c for c in auc_bound.cells("Table 4", paper.TABLE4_F1, paper.TABLE4_AUC, paper.TABLE4_TEST_NP,
                                          paper.METHODS) if c.au == 1 and c.method == "L-DSCMR"]
    assert cell.bound == pytest.approx(100 * (1 - 2 * (1 - 0.8984) / 0.8984), abs=1e-9)
    assert cell.bound == pytest.approx(77.38, abs=0.01) and cell.auc == 49.77 and cell.below
