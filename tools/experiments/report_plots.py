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


def seed1_trainings(experiment_dir):
    """{run name: {the training's origin "<experiment>/<budget>": (the budgets here that hold it, its own
    first, its curve, the iteration an unfinished run reached or None)}} of seed 1's committed runs. A
    record copied from another budget (reused_from) is the same training, one line; an unfinished one
    (.partial.json) is drawn as such."""
    experiment_dir = Path(experiment_dir)
    runs = {}
    for path in sorted((experiment_dir / "runs").glob("*-s1/*.json")):
        record = json.loads(path.read_text())
        curve = [(e["iteration"], e["val"]["mean"]["auc"]) for e in record.get("evaluations", [])]
        if len(curve) < 2:
            continue
        budget = path.parent.name.removesuffix("-s1")
        origin = record.get("reused_from", f"{experiment_dir.name}/{budget}")
        origin = origin if "/" in origin else f"{origin}/{budget}"
        unfinished = record["plateau"]["reached"] if record.get("unfinished") else None
        held, _, _ = runs.setdefault(path.name.removesuffix(".partial.json").removesuffix(".json"), {}) \
            .setdefault(origin, ([], curve, unfinished))
        held.append(budget)
    for trainings in runs.values():
        for origin, (held, _, _) in trainings.items():
            own = origin.split("/", 1)[1]
            held.sort(key=lambda budget, own=own: (budget != own, budget))    # where it trained first
    return runs


def readings_curves(experiment_dir, dataset):
    """experiment_dir/READINGS_PLOT: each run's validation mean AUC per snapshot under every budget and
    reading it was trained at (seed 1's committed runs, an unfinished one dashed), one panel per run that
    was trained more than once, one colour per budget; returns whether it wrote it."""
    runs = {name: trainings for name, trainings in seed1_trainings(experiment_dir).items() if len(trainings) > 1}
    if not runs:
        return False
    plt = pyplot()
    budgets = sorted({origin.split("/", 1)[1] for trainings in runs.values() for origin in trainings})
    colour = {budget: plt.get_cmap("tab10")(i % 10) for i, budget in enumerate(budgets)}
    columns = min(3, len(runs))
    rows = -(-len(runs) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.4 * columns, 4.4 * rows), squeeze=False)
    for ax, (name, trainings) in zip(axes.flat, sorted(runs.items())):
        for origin, (held, curve, unfinished) in sorted(trainings.items()):
            experiment, budget = origin.split("/", 1)
            label = " = ".join(held) + ("" if experiment == Path(experiment_dir).name else f" ({origin}'s run)")
            if unfinished:
                label += f", unfinished at {unfinished}"
            ax.plot(*zip(*curve), "o--" if unfinished else "o-", markersize=2, color=colour[budget], label=label)
        ax.axhline(50, color="grey", linestyle=":", linewidth=1)
        ax.axvline(paper.LR_STEP, color="grey", linestyle="--", linewidth=0.8)
        ax.set(title=name, xlabel="iteration", ylabel="val mean AUC (%)")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    for ax in list(axes.flat)[len(runs):]:
        ax.axis("off")
    fig.suptitle(f"Validation mean AUC under each budget and reading, seed 1, on {dataset}\none line per training "
                 f"(a = b: one run committed under both budgets)\ngrey dashed: the rate step at {paper.LR_STEP}",
                 fontsize=9)
    savefig(fig, Path(experiment_dir) / READINGS_PLOT)
    plt.close(fig)
    return True
