"""The results folder of one tools/reproduce.py experiment: <experiment>.md (tables beside the
paper's), <experiment>.json (every number), PNG plots, and each run's caffe log and curves.

The folder is assembled in a temporary directory and swapped into place, so it always holds one
whole report. The paper's numbers come from tools/paper.py and are labelled with their database;
ours are labelled with the dataset they were measured on.
"""
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from tools import paper
from tools.parse_log import parse_log, plot_curves


def fmt(value):
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.2f}"


def run_name(planned):
    return f"{planned.method}_{planned.data_name}"


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
        f"- command: `{context['command']}` (commit {context['commit']})",
        f"- budget `{context['budget_name']}`: {b['iters']} iterations, batch {b['batch_size']}, train samples "
        f"{b['train_size'] or 'all'}, validation {b['val_size'] or 'all'}, test {b['test_size'] or 'all'}, "
        f"{b['points']} test/snapshot points; solver_mode {context['solver_mode']}; Sec. 3.1's lr, momentum and "
        "weight decay",
        "",
    ]


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def savefig(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def fig5(runs, results, out):
    lines = ["## Fig. 5: AU1 alone, AlexNet with and without MSR", "",
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
    lines += ["Robustness to N:P (the paper: with MSR \"the curves of accuracy in varying proportions are almost "
              "overlapped\", accuracy about 90% at 5 and 30; without MSR above 70% at 5, then \"drastically "
              "reduced\"):", ""]
    lines += table(["method", "ratios run", "lowest final accuracy (%)", "highest (%)", "spread (points)"], spread)
    if curves:
        plt = pyplot()
        fig, axes = plt.subplots(len(curves), 2, figsize=(10, 3.6 * len(curves)), squeeze=False)
        for row, (name, by_ratio) in enumerate(curves.items()):
            for ratio, (accuracy, losses) in sorted(by_ratio.items()):
                axes[row][0].plot(list(accuracy), list(accuracy.values()), "o-", label=f"N:P {ratio}")
                axes[row][1].plot(list(losses), list(losses.values()), "o-", label=f"N:P {ratio}")
            axes[row][0].set(title=f"{name}: test accuracy", xlabel="iteration", ylabel="accuracy (%)")
            axes[row][1].set(title=f"{name}: test loss", xlabel="iteration", ylabel="loss")
            axes[row][0].legend()
        savefig(fig, out / "fig5.png")
        plt.close(fig)
        lines += ["![Fig. 5 style curves](fig5.png)", ""]
    return lines


def table23(runs, results, out, dataset_aus):
    paper_columns = tuple(dataset_aus) == paper.EMOTIONET_AUS
    lines = ["## Tables 2-3: AlexNet + MSR vs AlexNet + Ad-MSR, per-AU accuracy (%)", "",
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


def table45(runs, results, out, dataset):
    reference = ("Table 5 (CK+)", paper.TABLE5_F1, paper.TABLE5_AUC) if dataset == "ckplus" else \
        ("Table 4 (EmotioNet)", paper.TABLE4_F1, paper.TABLE4_AUC)
    done = [r for r in runs if r.key in results]
    lines = ["## Tables 4-5: the six methods, per-AU F1 and AUC (%)", ""]
    if not done:
        return lines + ["No run has finished yet.", ""]
    aus = results[done[0].key]["aus"]
    test = results[done[0].key]["derived"]["test"]
    summary = []
    for metric, paper_table in (("f1", reference[1]), ("auc", reference[2])):
        label = "F1-score" if metric == "f1" else "AUC"
        rows = []
        for i, au in enumerate(aus):
            np_ratio = test["negatives"][f"AU{au}"] / max(1, test["positives"][f"AU{au}"])
            rows.append([f"AU{au}", fmt(np_ratio)] + [fmt(results[r.key]["evaluations"][-1]["per_au"][i][metric])
                                                      for r in done])
        rows.append(["mean", ""] + [fmt(results[r.key]["evaluations"][-1]["mean"][metric]) for r in done])
        lines += [f"### {label} (%), this run on {dataset}", ""] + table(["AU", "test N:P"] + [r.key for r in done], rows)
        paper_rows = [[f"AU{au}"] + [fmt(v) for v in paper_table[au]] for au in aus if au in paper_table]
        if paper_rows:
            lines += [f"### {label} (%), paper {reference[0]}", ""] + table(["AU"] + list(paper.METHODS), paper_rows)
    for r in done:
        res = results[r.key]
        column = paper.METHODS.index(r.key)
        paper_f1 = np.mean([reference[1][au][column] for au in aus if au in reference[1]] or [np.nan])
        paper_auc = np.mean([reference[2][au][column] for au in aus if au in reference[2]] or [np.nan])
        summary.append([r.key, fmt(res["evaluations"][-1]["mean"]["f1"]), fmt(paper_f1),
                        fmt(res["evaluations"][-1]["mean"]["auc"]), fmt(paper_auc),
                        fmt(res["train_seconds"] / res["schedule"]["iters"])])
    lines += [f"### Means over AUs: this run on {dataset} vs paper {reference[0]}", ""]
    lines += table(["method", "F1 (this run)", "F1 (paper)", "AUC (this run)", "AUC (paper)", "train wall s/iter (with tests)"], summary)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.arange(len(summary))
    for ax, (ours, theirs, label) in zip(axes, ((1, 2, "mean F1 (%)"), (3, 4, "mean AUC (%)"))):
        ax.bar(x - 0.2, [float(s[ours]) if s[ours] != "–" else 0 for s in summary], 0.4, label=f"this run ({dataset})")
        ax.bar(x + 0.2, [float(s[theirs]) if s[theirs] != "–" else 0 for s in summary], 0.4,
               label=f"paper, {reference[0]}")
        ax.set_xticks(x, [s[0] for s in summary], rotation=20)
        ax.set(ylabel=label)
        ax.legend(fontsize=8)
    savefig(fig, out / "table4-5.png")
    plt.close(fig)
    return lines + ["![means per method](table4-5.png)", ""]


def write(out, experiment, runs, results, context):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "logs").mkdir()
        (tmp / "curves").mkdir()
        for r in runs:
            if r.key in results:
                log = Path(results[r.key]["log"])
                shutil.copyfile(log, tmp / "logs" / f"{run_name(r)}.log")
                with open(log, errors="replace") as f:
                    train, test = parse_log(f)
                if train or test:
                    plot_curves(train, test, tmp / "curves" / f"{run_name(r)}.png", title=run_name(r), aus=r.aus)
        lines = header(context)
        if experiment == "fig5":
            lines += fig5(runs, results, tmp)
        elif experiment == "table2-3":
            lines += table23(runs, results, tmp, context["dataset_aus"])
        else:
            lines += table45(runs, results, tmp, context["dataset"])
        lines += ["Each run's caffe log is in logs/, its loss curves in curves/; every number is in "
                  f"{experiment}.json.", ""]
        (tmp / f"{experiment}.md").write_text("\n".join(lines))
        runs_json = [{"key": list(r.key) if isinstance(r.key, tuple) else r.key, "method": r.method,
                      "run_name": run_name(r), "log": f"logs/{run_name(r)}.log",
                      **{k: v for k, v in results[r.key].items() if k not in ("log", "weights")}}
                     for r in runs if r.key in results]
        (tmp / f"{experiment}.json").write_text(json.dumps(dict(context, runs=runs_json), indent=1, default=float) + "\n")
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
