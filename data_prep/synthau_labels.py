"""synthau's label sampler: multi-label AU vectors at the paper's N:P ratios, with expression-like co-occurrence.

The paper gives each EmotioNet AU's imbalance as N:P, negatives per positive: Table 2 for the training
set, Table 4 for the validation and test sets (dscmr/paper.py: TABLE2_TRAIN_NP, TABLE4_VAL_NP,
TABLE4_TEST_NP; build_synthau's `--imbalance` picks which ratios a split gets). The paper does not
say how its AUs co-occur; here they co-occur through prototypical expressions (docs/data.md,
"Imbalance and co-occurrence"). The renderer, data_prep/synthau.py, draws a face for each vector.
"""
import numpy as np

# Prototypical expressions (core AUs within the 11), after the EmotioNet prototypes of the basic
# emotions (AU6+12 for a smile, AU1+2+5+26 for surprise, ...) plus speech-like lip parting.
PROTOTYPES = (
    ("smile", (6, 12)), ("open smile", (6, 12, 25)), ("surprise", (1, 2, 5, 25, 26)),
    ("fear", (1, 2, 4, 5, 20, 25)), ("sadness", (1, 4, 17)), ("anger", (4, 17)),
    ("disgust", (4, 9, 17)), ("speech", (25, 26)),
)
PROTOTYPE_SHARE = 0.6   # at most this share of an AU's positives comes from prototypes


def prototype_weights(aus, p):
    """Expression probabilities w_e: each AU k gets at most PROTOTYPE_SHARE of its prevalence p_k
    through prototypes, shared among the prototypes that contain it."""
    protos = [(name, tuple(k for k in core if k in aus)) for name, core in PROTOTYPES]
    protos = [(n, c) for n, c in protos if len(c) >= 2]
    n_k = {k: sum(k in c for _, c in protos) for k in aus}
    w = np.array([PROTOTYPE_SHARE * min(p[k] / n_k[k] for k in c) for _, c in protos])
    if w.sum() > 0.95:
        w *= 0.95 / w.sum()
    return protos, w


def sample_labels(n, aus, ratios, rng):
    """n x len(aus) 0/1 labels with exactly round(n / (1 + N:P)) positives per AU (at least 1) and
    prototype co-occurrence. An expression e is drawn with probability w_e and switches its core
    AUs on; every AU is also on independently with the background rate b_k that makes its
    prevalence p_k = W_k + (1 - W_k) b_k, W_k = sum of w_e over the prototypes holding k. The
    counts are then made exact by switching off (or on) random background activations."""
    aus = tuple(aus)
    p = {k: 1.0 / (1.0 + ratios[k]) for k in aus}
    protos, w = prototype_weights(aus, p)
    col = {k: i for i, k in enumerate(aus)}
    W = {k: sum(wi for wi, (_, c) in zip(w, protos) if k in c) for k in aus}
    b = np.array([(p[k] - W[k]) / (1 - W[k]) for k in aus])
    choice = rng.choice(len(protos) + 1, size=n, p=np.append(w, 1 - w.sum()))
    core = np.zeros((n, len(aus)), bool)
    for e, (_, c) in enumerate(protos):
        rows = choice == e
        for k in c:
            core[rows, col[k]] = True
    y = core | (rng.random((n, len(aus))) < b)
    for j in rng.permutation(len(aus)):
        k = aus[j]
        target = max(1, int(round(n * p[k])))
        have = int(y[:, j].sum())
        if have > target:
            on = np.flatnonzero(y[:, j])
            order = np.concatenate([rng.permutation(on[~core[on, j]]), rng.permutation(on[core[on, j]])])
            y[order[:have - target], j] = False
        elif have < target:
            off = np.flatnonzero(~y[:, j])
            y[rng.choice(off, target - have, replace=False), j] = True
    return y.astype(np.float32)
