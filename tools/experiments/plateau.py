"""When a run has learned what it will: the rule the `cpu` budget was chosen by, which the `plateau`
budget trains until (tools/experiments/training_run.py) and the reports apply to every curve."""

# The CPU budget's rule (docs/reproduce.md): a run has learned what it will at iteration T when its
# validation mean AUC rose by less than PLATEAU_POINTS over the last quarter of [0, T].
PLATEAU_POINTS = 1.0


def flat(curve, t):
    """Whether the rule holds at snapshot iteration t of [(iteration, val mean AUC)] (it can only be
    told where 0.75 t is a snapshot too)."""
    auc = dict(curve)
    start = 0.75 * t
    return (t >= 1000 and t in auc and start in auc
            and max(v for it, v in auc.items() if start < it <= t) - auc[start] < PLATEAU_POINTS)


def plateau_iteration(curve):
    """The first snapshot iteration T at which the rule holds, from [(iteration, val mean AUC)], or
    None when the curve never flattens (or is too short to tell)."""
    return next((t for t in sorted(dict(curve)) if flat(curve, t)), None)
