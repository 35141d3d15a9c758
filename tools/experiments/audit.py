"""Writes AUDIT.md: this reproduction beside the paper, number by number.

  (a) Configuration: every hyper-parameter and architecture fact of Sections 2-3, with the paper's
      sentence, this project's value at file:line, and a status: same, interpreted (the paper is
      ambiguous or silent; the reading is documented where the row points) or differs (and why).
  (b) Results: the paper's Tables 2-5 and Fig. 5 beside the experiments run with tools/experiments/reproduce.py
      (results/<dataset>/<experiment>/), each named with its dataset, and what they show about the
      paper's claims.
  (c) Environment: the Caffe source and its sha256, the patches, BLAS, compiler, Python packages.

Line numbers are found when the audit is written (each row names a string its file must hold), so a
moved line cannot leave a stale reference: a string that is missing stops the audit with its name.

The quotes of (a) are checked against the paper's text when it is there (--paper, or the
environment variable DSCMR_PAPER, default ../shared/paper/ beside the clone; the text is the
publisher's and is not shipped). Without it the audit writes everything else and says that this
one check was not made.

Examples:
  au-audit                 # writes AUDIT.md
  au-audit --check         # exit 1 if AUDIT.md's parts (a) and (b) are out of date
  au-audit --paper ~/papers/wang2019-dscmr-neurocomputing.txt
"""
import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dscmr import REPO, paper, readings
from dscmr.errors import InputError, RunError, cli
from dscmr.files import write_atomically
from tools.evaluation import metrics
from tools.experiments import claims, rederive, reproduce_report, results_store, training_run
from tools.experiments.audit_sections import ENVIRONMENT_HEADING, auc_consistency, environment, repeatable
from tools.experiments.paper_facts import FACTS, locate, unquoted
from tools.experiments.reproduce_report import ci, fmt

PROG = "au-audit"



def check_quotes(paper_text):
    """One line on what the quote check found; RunError when a quote is not the paper's."""
    reason = paper.text_missing_reason(paper_text)
    if reason:
        return f"{PROG}: quotes not checked: {reason}"
    missing = unquoted(Path(paper_text).read_text(errors="replace"))
    if missing:
        raise RunError(f"{len(missing)} quote(s) of tools/experiments/paper_facts.py or dscmr/readings.py are not in "
                       f"{paper_text}: " + "; ".join(repr(quote[:60]) for quote in missing))
    return f"{PROG}: all {len(FACTS) + len(readings.AXES)} quotes found in {paper_text}"


def readings_tried(results):
    """{axis: the values some committed report was trained under}, from every report in results/."""
    tried = {axis.name: set() for axis in readings.AXES}
    for path in Path(results).glob("*/*/*/*.json"):
        if path.stem == path.parent.parent.name:      # <dataset>/<experiment>/<budget>/<experiment>.json
            for name, value in asdict(readings.Readings(**json.loads(path.read_text()).get("readings", {}))).items():
                tried[name].add(value)
    return tried


def readings_table(results):
    """(a)'s readings run as axes: each sentence, its values in Caffe's terms, and the values tried."""
    tried = readings_tried(results)
    lines = ["### Readings run as axes", "",
             "Three sentences decide whether some nets train at all. Each is a named choice of `au-reproduce` and "
             "`au-prototxt` (`--loss-scale`, `--lr-policy`, `--beta`; `dscmr/readings.py`), recorded in each run and "
             "in its budget's name (e.g. `cpu-mean-once`); (b) judges each claim under each reading tried.", "",
             "| paper | the paper's sentence | reading | values (default first) | where | tried |",
             "|---|---|---|---|---|---|"]
    for axis in readings.AXES:
        values = "; ".join(f"`{v}`: {what}" for v, what in axis.values.items())
        shown = ", ".join(f"`{v}`" for v in axis.values if v in tried[axis.name]) or "none yet"
        where = locate("dscmr/readings.py", f'Axis("{axis.name}"')
        lines.append(f"| {axis.where} | \"{axis.quote}\" | `{axis.name}` | {values} | `{where}` | {shown} |")
    return lines + [""]


