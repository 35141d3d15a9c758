"""The paper's metrics (Sec. 3.1 "Metrics"): per-AU F1-score and AUC, and their means over AUs,
with bootstrap intervals over the test faces.

Labels equal to the ignore label (999, "not annotated") are left out of that AU's metrics only. An AU
with no labelled positive has neither F1 nor AUC (NaN), and is left out of the means.
"""
import functools

import numpy as np

from dscmr import paper


def per_au_metrics(probs, labels, aus, threshold=0.5, ignore_label=paper.IGNORE_LABEL):
    """One dict per AU: F1 and AUC in %, accuracy in %, positives, negatives and N:P of the
    labelled samples. F1 is NaN when the AU has no labelled positive (recall is undefined), AUC
    when its labels hold only one class."""
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
            "f1": 100.0 * 2 * tp / (2 * tp + fp + fn) if pos else float("nan"),
            "auc": 100.0 * float(_weighted_auc(p, y, np.ones((1, len(y))))[0]) if pos and neg else float("nan"),
            "accuracy": 100.0 * np.mean(predicted == y) if len(y) else float("nan"),
            "positives": pos,
            "negatives": neg,
            "np_ratio": neg / pos if pos else float("inf"),
        })
    return rows


def mean_metrics(rows):
    """Means over AUs of F1, AUC and accuracy ("we computed the average metrics on all AUs");
    an AU whose F1 or AUC is undefined is left out of that mean."""
    means = {}
    for key in ("f1", "auc", "accuracy"):
        defined = [r[key] for r in rows if not np.isnan(r[key])]
        means[key] = float(np.mean(defined)) if defined else float("nan")
    return means


# ---- Bootstrap intervals over test faces -------------------------------------------------------

METRICS = ("f1", "auc", "accuracy")
BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 20190529    # fixed, so a report rebuilt from the same probabilities is the same


