"""The results of one tools/experiments/reproduce.py experiment, results/<dataset>/<experiment>/:

  runs/<budget>-s<seed>/   each finished run, whole (tools/experiments/results_store.py), written as soon as it finishes
  <budget>/                the report of every seed's runs at that budget (write): <experiment>.md
                           (tables beside the paper's), <experiment>.json (every number), PNG plots,
                           and each run's caffe log and curves

A report folder is assembled in a temporary directory and swapped into place, so it always holds
one whole report, and a report at one budget never replaces another budget's (an overridden budget,
`--budget cpu --iters 100`, is another budget: cpu-iters100). The paper's numbers come from
dscmr/paper.py and are labelled with their database; ours with the dataset they were measured on.
"""
import hashlib
import inspect
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dscmr import paper, readings
from dscmr.files import naming
from tools.evaluation.metrics import bootstrap_metrics, resample_counts, with_intervals
from tools.experiments import report_plots
from tools.experiments.plateau import PLATEAU_POINTS, plateau_iteration
from tools.experiments.report_plots import pyplot, savefig
from tools.experiments.results_store import run_name, seeded
from tools.nets.parse_log import parse_log, plot_curves


def fmt(value):
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.2f}"


def test_losses(log_path):
    """{iteration: loss} of Caffe's test phase (the last record per iteration, as resumed logs repeat)."""
    with open(log_path, errors="replace") as f:
        _, test = parse_log(f)
    return {r["iteration"]: r["loss"] for r in test if "loss" in r}


def header(context):
    b = context["budget"]
    return [
        f"# {context['experiment']} on {context['dataset']}",
        "",
        f"Measured on **{context['dataset']}** (`{context['data']}`, built by `{context['data_command']}`); the "
        "paper's numbers beside them are the paper's own, on the database its table names.",
        "",
        f"- last written by: `{context['command']}` (commit {context['commit']}); each run's own record is in "
        f"runs/{context['budget_name']}-s<seed>/",
        f"- budget `{context['budget_name']}`: {b['iters']} iterations, batch {b['batch_size']}, train samples "
        f"{b['train_size'] or 'all'}, validation {b['val_size'] or 'all'}, test {b['test_size'] or 'all'}, "
        f"{b['points']} test/snapshot points"
        + (f", then on until flat, at most {b['until_flat']} iterations" if b.get("until_flat") else "")
        + f"; solver_mode {context['solver_mode']}; Sec. 3.1's lr, momentum and weight decay",
        f"- readings (dscmr/readings.py): {readings.Readings(**context.get('readings', {})).describe()}",
        f"- seeds: {', '.join(map(str, context['seeds']))} (the solvers' random_seed; this command trained seed "
        f"{context['seed']}, the others' runs come from runs/{context['budget_name']}-s<seed>/)",
        "",
    ]


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def fig5(runs, results, out, seed):
    lines = [f"## Fig. 5: AU1 alone, AlexNet with and without MSR, seed {seed}", "",
             "Test accuracy (threshold 0.5) and AUC on the balanced test split after the last iteration; "
             "test loss is the net's own loss (cross-entropy or MSR) on the balanced validation split "
             "in Caffe's test phase.", ""]
    rows, curves = [], {}
    for r in runs:
        res = results.get(r.key)
        if res is None:
            continue
        name, ratio = r.key
        accuracy = {e["iteration"]: e["per_au"][0]["accuracy"] for e in res["evaluations"]}
        losses = test_losses(res["log"])
        curves.setdefault(name, {})[ratio] = (accuracy, losses)
        last = res["evaluations"][-1]["per_au"][0]
        train = res["derived"]["train"]
        rows.append([name, ratio, train["positives"]["AU1"], train["negatives"]["AU1"], fmt(last["accuracy"]),
                     fmt(last["auc"]), fmt(losses.get(res["evaluations"][-1]["iteration"]))])
    lines += table(["method", "train N:P", "train positives", "train negatives", "test accuracy (%)",
                    "test AUC (%)", "final test loss"], rows)
    spread = []
    for name, by_ratio in curves.items():
        final = [acc[max(acc)] for acc, _ in by_ratio.values()]
        spread.append([name, len(final), fmt(min(final)), fmt(max(final)), fmt(max(final) - min(final))])
    lines += ["Robustness to N:P (the paper, Sec. 3.2: AlexNet + MSR " + paper.FIG5_TEXT["AlexNet + MSR"][1]
              + "; AlexNet " + paper.FIG5_TEXT["AlexNet"][1] + "; dashed in the plot):", ""]
    lines += table(["method", "ratios run", "lowest final accuracy (%)", "highest (%)", "spread (points)"], spread)
    if curves:
        plt = pyplot()
        fig, axes = plt.subplots(len(curves), 2, figsize=(10, 3.6 * len(curves)), squeeze=False)
        for row, (name, by_ratio) in enumerate(curves.items()):
            for ratio, (accuracy, losses) in sorted(by_ratio.items()):
                axes[row][0].plot(list(accuracy), list(accuracy.values()), "o-", label=f"N:P {ratio}")
                axes[row][1].plot(list(losses), list(losses.values()), "o-", label=f"N:P {ratio}")
            if name in paper.FIG5_TEXT:
                level, words = paper.FIG5_TEXT[name]
                axes[row][0].axhline(level, color="grey", linestyle="--", label=f"paper: {words}")
            axes[row][0].set(title=f"{name}: test accuracy", xlabel="iteration", ylabel="accuracy (%)")
            axes[row][1].set(title=f"{name}: test loss", xlabel="iteration", ylabel="loss")
            axes[row][0].legend(fontsize=7)
        name = "fig5.png" if seed == 1 else f"fig5-s{seed}.png"
        savefig(fig, out / name)
        plt.close(fig)
        lines += [f"![Fig. 5 style curves, seed {seed}]({name})", ""]
    return lines


