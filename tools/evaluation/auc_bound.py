"""How low an AUC can be, given the F1-score of the same classifier on the same test set.

An F1-score fixes one operating point of the classifier: with P positives, N = r P negatives, a true
positive rate t and a false positive rate f at the threshold used,

    F1 = 2 t P / (2 t P + f N + (1 - t) P) = 2 t / (1 + t + r f),  so  f(t) = (t (2 / F1 - 1) - 1) / r.

Every positive scored at or above the threshold outranks every negative below it, so the ROC AUC
(the probability that a random positive outranks a random negative) is at least t (1 - f). Over the
operating points the F1 allows (0 <= f <= 1, t <= 1) this is a concave function of t, least at an
end of the allowed range. The same point bounds the balanced accuracy (t + 1 - f) / 2 of the
thresholded predictions, a linear function of t. When F1 is no more than the F1 of calling every
sample positive, 2 / (2 + r), the point (1, 1) is allowed and nothing is bounded.

Used by tools/experiments/audit.py on the paper's Tables 4 and 5 (F1 and AUC per AU and method, and each AU's
test N:P): a reported AUC below the bound cannot be the ROC AUC of the classifier whose F1 is
reported beside it.
"""
from dataclasses import dataclass


def operating_points(f1, np_ratio):
    """The ends (t, f) of the range of operating points an F1 (a fraction, 0 < f1 <= 1) allows on a
    test set with N:P = np_ratio (> 0)."""
    if not 0 < f1 <= 1 or np_ratio <= 0:
        raise ValueError(f"F1 must be in (0, 1] and N:P positive; got F1 {f1}, N:P {np_ratio}")
    slope = 2 / f1 - 1
    t_low = 1 / slope                                   # f = 0
    t_high = min(1.0, (1 + np_ratio) / slope)           # f = 1, or t = 1
    return [(t, max(0.0, (t * slope - 1) / np_ratio)) for t in (t_low, t_high)]


def min_roc_auc(f1, np_ratio):
    """The lowest ROC AUC (a fraction) of a classifier with this F1 (a fraction) at some threshold."""
    return max(0.0, min(t * (1 - f) for t, f in operating_points(f1, np_ratio)))


def min_balanced_accuracy(f1, np_ratio):
    """The lowest balanced accuracy (a fraction) of thresholded predictions with this F1."""
    return min((t + 1 - f) / 2 for t, f in operating_points(f1, np_ratio))


@dataclass(frozen=True)
class Cell:
    table: str
    au: int
    method: str
    f1: float          # %
    auc: float         # %, as printed
    np_ratio: float    # the AU's test N:P
    bound: float       # %, the lowest ROC AUC this F1 allows

    @property
    def below(self):
        return self.auc < self.bound


def cells(table, f1s, aucs, np_ratios, methods):
    """A Cell per (AU, method) of a paper table given as {au: (value per method)} dicts."""
    out = []
    for au, row in f1s.items():
        for method, f1, auc in zip(methods, row, aucs[au]):
            bound = 100 * min_roc_auc(f1 / 100, np_ratios[au]) if f1 > 0 else 0.0
            out.append(Cell(table, au, method, f1, auc, np_ratios[au], bound))
    return out


def readings(table_cells):
    """How many cells each reading of the printed AUC contradicts: {reading: (contradicted, cells)}."""
    n = len(table_cells)
    return {
        "ROC AUC of the scores": (sum(c.auc < c.bound for c in table_cells), n),
        "100 minus the ROC AUC (scores inverted)": (sum(100 - c.auc < c.bound for c in table_cells), n),
        "balanced accuracy of the thresholded predictions": (
            sum(c.auc < 100 * min_balanced_accuracy(c.f1 / 100, c.np_ratio) for c in table_cells if c.f1 > 0), n),
    }
