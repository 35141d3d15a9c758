"""The results store: each finished run of an experiment, whole, in
results/<dataset>/<experiment>/runs/<budget>-s<seed>/ (its record <name>.json, caffe's log, its test
probabilities), an unfinished one's partial record, and the lookup of a committed run that is the
same run (SAME_RUN) here or under another experiment or budget. The reports
(tools/experiments/reproduce_report.py) are written from it."""
import itertools
import json
import shutil
from pathlib import Path

from dscmr.files import naming, write_atomically


def run_name(planned):
    return f"{planned.method.key}_{planned.data_name}"


# What makes two runs the same run: a committed run with these equal is never trained again.
SAME_RUN = ("method", "data_manifest", "aus", "schedule", "val_count", "readings", "until_flat")


def runs_dir(out, budget_name, seed):
    """Where an experiment folder keeps its finished runs, one budget and seed each."""
    return Path(out) / "runs" / f"{budget_name}-s{seed}"


def committed_seeds(out, budget_name):
    """The seeds with a runs folder for this budget, ascending."""
    found = (Path(out) / "runs").glob(f"{budget_name}-s*") if (Path(out) / "runs").is_dir() else []
    return sorted(int(p.name.rsplit("-s", 1)[1]) for p in found if p.name.rsplit("-s", 1)[1].isdigit())


def seeded(name, seed):
    """A run's file name in a report that covers several seeds."""
    return f"{name}-s{seed}"


def save_run(folder, name, result):
    """A finished run into the results tree, whole: <name>.json (configuration, code, per-snapshot
    metrics on val and test), <name>.log (caffe's log), <name>.test.npz (the last snapshot's test
    probabilities, for intervals). Written before the report, so a run outlives the session."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / f"{name}.json").is_file():
        # A run of this name on other data (or another validation size): kept, not overwritten.
        aside = next(p for k in itertools.count(1) if not (p := folder / f"replaced-{k}").exists())
        aside.mkdir()
        for old in folder.glob(f"{name}.*"):
            old.rename(aside / old.name)
    with naming(folder / f"{name}.log"):
        shutil.copyfile(result["log"], folder / f"{name}.log")
    if Path(result.get("test_probs", "")).is_file():
        with naming(folder / f"{name}.test.npz"):
            shutil.copyfile(result["test_probs"], folder / f"{name}.test.npz")
    record = {k: v for k, v in result.items() if k not in ("log", "weights", "test_probs", "data")}
    write_atomically(folder / f"{name}.json", json.dumps(record, indent=1, default=float) + "\n")
    for partial in (folder / f"{name}.partial.json", folder / f"{name}.partial.log"):
        partial.unlink(missing_ok=True)


def save_partial(folder, name, record):
    """An unfinished run's evaluated snapshots so far (a run trained until flat, after each segment):
    <name>.partial.json, flagged unfinished, and its log. Never read as a finished run (load_run reads
    <name>.json); save_run removes it."""
    folder.mkdir(parents=True, exist_ok=True)
    with naming(folder / f"{name}.partial.log"):
        shutil.copyfile(record["log"], folder / f"{name}.partial.log")
    kept = {k: v for k, v in record.items() if k not in ("log", "weights", "test_probs", "data")}
    write_atomically(folder / f"{name}.partial.json", json.dumps(kept, indent=1, default=float) + "\n")


def load_run(folder, name, config):
    """The committed run of that name if it is the same run as config (SAME_RUN), else None; its
    "log" and "test_probs" point into the results tree."""
    path = folder / f"{name}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if any(record.get(k) != config.get(k) for k in SAME_RUN):
        return None
    npz = folder / f"{name}.test.npz"
    return dict(record, log=str(folder / f"{name}.log"), test_probs=str(npz) if npz.is_file() else None)


def load_run_elsewhere(out, budget_name, seed, name, config):
    """The same run (SAME_RUN) committed by another experiment of this dataset, or under another budget
    name of the same seed, or None; "reused_from" names where (the experiment, and the budget where it is
    not this one). Tables 2-3's Ad-MSR on every AU is Tables 4-5's AlexNet+Ad-MSR, and cross-entropy
    AlexNet under loss_scale mean is AlexNet: one training, whichever command ran it first."""
    out = Path(out)
    experiments = sorted(p for p in (out.parent.iterdir() if out.parent.is_dir() else []) if p.is_dir())
    places = [(other, budget_name) for other in experiments if other != out] + [
        (other, budget) for other in experiments
        for budget in sorted({f.name.rsplit("-s", 1)[0] for f in (other / "runs").glob(f"*-s{seed}")} - {budget_name})]
    for other, budget in places:
        found = load_run(runs_dir(other, budget, seed), name, config)
        if found is not None:
            where = other.name if budget == budget_name else f"{other.name}/{budget}"
            return dict(found, reused_from=where)
    return None