def configuration():
    counts = {s: sum(f.status == s for f in FACTS) for s in ("same", "interpreted", "differs")}
    lines = ["## (a) Configuration vs the paper", "",
             f"{len(FACTS)} facts: {counts['same']} same, {counts['interpreted']} interpreted, "
             f"{counts['differs']} differ. \"Interpreted\" means the paper is ambiguous or silent; the row says "
             "the reading and where it is documented.", "",
             "| paper | the paper's sentence | this project | where | status |", "|---|---|---|---|---|"]
    for f in FACTS:
        status = f.status + (f": {f.why}" if f.why else "")
        lines.append(f"| {f.where} | \"{f.quote}\" | {f.value} | `{locate(f.path, f.anchor)}` | {status} |")
    return lines + [""]


def load_results(results, dataset, experiment):
    """The reports of an experiment, one per budget (results/<dataset>/<experiment>/<budget>/), the
    shortest budget first, each with only the runs that re-derive (tools/experiments/rederive.py)."""
    reports = [json.loads(p.read_text()) for p in (results / dataset / experiment).glob(f"*/{experiment}.json")]
    return [dict(r, runs=[run for run in r["runs"] if not rederive.why_not(results, experiment, r, run)])
            for r in sorted(reports, key=lambda r: (r["budget"]["iters"], r["budget_name"]))]


def not_rederived(results, dataset, experiment):
    """A line for each run an experiment's reports list that does not re-derive: shown nowhere else."""
    lines = []
    for path in sorted((results / dataset / experiment).glob(f"*/{experiment}.json")):
        report = json.loads(path.read_text())
        for run in report["runs"]:
            if why := rederive.why_not(results, experiment, report, run):
                record, _ = rederive.run_files(results, experiment, report, run)
                lines.append(f"- Not shown or judged, as it does not re-derive (`tools/experiments/rederive.py`): "
                             f"`{record.relative_to(results)}` of budget `{report['budget_name']}`: {why}.")
    return lines


def final(run, key="mean"):
    return run["evaluations"][-1][key]


def budget_line(report):
    b = report["budget"]
    until = f" then until flat, at most {b['until_flat']}" if b.get("until_flat") else ""
    return (f"budget `{report['budget_name']}` ({b['iters']} iterations{until}, batch {b['batch_size']}, train "
            f"{b['train_size'] or 'all'}, test {b['test_size'] or 'all'}; readings "
            f"{claims.readings_of(report).describe()}); the report last written by "
            f"`{report['command']}` at commit {report['commit']}")


def seed_of(run):
    return run.get("seed", 1)


def fig5_results(report):
    dataset = report["dataset"]
    lines = [f"### Fig. 5 (AU1 alone), this project on {dataset} at budget `{report['budget_name']}` vs the paper on "
             "EmotioNet", "",
             f"`results/{dataset}/fig5/{report['budget_name']}/` ({budget_line(report)}); the curves are "
             f"`results/{dataset}/fig5/{report['budget_name']}/fig5.png`.",
             "",
             "| method | train N:P | seed | test accuracy (%), this run | paper (Sec. 3.2, read from its text) |",
             "|---|---:|---:|---:|---|"]
    for run in report["runs"]:
        name, ratio = run["key"]
        lines.append(f"| {name} | {ratio} | {seed_of(run)} | {fmt(final(run, 'per_au')[0]['accuracy'])} | "
                     f"{paper.FIG5_TEXT[name][1]} |")
    return lines + [""]


def run_intervals(results, experiment, report, run):
    """(rows, means) with 95 % bootstrap intervals from the run's committed test probabilities, or None."""
    folder = results_store.runs_dir(results / report["dataset"] / experiment, report["budget_name"], seed_of(run))
    return reproduce_report.test_intervals({"test_probs": str(folder / f"{run.get('run_name')}.test.npz")})


def test_spread(results, report, run):
    """metrics.output_spread of a committed run's test probabilities."""
    folder = results_store.runs_dir(results / report["dataset"] / "table4-5", report["budget_name"], seed_of(run))
    with np.load(folder / f"{run['run_name']}.test.npz") as saved:
        return metrics.output_spread(saved["probs"])


