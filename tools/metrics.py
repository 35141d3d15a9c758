"""The paper's metrics (Sec. 3.1 "Metrics"): per-AU F1-score and AUC, and their means over AUs.

Labels equal to the ignore label (999, "not annotated") are left out of that AU's metrics only.
"""
import numpy as np
from sklearn.metrics import roc_auc_score

from tools import paper


def per_au_metrics(probs, labels, aus, threshold=0.5, ignore_label=paper.IGNORE_LABEL):
    """One dict per AU: F1 and AUC in %, accuracy in %, positives, negatives and N:P of the
    labelled samples. F1 is 0 when the AU has no positive and none is predicted; AUC is NaN
    when the AU's labels hold only one class (it is undefined there)."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.float64)
    if probs.shape != labels.shape or probs.ndim != 2 or probs.shape[1] != len(aus):
        raise ValueError(f"probabilities {probs.shape} and labels {labels.shape} must both be N x {len(aus)}")
    bad = ~np.isin(labels, (0, 1, ignore_label))
    if bad.any():
        j, i = np.argwhere(bad)[0]
        raise ValueError(f"label {labels[j, i]:g} at (sample {j}, AU{aus[i]}) is not 0, 1 or {ignore_label}")
    rows = []
    for i, au in enumerate(aus):
        valid = labels[:, i] != ignore_label
        y = labels[valid, i] == 1
        p = probs[valid, i]
        predicted = p >= threshold
        tp = int(np.sum(predicted & y))
        fp = int(np.sum(predicted & ~y))
        fn = int(np.sum(~predicted & y))
        pos, neg = int(y.sum()), int((~y).sum())
        rows.append({
            "au": au,
            "f1": 100.0 * 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
            "auc": 100.0 * roc_auc_score(y, p) if pos and neg else float("nan"),
            "accuracy": 100.0 * np.mean(predicted == y) if len(y) else float("nan"),
            "positives": pos,
            "negatives": neg,
            "np_ratio": neg / pos if pos else float("inf"),
        })
    return rows


def mean_metrics(rows):
    """Means over AUs of F1, AUC and accuracy ("we computed the average metrics on all AUs");
    an AU whose AUC is undefined is left out of the AUC mean."""
    means = {}
    for key in ("f1", "auc", "accuracy"):
        defined = [r[key] for r in rows if not np.isnan(r[key])]
        means[key] = float(np.mean(defined)) if defined else float("nan")
    return means
