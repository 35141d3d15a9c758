"""Committed runs made up for the tests of the audit and the results store: a record and its test
probabilities as au-reproduce commits them, the record's numbers computed from the probabilities."""
import json

import numpy as np

from tools.evaluation.metrics import mean_metrics, per_au_metrics


def committed_run(results, experiment, budget, seed, run_name, probs, labels, aus, **fields):
    """Writes <run_name>.json and .test.npz under results/synthau/<experiment>/runs/<budget>-s<seed>/ and
    returns the run as a report lists it (the record, with **fields: key, method, ...)."""
    folder = results / "synthau" / experiment / "runs" / f"{budget}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{run_name}.test.npz", probs=probs, labels=labels, aus=np.array(aus))
    rows = per_au_metrics(probs, labels, aus)
    run = {"run_name": run_name, "seed": seed, "aus": list(aus),
           "evaluations": [{"per_au": rows, "mean": mean_metrics(rows)}], **fields}
    (folder / f"{run_name}.json").write_text(json.dumps(run))
    return run


def report(results, experiment, budget_name, runs, **fields):
    """Writes the report of a budget (results/synthau/<experiment>/<budget>/<experiment>.json)."""
    folder = results / "synthau" / experiment / budget_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{experiment}.json").write_text(json.dumps(
        {"dataset": "synthau", "budget_name": budget_name, "commit": "abc", "command": "au-reproduce", "runs": runs,
         **fields}))