def table23(runs, results, dataset_aus, seed):
    paper_columns = tuple(dataset_aus) == paper.EMOTIONET_AUS
    lines = [f"## Tables 2-3: AlexNet + MSR vs AlexNet + Ad-MSR, per-AU accuracy (%), seed {seed}", "",
             "Paper: Table 3 (EmotioNet)" + ("" if paper_columns else " is not shown: this dataset's AUs differ"),
             ""]
    by_k = {}
    for r in runs:
        if r.key in results:
            by_k.setdefault(r.key[1], {})[r.key[0]] = results[r.key]
    for k, res in sorted(by_k.items()):
        aus = next(iter(res.values()))["aus"]
        head = ["AU", "train N:P"] + ([f"paper {m}" for m in ("MSR", "Ad-MSR")] if paper_columns else []) + \
               [f"{m} (this run)" for m in ("MSR", "Ad-MSR")]
        rows = []
        for i, au in enumerate(aus):
            any_run = next(iter(res.values()))["derived"]["train"]
            np_ratio = any_run["negatives"][f"AU{au}"] / max(1, any_run["positives"][f"AU{au}"])
            row = [f"AU{au}", fmt(np_ratio)]
            if paper_columns:
                row += [fmt(v) for v in paper.TABLE3_ACCURACY[k][au]]
            for m in ("MSR", "Ad-MSR"):
                row.append(fmt(res[m]["evaluations"][-1]["per_au"][i]["accuracy"]) if m in res else "–")
            rows.append(row)
        mean_row = ["mean", ""] + ([fmt(v) for v in paper.TABLE3_MEAN[k]] if paper_columns else [])
        mean_row += [fmt(res[m]["evaluations"][-1]["mean"]["accuracy"]) if m in res else "–" for m in ("MSR", "Ad-MSR")]
        lines += [f"### {k} AUs", ""] + table(head, rows + [mean_row])
    return lines


def ci(bounds):
    return "–" if not bounds or np.isnan(bounds[0]) else f"[{bounds[0]:.1f}, {bounds[1]:.1f}]"


_BOOTSTRAPPED = {}


def bootstrapped(path):
    """(probs, labels, AUs, the shared resamples, bootstrap_metrics under them) of a committed
    <run>.test.npz: the audit's tables and its claims read the same runs, and each bootstrap of a run
    takes a second or more, so it is computed once per content of the file (a run copied into another
    budget's or experiment's folder is the same run)."""
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _BOOTSTRAPPED:
        with np.load(io.BytesIO(data)) as saved:
            probs, labels, aus = saved["probs"], saved["labels"], tuple(int(a) for a in saved["aus"])
        counts = resample_counts(len(labels))
        _BOOTSTRAPPED[digest] = probs, labels, aus, counts, bootstrap_metrics(probs, labels, aus, counts)
    return _BOOTSTRAPPED[digest]


def test_intervals(result):
    """(per-AU rows, means) with 95 % bootstrap intervals from a run's test probabilities, or None."""
    path = result.get("test_probs")
    if not path or not Path(path).is_file():
        return None
    probs, labels, aus, _, boot = bootstrapped(path)
    return with_intervals(probs, labels, aus, boot=boot)