def table45_results(report, results):
    """The means table, one row per method and seed (and the mean ± sd over seeds); {method: the seeds
    whose run has not trained by claims.RULE (metrics.trained)}."""
    dataset, budget = report["dataset"], report["budget_name"]
    reference = reproduce_report.paper_reference(dataset)[0]
    lines = [f"### Tables 4-5, this project on {dataset} at budget `{budget}` vs the paper's {reference}", "",
             f"`results/{dataset}/table4-5/{budget}/` ({budget_line(report)}). Means over AUs; the per-AU F1 and AUC "
             f"beside the paper's are in `results/{dataset}/table4-5/{budget}/table4-5.md`.", "",
             "95 % intervals: bootstrap over test faces, per seed; – where the run kept no test probabilities. "
             "With several seeds, a last row per method gives the mean ± sd over them. † after a seed: that run was "
             "trained with code that has changed since (notes below).", ""]
    by_method = {}
    for run in report["runs"]:
        by_method.setdefault(run["key"], {})[seed_of(run)] = run
    rows, not_learned = [], {}
    for key, seeded in by_method.items():
        intervals = {seed: run_intervals(results, "table4-5", report, run) for seed, run in seeded.items()}
        aus = next(iter(seeded.values()))["aus"]
        rows += reproduce_report.means_rows(key, seeded, reproduce_report.paper_means(key, aus, dataset), intervals)
        for seed, found in intervals.items():
            if found and not metrics.trained(found[1]["auc_ci"], test_spread(results, report, seeded[seed])):
                not_learned.setdefault(key, []).append(seed)
    stale = {(run["key"], seed_of(run)) for run in report["runs"] if training_run.code_changed(run)}
    rows = [[row[0], f"{row[1]} †", *row[2:]] if (row[0], row[1]) in stale else row for row in rows]
    return lines + reproduce_report.table(reproduce_report.means_head(dataset), rows), not_learned


