"""The reports' figures that stand on their own: per-AU bars of Tables 4-5's methods over their seeds,
and each run's validation curve under every budget and reading it was trained at
(results/<dataset>/<experiment>/readings-curves.png). tools/experiments/reproduce_report.py writes the
rest of a report and calls these."""
import json
from pathlib import Path

import numpy as np

from dscmr import paper
from dscmr.files import naming


def savefig(fig, path):
    fig.tight_layout()
    with naming(path):
        fig.savefig(path, dpi=110)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def per_au_bars(bars, aus, path, dataset, spread):
    """bars: {method: {metric: (values, low, high, per-seed values)}} per AU; spread says what the
    error bars are."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    width = 0.8 / max(1, len(bars))
    for ax, key in zip(axes, ("f1", "auc")):
        for j, (name, by_metric) in enumerate(bars.items()):
            values, low, high, dots = by_metric[key]
            x = np.arange(len(aus)) + (j - (len(bars) - 1) / 2) * width
            ax.bar(x, values, width, yerr=[values - low, high - values], capsize=2, label=name)
            for seed_values in dots:
                ax.plot(x, seed_values, ".", color="black", markersize=3)
        metric = "F1" if key == "f1" else "AUC"
        ax.set(ylabel=f"{metric} (%)", title=f"{metric} per AU on {dataset}, {spread}")
        ax.legend(fontsize=7, ncol=3)
    axes[1].set_xticks(np.arange(len(aus)), [f"AU{a}" for a in aus])
    savefig(fig, path)
    plt.close(fig)


READINGS_PLOT = "readings-curves.png"


def readings_curves(experiment_dir, dataset):
    """experiment_dir/READINGS_PLOT: each run's validation mean AUC per snapshot under every budget and
    reading it was trained at (seed 1's committed runs), one panel per run, where some run has more than
    one; returns whether it wrote it."""
    curves = {}
    for path in sorted((Path(experiment_dir) / "runs").glob("*-s1/*.json")):
        if path.name.endswith(".partial.json"):
            continue
        record = json.loads(path.read_text())
        curve = [(e["iteration"], e["val"]["mean"]["auc"]) for e in record.get("evaluations", [])]
        if len(curve) > 1:
            curves.setdefault(path.stem, {})[path.parent.name.removesuffix("-s1")] = curve
    curves = {name: by_budget for name, by_budget in curves.items() if len(by_budget) > 1}
    if not curves:
        return False
    plt = pyplot()
    columns = min(3, len(curves))
    rows = -(-len(curves) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.4 * rows), squeeze=False)
    for ax, (name, by_budget) in zip(axes.flat, sorted(curves.items())):
        for budget, curve in sorted(by_budget.items()):
            ax.plot(*zip(*curve), "o-", markersize=2, label=budget)
        ax.axhline(50, color="grey", linestyle=":", linewidth=1)
        ax.axvline(paper.LR_STEP, color="grey", linestyle="--", linewidth=0.8)
        ax.set(title=name, xlabel="iteration", ylabel="val mean AUC (%)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    fig.suptitle(f"Validation mean AUC under each budget and reading\nseed 1, on {dataset}; dashed: the rate "
                 f"step at {paper.LR_STEP}", fontsize=9)
    savefig(fig, Path(experiment_dir) / READINGS_PLOT)
    plt.close(fig)
    return True