def over_seeds(values):
    """(mean, sd) of one number over seeds (sd NaN with one seed); NaNs left out."""
    values = [v for v in values if v is not None and not np.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def fmt_seeds(values):
    mean, sd = over_seeds(values)
    return fmt(mean) if len(values) == 1 or np.isnan(sd) else f"{mean:.2f} ± {sd:.2f}"


def stop_of(plateau):
    """Where a run trained until flat stopped, in words (its record's "plateau")."""
    if plateau["flattened"]:
        return f"flat and trained at {plateau['stopped_at']}"
    return f"at the cap, {plateau['stopped_at']}: not flat, or not trained"


def validation_curves(curves, out, dataset, plateaus=None):
    """Validation mean AUC per snapshot of each run ({label: [(iteration, AUC)]}), plotted, with the
    plateau rule applied; plateaus: {label: the record's "plateau"} of runs trained until flat."""
    curves = {k: v for k, v in curves.items() if len(v) > 1}
    if not curves:
        return []
    plateaus = {k: v for k, v in (plateaus or {}).items() if v and k in curves}
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    rows = []
    for name, curve in curves.items():
        ax.plot(*zip(*curve), "o-", label=name, markersize=3)
        t = plateau_iteration(curve)
        rows.append([name, curve[-1][0], fmt(curve[-1][1]), t if t else f"not within {curve[-1][0]}"]
                    + ([stop_of(plateaus[name]) if name in plateaus else "–"] if plateaus else []))
    ax.axhline(50, color="grey", linestyle=":", linewidth=1, label="chance (AUC 50)")
    ax.set(xlabel="iteration", ylabel="validation mean AUC (%)", title=f"Learning curves on {dataset}")
    ax.legend(fontsize=8)
    savefig(fig, out / "validation-curves.png")
    plt.close(fig)
    return ([f"### Validation mean AUC per snapshot, on {dataset}", "",
             f"Rule: a run has learned what it will at the first iteration T at which its validation mean AUC rose "
             f"by less than {PLATEAU_POINTS:g} point over the last quarter of [0, T] (T >= 1000).", ""]
            + table(["run", "last iteration", "val mean AUC there", "T (the rule)"]
                    + (["trained until flat: stopped"] if plateaus else []), rows)
            + ["![validation mean AUC per snapshot](validation-curves.png)", ""])


def paper_reference(dataset):
    """(name, F1 table, AUC table) of the paper's table that a dataset's Tables 4-5 compare with."""
    return ("Table 5 (CK+)", paper.TABLE5_F1, paper.TABLE5_AUC) if dataset == "ckplus" else \
        ("Table 4 (EmotioNet)", paper.TABLE4_F1, paper.TABLE4_AUC)


def paper_means(key, aus, dataset):
    """(F1, AUC): the paper's means over those of aus its table has, for method key (NaN for none)."""
    _, f1_table, auc_table = paper_reference(dataset)
    column = paper.METHODS.index(key)
    return tuple(float(np.mean([t[au][column] for au in aus if au in t] or [np.nan])) for t in (f1_table, auc_table))


def means_head(dataset):
    return ["method", "seed", f"F1 (%), this project on {dataset}", "95 % CI", "F1 (%), paper",
            f"AUC (%), this project on {dataset}", "95 % CI", "AUC (%), paper", "train wall s/iter (with tests)"]


def means_rows(key, seeded, paper_f1_auc, intervals):
    """The means table's rows (means_head) of one method: a row per seed of seeded ({seed: result}),
    with the bootstrap intervals of intervals ({seed: test_intervals(...)}), and with several seeds
    their mean ± sd."""
    paper_f1, paper_auc = map(fmt, paper_f1_auc)
    rows, last = [], {seed: res["evaluations"][-1]["mean"] for seed, res in seeded.items()}
    for seed, res in seeded.items():
        ci_of = (intervals.get(seed) or (None, {}))[1]
        rows.append([key, seed, fmt(last[seed]["f1"]), ci(ci_of.get("f1_ci")), paper_f1, fmt(last[seed]["auc"]),
                     ci(ci_of.get("auc_ci")), paper_auc, fmt(res["train_seconds"] / res["schedule"]["iters"])])
    if len(seeded) > 1:
        rows.append([key, f"mean ± sd of {len(seeded)}", fmt_seeds([m["f1"] for m in last.values()]), "", paper_f1,
                     fmt_seeds([m["auc"] for m in last.values()]), "", paper_auc, ""])
    return rows


def trained_on(results):
    """Where each run ({label: result}) trained (training_run records it in the log), so that its
    seconds per iteration can be read, and two runs that should agree but do not can be told apart."""
    lines = ["Where each run trained (CPU, and the Caffe build under `~/.cache/dscmr`):", ""]
    for label, res in results.items():
        lines.append(f"- {label}: " + ("; ".join(res.get("trained_on", [])) or "not recorded"))
    return lines + [""]


def table45(runs, by_seed, out, dataset):
    """Tables 4-5 over every committed seed: per-AU values as the mean ± sd over seeds, each seed's
    means with bootstrap intervals over test faces, the curves, per-AU bars."""
    reference = paper_reference(dataset)
    seeded_results = {r.key: {seed: res[r.key] for seed, res in by_seed.items() if r.key in res} for r in runs}
    done = [r for r in runs if seeded_results[r.key]]
    lines = ["## Tables 4-5: the six methods, per-AU F1 and AUC (%)", ""]
    if not done:
        return lines + ["No run has finished yet.", ""]
    first = next(iter(seeded_results[done[0].key].values()))
    aus, test = first["aus"], first["derived"]["test"]
    seeds = sorted({seed for r in done for seed in seeded_results[r.key]})
    over = f", mean ± sd over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f", seed {seeds[0]}"

    def finals(r, metric, i=None):
        return [(e["mean"] if i is None else e["per_au"][i])[metric]
                for e in (res["evaluations"][-1] for res in seeded_results[r.key].values())]
    for metric, paper_table in (("f1", reference[1]), ("auc", reference[2])):
        label = "F1-score" if metric == "f1" else "AUC"
        rows = [[f"AU{au}", fmt(test["negatives"][f"AU{au}"] / max(1, test["positives"][f"AU{au}"]))]
                + [fmt_seeds(finals(r, metric, i)) for r in done] for i, au in enumerate(aus)]
        rows.append(["mean", ""] + [fmt_seeds(finals(r, metric)) for r in done])
        lines += [f"### {label} (%), this project on {dataset}{over}", ""] + \
            table(["AU", "test N:P"] + [r.key for r in done], rows)
        paper_rows = [[f"AU{au}"] + [fmt(v) for v in paper_table[au]] for au in aus if au in paper_table]
        if paper_rows:
            lines += [f"### {label} (%), paper {reference[0]}", ""] + table(["AU"] + list(paper.METHODS), paper_rows)
    intervals = {(r.key, seed): test_intervals(res) for r in done for seed, res in seeded_results[r.key].items()}
    summary, means = [], {}
    for r in done:
        paper_f1_auc = paper_means(r.key, aus, dataset)
        summary += means_rows(r.key, seeded_results[r.key], paper_f1_auc,
                              {seed: intervals[(r.key, seed)] for seed in seeded_results[r.key]})
        means[r.key] = {m: over_seeds(finals(r, m)) for m in ("f1", "auc")}
        means[r.key]["paper"] = paper_f1_auc
    lines += [f"### Means over AUs: this project on {dataset} vs paper {reference[0]}", "",
              "95 % intervals: bootstrap over test faces (tools/evaluation/metrics.py), per seed; – where the run kept no test "
              "probabilities.", ""]
    lines += table(means_head(dataset), summary)
    lines += trained_on({f"{r.key}, seed {seed}": res for r in done for seed, res in seeded_results[r.key].items()})
    curves = {f"{r.key}, seed {seed}": [(e["iteration"], e["val"]["mean"]["auc"]) for e in res["evaluations"] if "val" in e]
              for r in done for seed, res in seeded_results[r.key].items()}
    plateaus = {f"{r.key}, seed {seed}": res.get("plateau") for r in done for seed, res in seeded_results[r.key].items()}
    lines += validation_curves(curves, out, dataset, plateaus)
    bars, several = {}, len(seeds) > 1
    for r in done:
        by_metric = {}
        for m in ("f1", "auc"):
            per_seed = np.array([finals(r, m, i) for i in range(len(aus))]).T       # seeds x AUs
            values = per_seed.mean(0)
            if several:
                # A method with one seed among several has no spread: no error bar, not a zero one.
                sd = per_seed.std(0, ddof=1) if len(per_seed) > 1 else np.full(len(aus), np.nan)
                by_metric[m] = (values, values - sd, values + sd, list(per_seed))
            else:
                rows = (intervals[(r.key, seeds[0])] or [None])[0]
                bounds = np.array([row[f"{m}_ci"] for row in rows]) if rows else np.column_stack([values, values])
                by_metric[m] = (values, bounds[:, 0], bounds[:, 1], [])
        n_seeds = len(seeded_results[r.key])
        bars[f"{r.key} ({n_seeds} seed{'s' if n_seeds > 1 else ''})" if several else r.key] = by_metric
    spread = "mean ± sd over seeds, dots: each seed" if several else "95 % bootstrap intervals over test faces"
    report_plots.per_au_bars(bars, aus, out / "table4-5-per-au.png", dataset, spread)
    lines += [f"![per-AU F1 and AUC, {spread}](table4-5-per-au.png)", ""]
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.arange(len(done))
    for ax, (metric, paper_index, label) in zip(axes, (("f1", 0, "mean F1 (%)"), ("auc", 1, "mean AUC (%)"))):
        ours = np.array([means[r.key][metric] for r in done])
        ax.bar(x - 0.2, ours[:, 0], 0.4, yerr=ours[:, 1] if several else None, capsize=3,
               label=f"this project ({dataset}{over})")
        ax.bar(x + 0.2, [means[r.key]["paper"][paper_index] for r in done], 0.4, label=f"paper, {reference[0]}")
        ax.set_xticks(x, [r.key for r in done], rotation=20)
        ax.set(ylabel=label)
        ax.legend(fontsize=8)
    savefig(fig, out / "table4-5.png")
    plt.close(fig)
    return lines + ["![means per method](table4-5.png)", ""]


def curves(log, path, drawn, title, aus):
    """A run's loss curves into path: a copy of drawn (the report's previous plot of the run) when that
    was drawn from the same log by the same code (its PNG names the source), else plotted; a report is
    rewritten after every run, and would otherwise plot its first run's curves once per run."""
    import matplotlib
    from PIL import Image

    log = Path(log)
    # parse_log.py holds both the parser and plot_curves
    source = hashlib.sha256(log.read_bytes() + Path(inspect.getsourcefile(parse_log)).read_bytes()
                            + json.dumps([title, list(aus or ()), matplotlib.__version__]).encode()).hexdigest()[:16]
    if drawn.is_file():
        with Image.open(drawn) as png:
            if png.text.get("Source") == source:
                shutil.copyfile(drawn, path)
                return
    with open(log, errors="replace") as f:
        train, test = parse_log(f)
    if train or test:
        plot_curves(train, test, path, title=title, aus=aus, metadata={"Source": source})


def write(out, experiment, runs, by_seed, context):
    """The report of every seed's runs ({seed: {key: result}}) of one budget, into out
    (results/<dataset>/<experiment>/<budget>)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "curves").mkdir()
        for seed, results in by_seed.items():
            for r in runs:
                if r.key in results:
                    name = seeded(run_name(r), seed)
                    curves(results[r.key]["log"], tmp / "curves" / f"{name}.png", out / "curves" / f"{name}.png",
                           name, r.aus)
        lines = header(dict(context, seeds=list(by_seed)))
        if experiment == "table4-5":
            lines += table45(runs, by_seed, tmp, context["dataset"])
        for seed, results in by_seed.items():
            if experiment == "fig5":
                lines += fig5(runs, results, tmp, seed)
            elif experiment == "table2-3":
                lines += table23(runs, results, context["dataset_aus"], seed)
        lines += [f"Each run's caffe log is beside its record in ../runs/{out.name}-s<seed>/, its loss curves in "
                  f"curves/ (<run>-s<seed>); every number is in {experiment}.json.", ""]
        with naming(out / f"{experiment}.md"):
            (tmp / f"{experiment}.md").write_text("\n".join(lines))
        runs_json = [{"key": list(r.key) if isinstance(r.key, tuple) else r.key, "method": r.method.key, "seed": seed,
                      "run_name": run_name(r), "log": os.path.relpath(results[r.key]["log"], out),
                      **{k: v for k, v in results[r.key].items() if k not in ("log", "weights", "test_probs")}}
                     for seed, results in by_seed.items() for r in runs if r.key in results]
        report = dict(context, seeds=list(by_seed), runs=runs_json)
        with naming(out / f"{experiment}.json"):
            (tmp / f"{experiment}.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
        report_plots.readings_curves(out.parent, context["dataset"])
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