@functools.cache
def resample_counts(n, rounds=BOOTSTRAP_ROUNDS, seed=BOOTSTRAP_SEED):
    """rounds x n: how often each of n test faces is drawn in each bootstrap resample. The same
    counts applied to two methods' probabilities on the same faces make a paired bootstrap. Drawn
    once per size (the audit asks for the same size for every run) and read-only."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=rounds).astype(np.float64)
    counts.flags.writeable = False
    return counts


def _weighted_auc(scores, positive, w):
    """ROC AUC (Mann-Whitney, ties count half) of one AU under each row of whole-number face weights w
    (resample_counts'). In integers every sum is exact, so the AUC is rounded once, at the division
    (scikit-learn's trapezoids agree to 2e-16 on every committed run and took 16 times as long, in input
    validation); faces by rows, in 32 bits, it takes a tenth of the time of float64 columns."""
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], positive[order][:, None]
    wt = w.T[order].astype(np.int32)                                 # faces x rounds, by score
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])            # groups of tied scores
    wp, wn = wt * y, wt * ~y
    if len(starts) < len(s):
        wp, wn = np.add.reduceat(wp, starts, axis=0), np.add.reduceat(wn, starts, axis=0)
    below = np.cumsum(wn, axis=0, dtype=np.int32) - wn
    twice = (wp.astype(np.int64) * (2 * below + wn)).sum(0)          # 2 x the pairs ranked right
    with np.errstate(invalid="ignore", divide="ignore"):
        return (twice / 2) / (wp.sum(0, dtype=np.int64) * wn.sum(0, dtype=np.int64))


def bootstrap_metrics(probs, labels, aus, counts, threshold=0.5, ignore_label=paper.IGNORE_LABEL):
    """{"f1", "auc", "accuracy": rounds x n_aus} in % under each resample (F1 and AUC NaN where an
    AU has no positive or no negative in it)."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels, np.float64)
    out = {k: np.full((len(counts), len(aus)), np.nan) for k in METRICS}
    for i in range(len(aus)):
        valid = labels[:, i] != ignore_label
        y, p, w = labels[valid, i] == 1, probs[valid, i], counts[:, valid]
        predicted = p >= threshold
        tp, fp, fn = w @ (predicted & y), w @ (predicted & ~y), w @ (~predicted & y)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["f1"][:, i] = np.where(w @ y > 0, 100.0 * 2 * tp / (2 * tp + fp + fn), np.nan)
            out["accuracy"][:, i] = 100.0 * (w @ (predicted == y)) / w.sum(1)
        out["auc"][:, i] = 100.0 * _weighted_auc(p, y, w)
    return out


def mean_over_aus(samples):
    """rounds x AUs -> rounds: the mean over the AUs defined in each resample (NaN where none is: a
    resample may draw no positive of a rare AU)."""
    defined = ~np.isnan(samples)
    with np.errstate(invalid="ignore"):
        return np.where(defined.any(1), np.where(defined, samples, 0).sum(1) / defined.sum(1), np.nan)


def resampled_means(probs, labels, aus, counts, threshold=0.5, boot=None):
    """{metric: (mean over AUs, that mean under each resample)}: the means over the AUs defined on
    the full test set, as mean_metrics takes them. boot: bootstrap_metrics of the same, if known."""
    rows = per_au_metrics(probs, labels, aus, threshold)
    boot = bootstrap_metrics(probs, labels, aus, counts, threshold) if boot is None else boot
    out = {}
    for key in METRICS:
        defined = [i for i, r in enumerate(rows) if not np.isnan(r[key])]
        samples = mean_over_aus(boot[key][:, defined]) if defined else np.full(len(counts), np.nan)
        out[key] = (float(np.mean([rows[i][key] for i in defined])) if defined else float("nan"), samples)
    return out


def interval(samples, level=0.95):
    """(low, high): the percentile interval of bootstrap samples (NaNs left out)."""
    samples = np.asarray(samples, np.float64)
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return (float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    return tuple(float(v) for v in np.percentile(samples, [tail, 100 - tail]))


def with_intervals(probs, labels, aus, threshold=0.5, counts=None, boot=None):
    """per_au_metrics and mean_metrics, each F1, AUC and accuracy with "f1_ci", "auc_ci" and
    "accuracy_ci" (95 % bootstrap over test faces). The means are over the AUs defined on the full
    test set. boot: bootstrap_metrics of the same under counts, if known."""
    rows = per_au_metrics(probs, labels, aus, threshold)
    means = mean_metrics(rows)
    if boot is None:
        counts = resample_counts(len(labels)) if counts is None else counts
        boot = bootstrap_metrics(probs, labels, aus, counts, threshold)
    for key in METRICS:
        defined = [i for i, r in enumerate(rows) if not np.isnan(r[key])]
        for i, r in enumerate(rows):
            r[f"{key}_ci"] = interval(boot[key][:, i])
        means[f"{key}_ci"] = interval(mean_over_aus(boot[key][:, defined]) if defined else [])
    return rows, means


# ---- Whether a net has learned -----------------------------------------------------------------

# A net at its bias-only solution gives every face nearly the same probability of each AU (its base
# rate). Measured on the committed cpu runs: AlexNet+Ad-MSR's (test mean AUC 48-53) and Fig. 5's runs at
# chance have a largest per-AU standard deviation of 0.004-0.036; the least trained run that ranks
# some AU well (AlexNet + MSR on 11 AUs: AU25 at AUC 88.3, the others 41-60) has 0.063, and every net
# that learned AU25 to 99.9 has 0.4 and more.
SPREAD_MIN = 0.05


def output_spread(probs):
    """How much a net's outputs depend on the face: the largest, over the AUs, standard deviation of its
    probabilities over the faces (a net that has learned one AU depends on the face)."""
    return float(np.max(np.std(np.asarray(probs, np.float64), axis=0)))


def trained(auc_interval, spread):
    """A net has learned when the 95 % interval of its mean ROC AUC lies above 50 and its outputs
    depend on the face (output_spread at least SPREAD_MIN); otherwise it is "not trained"."""
    return bool(auc_interval[0] > 50 and spread >= SPREAD_MIN)
