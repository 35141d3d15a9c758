"""Whether a committed run can be re-derived from what is committed and what `make data` builds: its
numbers from its own test probabilities, its data from the dataset.

A run's record (<run>.json) holds the per-AU and mean F1, AUC and accuracy that its report and AUDIT.md
print; its test probabilities (<run>.test.npz) give the intervals and the verdicts. The record re-derives
when today's tools/evaluation/metrics.py computes its last evaluation from those probabilities, to TOLERANCE points:
then the two are one source, and a change to the metric code that would move a committed number shows as
a run that no longer re-derives (au-audit shows such runs apart and judges nothing by them).

A run's data is this dataset's when the dataset, derived for the run's plan, has the fingerprint the run
recorded (data_prep.derive.fingerprint_of): another build of synthau (another OpenCV draws other faces)
derives others, and its runs are not comparable with the committed ones.
"""
import json
from pathlib import Path

import numpy as np

from data_prep import derive
from dscmr.dataset import read_manifest
from tools.evaluation.metrics import METRICS, mean_metrics, per_au_metrics
from tools.experiments import plans as plans_
from tools.experiments import results_store

# Points. The records hold the metrics computed from these very probabilities, so they agree exactly on
# one machine; the tolerance allows another numpy's or scikit-learn's last digits.
TOLERANCE = 1e-6


def differences(evaluation, npz):
    """What of an evaluation ({"per_au": [...], "mean": {...}}) today's metrics do not give from the test
    probabilities in npz: one line per value that differs ([] when all agree)."""
    npz = Path(npz)
    if not npz.is_file():
        return [f"it has no test probabilities ({npz.name})"]
    with np.load(npz) as saved:
        probs, labels, aus = saved["probs"], saved["labels"], [int(a) for a in saved["aus"]]
    recorded_aus = [row["au"] for row in evaluation["per_au"]]
    if aus != recorded_aus:
        return [f"its probabilities are of AUs {aus}, its record of {recorded_aus}"]
    rows = per_au_metrics(probs, labels, aus)
    found = []
    for where, got, kept in [(f"AU{r['au']}", r, k) for r, k in zip(rows, evaluation["per_au"])] + \
            [("mean", mean_metrics(rows), evaluation["mean"])]:
        for key in METRICS:
            a, b = got[key], kept[key]
            if not (np.isnan(a) and np.isnan(b)) and not abs(a - b) <= TOLERANCE:
                found.append(f"{where} {key} is {b} in the record, {a} from the probabilities")
    return found


def in_words(found):
    """One line for differences(...)'s list."""
    return found[0] + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")


def committed_records(results):
    """Every finished run's record under a results root (replaced ones too; not the unfinished)."""
    return sorted(p for p in Path(results).glob("*/*/runs/**/*.json") if not p.name.endswith(".partial.json"))


def record_differences(path):
    """differences(...) of a committed record against the probabilities beside it."""
    path = Path(path)
    return differences(json.loads(path.read_text())["evaluations"][-1], path.with_suffix(".test.npz"))


def run_files(results, experiment, report, run):
    """(record, test probabilities) of one run of a report, in its runs folder."""
    folder = results_store.runs_dir(Path(results) / report["dataset"] / experiment, report["budget_name"],
                                       run.get("seed", 1))
    return folder / f"{run['run_name']}.json", folder / f"{run['run_name']}.test.npz"


def why_not(results, experiment, report, run):
    """None when the run a report lists re-derives; else why not, in words."""
    record, npz = run_files(results, experiment, report, run)
    if not record.is_file():
        return f"it has no record ({record.name})"
    found = differences(run["evaluations"][-1], npz)
    return in_words(found) if found else None


def data_of_runs(results, dataset, data_dir):
    """[(record, the data fingerprint it recorded, the one data_dir derives for it)] of every run the
    reports of results/<dataset>/ list: its data is data_dir's where the two are equal."""
    manifest = read_manifest(data_dir)
    plans, derived, found = {}, {}, []
    for path in sorted((Path(results) / dataset).glob("*/*/*.json")):
        experiment = path.parent.parent.name
        if path.stem != experiment or experiment not in plans_.EXPERIMENTS:
            continue
        report = json.loads(path.read_text())
        budget = plans_.Budget(**report["budget"])
        if (budget, experiment) not in plans:
            plans[budget, experiment] = {results_store.run_name(r): r for r in
                                         plans_.EXPERIMENTS[experiment](manifest, budget, data_dir)}
        for run in report["runs"]:
            planned = plans_.in_seed_order(plans[budget, experiment][run["run_name"]], run.get("seed", 1))
            key = (planned.aus, json.dumps(planned.selection, sort_keys=True))
            if key not in derived:
                derived[key] = derive.fingerprint_of(data_dir, planned.aus, planned.select, planned.selection)
            found.append((run_files(results, experiment, report, run)[0], run["data_manifest"], derived[key]))
    return found