def table23_results(report, results):
    """Mean accuracy per AU count and seed, MSR and Ad-MSR beside the paper's, with 95 % intervals, and
    each run's test mean ROC AUC: accuracy on an imbalanced test split rewards answering "absent"."""
    dataset = report["dataset"]
    lines = [f"### Tables 2-3, this project on {dataset} at budget `{report['budget_name']}` vs the paper's Table 3 "
             "(EmotioNet)", "",
             f"`results/{dataset}/table2-3/{report['budget_name']}/` ({budget_line(report)}). Mean accuracy over the "
             "AUs (%), the paper's metric for Tables 2-3; per AU in "
             f"`results/{dataset}/table2-3/{report['budget_name']}/table2-3.md`. 95 % intervals: bootstrap over test "
             "faces; – where a run is missing or kept no test probabilities. The last two columns, this project's "
             "test mean ROC AUC, tell whether a run has learned (interval above 50).", "",
             "| AUs | seed | MSR, paper | Ad-MSR, paper | MSR, this project | 95 % CI | Ad-MSR, this project | 95 % CI "
             "| MSR mean AUC [95 % CI] | Ad-MSR mean AUC [95 % CI] |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ours = {}
    for run in report["runs"]:
        found = run_intervals(results, "table2-3", report, run)
        ours.setdefault((len(run["aus"]), seed_of(run)), {})[run["key"][0]] = (final(run), found and found[1])
    for (k, seed), by in sorted(ours.items()):
        cells = []
        for loss in ("MSR", "Ad-MSR"):
            mean, cis = by.get(loss, ({}, None))
            cells.append((fmt(mean.get("accuracy")), ci((cis or {}).get("accuracy_ci")),
                          f"{fmt(mean.get('auc'))} {ci((cis or {}).get('auc_ci'))}" if mean else "–"))
        (msr, msr_ci, msr_auc), (admsr, admsr_ci, admsr_auc) = cells
        paper_msr, paper_admsr = paper.TABLE3_MEAN.get(k, (None, None))
        lines.append(f"| {k} | {seed} | {fmt(paper_msr)} | {fmt(paper_admsr)} | {msr} | {msr_ci} | {admsr} | "
                     f"{admsr_ci} | {msr_auc} | {admsr_auc} |")
    return lines + [""]


def code_changed(report, dataset, experiment):
    """A line for the runs whose recorded code (RunSpec.code) differs from today's, or was not
    recorded: their numbers may not be what this code gives."""
    changed = {r.get("run_name", r["method"]): since for r in report["runs"] if (since := training_run.changed_since(r))}
    unknown = [r.get("run_name", r["method"]) for r in report["runs"] if r.get("code") is None]
    lines = []
    if changed:
        lines.append(f"- {experiment} on {dataset}: {len(changed)} run(s) were trained with code that has changed since "
                     f"(layers, Caffe patches, or the nets and solver the generator writes for them): "
                     + ", ".join(name if since == ["code"] else f"{name} ({', '.join(f'`{f}`' for f in since)})"
                                 for name, since in changed.items()) + ".")
    if unknown:
        lines.append(f"- {experiment} on {dataset}: {len(unknown)} run(s) predate the code record, so whether their code "
                     "has changed cannot be told.")
    return lines


def bound(points):
    """An interval's bound in points, to two decimals, or to one significant digit where two decimals
    would show a bound that is not 0 as +0.00 (the verdict turns on which side of 0 it lies)."""
    return f"{points:+.1g}" if 0 < abs(points) < 0.005 else f"{points:+.2f}"


def claim_lines(claim):
    """One judged claim: its verdict, and each comparison per seed with its interval and the mean ±
    sd of the differences over seeds."""
    if claim.budget is None:
        experiment = next(e for e, (where, _) in claims.CLAIMS.items() if where == claim.where)
        return [f"- **{claim.where}: {claim.text}**, on {claim.dataset}: **{claim.verdict}** (not run: "
                f"`au-reproduce {experiment}`)."]
    lines = [f"- **{claim.where}: {claim.text}**, on {claim.dataset} (budget `{claim.budget}`; readings "
             f"{claim.readings.describe()}): **{claim.verdict}**"
             + ("" if claim.comparisons else " (no seed has the test probabilities of the runs it compares)") + "."]
    for what, (mean, sd, n) in claims.over_seeds(claim.comparisons).items():
        margin = next(c.margin for c in claim.comparisons if c.what == what)
        per_seed = "; ".join(f"seed {c.seed}: {c.difference:+.2f} [{bound(c.interval[0])}, {bound(c.interval[1])}]"
                             + untrained_note(c) + stopped_note(c)
                             + ("" if c.current else " (trained with code that has changed since)")
                             for c in claim.comparisons if c.what == what)
        over = f"; over {n} seeds {mean:+.2f} ± {sd:.2f}" if n > 1 else ""
        margin_note = f", non-inferiority margin {margin:g}" if margin else ""
        lines.append(f"  - {what} (points{margin_note}): {per_seed}{over}")
        for c in claim.comparisons:
            if c.what == what and c.per_au:
                lines.append(f"    - seed {c.seed}, per AU: " + "; ".join(
                    f"AU{au} {'**' if lo > 0 or hi < 0 else ''}{d:+.2f} [{bound(lo)}, {bound(hi)}]"
                    f"{'**' if lo > 0 or hi < 0 else ''}" for au, d, (lo, hi) in c.per_au)
                    + " (bold: the interval excludes 0, the AUs that carry the difference)")
    if claim.findings:
        lines.append(f"  - findings under these readings: {'; '.join(claim.findings)}")
    if claim.missing:
        lines.append(f"  - not compared yet: {', '.join(claim.missing)}")
    return lines


def unfinished(results, dataset):
    """A line for each run committed unfinished (<run>.partial.json: a run trained until flat, after each
    segment): how far it got. Never judged, never in a report."""
    lines = []
    for path in sorted((Path(results) / dataset).glob("*/runs/*/*.partial.json")):
        record = json.loads(path.read_text())
        last = record["evaluations"][-1]
        state = "has trained" if last["val"].get("trained") else "has not trained yet"
        lines.append(f"- Unfinished (not judged): `{path.relative_to(results)}` reached iteration "
                     f"{record['plateau']['reached']} of at most {record['plateau']['cap']}; validation mean AUC "
                     f"{fmt(last['val']['mean']['auc'])} there, and it {state} (`metrics.trained` on val).")
    return lines


def untrained_note(comparison):
    if not comparison.untrained:
        return ""
    return f" ({comparison.finding})" if comparison.finding else " (neither run trained)"


def stopped_note(comparison):
    """Where each run stopped, when they trained unequally long (a budget trained until flat)."""
    if not comparison.stopped:
        return ""
    return " (" + "; ".join(f"{name} stopped at {at}" + (f", {why}" if why else "")
                            for name, at, why in comparison.stopped) + ")"


def sensitivity(judged):
    """Each claim's verdict under every budget and reading tried, and one line over them."""
    by_claim = {}
    for c in claims.in_paper_order(judged):
        if c.budget is not None:
            by_claim.setdefault((c.where, c.text, c.dataset), []).append(c)
    lines = ["### Sensitivity: each claim under every reading tried", "",
             "One row per budget a claim was judged at; the readings are those of `dscmr/readings.py` (defaults: "
             f"{readings.DEFAULT.describe()}). The differences are means over the seeds that made them (points; the "
             "seeds' own intervals are in the verdicts above). Where a run was trained under more than one budget or "
             "reading, `results/<dataset>/<experiment>/readings-curves.png` draws its validation curves side by side.",
             "",
             "| claim | dataset | budget | readings | seeds | verdict | comparisons (mean over seeds) |",
             "|---|---|---|---|---|---|---|"]
    summaries = []
    for (where, text, dataset), found in by_claim.items():
        for c in found:
            seeds = sorted({x.seed for x in c.comparisons})
            means = "; ".join(f"{what}: {mean:+.2f}" for what, (mean, _, _) in claims.over_seeds(c.comparisons).items())
            lines.append(f"| {where}: {text} | {dataset} | `{c.budget}` | {c.readings.describe()} | "
                         f"{', '.join(map(str, seeds)) or '–'} | {c.verdict} | {means or '–'} |")
        summaries.append(f"- **{where}: {text}** on {dataset}: "
                         + claims.summary({c.budget: c.verdict for c in found}) + ".")
    return lines + [""] + summaries + [""]


def results_section(results):
    lines = ["## (b) Results", "",
             "The paper's numbers are on EmotioNet (Tables 2-4, Fig. 5) and CK+ (Table 5). This project's are on "
             "the dataset each heading names: synthau is synthetic (docs/data.md), so a synthau number is never "
             "an EmotioNet one, and short budgets stop long before the paper's schedule.", ""]
    judged, notes = [], []
    datasets = sorted(p.name for p in results.iterdir() if p.is_dir())
    for dataset in datasets:
        for report in load_results(results, dataset, "fig5"):
            lines += fig5_results(report)
            judged.append(claims.fig5_claim(results, report))
        for report in load_results(results, dataset, "table2-3"):
            lines += table23_results(report, results)
            judged.append(claims.table23_claim(results, report))
        for report in load_results(results, dataset, "table4-5"):
            table, not_learned = table45_results(report, results)
            lines += table
            judged += claims.table45_claims(results, report)
            if not_learned:
                notes.append(f"- On {dataset} at budget `{report['budget_name']}`, {len(not_learned)} of "
                             f"{len({r['key'] for r in report['runs']})} methods "
                             f"{'has' if len(not_learned) == 1 else 'have'} not trained in some seed (by the "
                             "rule's measure, `metrics.trained`): "
                             + ", ".join(f"{m} (seed {', '.join(map(str, s))})" for m, s in not_learned.items()) + ".")
        for experiment in claims.CLAIMS:
            for report in load_results(results, dataset, experiment):
                notes += code_changed(report, dataset, experiment)
            notes += not_rederived(results, dataset, experiment)
        notes += unfinished(results, dataset)
        missing = [e for e in claims.CLAIMS if not load_results(results, dataset, e)]
        judged += [c for e in missing for c in claims.not_run(dataset, e)]
        if missing:
            notes.append(f"- Not run on {dataset}: {', '.join(missing)} (`au-reproduce <experiment>`).")
    if not datasets:
        lines += ["No experiment has been run yet: `au-reproduce --help`.", ""]
    verdicts = ["### The paper's claims, judged", "", f"One rule for every claim (`tools/experiments/claims.py`): {claims.RULE} "
                "Each comparison is a difference between two runs of the same seed on the same test faces, in "
                "points, with its 95 % paired bootstrap interval; at a budget that trains each run until it is flat, "
                "where the two runs stopped when they stopped at different iterations.", ""]
    verdicts += [line for c in claims.in_paper_order(judged) for line in claim_lines(c)] or \
        ["- No claim can be checked yet."]
    verdicts += [""] + sensitivity(judged)
    return lines + verdicts + [""] + (["### Notes on these results", ""] + notes + [""] if notes else [])


def render(results):
    return "\n".join(["# Reproducibility audit", "",
                      "Written by `au-audit`; do not edit by hand. The paper: Wang et al., \"Action "
                      "Units recognition based on Deep Spatial-Convolutional and Multi-label Residual network\", "
                      "Neurocomputing 2019. Its numbers come from `dscmr/paper.py`.", ""]
                     + configuration() + readings_table(results) + results_section(results) + auc_consistency()
                     + repeatable(results) + environment())


def data_check(results):
    """One line per dataset of results/ on whether its committed runs were trained on the dataset built
    here (data/<dataset>, as `make data` builds synthau): a newcomer's runs on another build are not
    comparable with them (tools/experiments/rederive.py)."""
    lines = []
    for dataset in sorted(p.name for p in Path(results).iterdir() if p.is_dir()):
        data_dir = REPO / "data" / dataset
        if not (data_dir / "manifest.json").is_file():
            lines.append(f"{PROG}: {data_dir} is not built, so whether the runs on {dataset} were trained on "
                         "the data built here was not checked (`make data` builds synthau)")
        elif found := [(path, recorded, derived) for path, recorded, derived in
                       rederive.data_of_runs(results, dataset, data_dir) if recorded != derived]:
            path, recorded, derived = found[0]
            lines.append(f"{PROG}: {len(found)} committed run(s) on {dataset} were trained on other data than "
                         f"{data_dir}, e.g. {path}: data {recorded}, where {data_dir} derives {derived} (another "
                         "build of the dataset: docs/data.md); do not compare your runs with them")
        else:
            lines.append(f"{PROG}: every committed run on {dataset} was trained on the data {data_dir} holds")
    return lines


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=REPO / "results", help="results root (default: results/)")
    ap.add_argument("--out", type=Path, default=REPO / "AUDIT.md", help="where to write (default: AUDIT.md)")
    ap.add_argument("--paper", type=Path, default=None,
                    help=f"the paper's text, to check the quotes against (default: ${paper.PAPER_ENV}, else "
                         f"../shared/paper/{paper.PAPER_FILE} beside the clone)")
    ap.add_argument("--check", action="store_true", help="compare parts (a) and (b) with --out; write nothing")
    opts = ap.parse_args(argv)
    if opts.paper is not None and not opts.paper.is_file():
        raise InputError(opts.paper, "not found (expected the paper's text, given with --paper)")
    # The quotes first: a quote that is not the paper's stops the audit before its minute of bootstraps.
    quotes = check_quotes(opts.paper or paper.text_path())
    if not Path(opts.results).is_dir():
        raise InputError(opts.results, "not found (expected the results root written by au-reproduce, "
                                       "holding <dataset>/<experiment>/)")
    checked = [quotes] + data_check(opts.results)
    try:
        text = render(opts.results)
    except KeyError as e:
        raise RunError(e.args[0]) from None
    if opts.check:
        committed = opts.out.read_text() if opts.out.is_file() else ""
        if committed.split(ENVIRONMENT_HEADING)[0] != text.split(ENVIRONMENT_HEADING)[0]:
            raise RunError(f"{opts.out} is out of date; run au-audit")
        print(f"{opts.out}: parts (a) and (b) are up to date")
        print("\n".join(checked), file=sys.stderr)
        return 0
    write_atomically(opts.out, text)
    print(f"wrote {opts.out}")
    print("\n".join(checked), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
