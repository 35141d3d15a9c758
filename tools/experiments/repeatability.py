"""Runs committed twice: two runs in results/ that trained the same net on the same data with the
same seed and batch size must agree wherever both logged or evaluated the same iteration.

Two such runs differ only in how long they ran and how often they tested and snapshotted (the
`curve` and `cpu` budgets: 6000 and 4000 iterations, both every 250). Neither changes training:
the learning rate follows Sec. 3.1's steps at every 2000 iterations in both, Caffe's test phase
reads no training data, and a snapshot is a copy. So up to the shorter run's end, the logged
training losses and every snapshot's validation and test metrics must be the same numbers; the
audit reports the largest difference found (0 when the build is repeatable, as it should be on one
CPU with the same thread count), and where each run trained, which tells why they may differ.

Runs under other readings (dscmr/readings.py) trained something else, except for the rate schedule:
`step` and `once` reduce the rate alike at 2000 and part only at 4000, so such runs are compared up
to 4000. A run copied from another budget (reused_from) and an unfinished one (.partial.json) are not
trainings of their own.
"""
import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from dscmr import paper
from dscmr.readings import of_record
from tools.nets.parse_log import parse_log

# What two runs must share to be the same training (schedule.iters and schedule.points may differ).
SAME_TRAINING = ("method", "data_manifest", "aus", "val_count")
SAME_SCHEDULE = ("batch_size", "solver_mode", "seed")
# Metrics (points) that differ by less are the same numbers added in another order.
ROUNDING = 1e-9


@dataclass(frozen=True)
class Repeat:
    where: str              # <dataset>/<experiment>/runs under the results root
    first: str              # <budget>-s<seed>/<run>, the shorter run
    second: str
    losses: int             # training-loss records compared (common iterations)
    loss_difference: float  # the largest absolute difference among them
    snapshots: int          # snapshots evaluated by both
    metric_difference: float  # the largest absolute difference of any val or test metric (points)
    first_on: tuple = ()      # the CPUs and builds each trained on (parse_log.trained_on); () not recorded
    second_on: tuple = ()

    def agree(self):
        """The same losses, and metrics equal to within their floating-point rounding (their sums over AUs
        and faces may add in another order in another version of the evaluation)."""
        return bool(self.losses or self.snapshots) and self.loss_difference == 0 and self.metric_difference < ROUNDING

    def cause(self):
        """Why the two may differ, or that they agree, as far as their records tell."""
        if not self.first_on or not self.second_on:
            return "where one of them trained was not recorded"
        if self.first_on == self.second_on:
            return "both trained on the same CPU and build, where they should agree bit for bit" + \
                ("" if self.agree() else ", and they do not")
        if self.agree():
            return "they agree, though their records name different CPUs or Caffe builds"
        return ("they trained on different CPUs or Caffe builds, whose oneDNN and OpenBLAS kernels add in another "
                "order: they agree to rounding at first and drift apart as training amplifies it")


def metric_values(evaluation):
    """Every number of one snapshot's evaluation, keyed by where it sits."""
    out = {}
    for split, part in (("test", evaluation), ("val", evaluation.get("val", {}))):
        for key, value in part.get("mean", {}).items():
            out[(split, "mean", key)] = value
        for row in part.get("per_au", []):
            out.update({(split, row["au"], key): value for key, value in row.items() if key in ("f1", "auc", "accuracy")})
    return out


def largest_difference(a, b):
    """Max |a - b| over the keys both hold (NaN on one side only counts as a difference of inf)."""
    worst = 0.0
    for key in a.keys() & b.keys():
        x, y = a[key], b[key]
        if x != x and y != y:          # both NaN: the same undefined metric
            continue
        worst = max(worst, abs(x - y) if x == x and y == y else float("inf"))
    return worst


def train_losses(log):
    with open(log, errors="replace") as f:
        train, _ = parse_log(f)
    return {r["iteration"]: r["smoothed_loss"] for r in train}


def compare(results, runs_root, a, b):
    (name_a, rec_a), (name_b, rec_b) = sorted(((a, json.loads((runs_root / f"{a}.json").read_text())),
                                               (b, json.loads((runs_root / f"{b}.json").read_text()))),
                                              key=lambda item: item[1]["schedule"]["iters"])
    end = rec_a["schedule"]["iters"]
    if of_record(rec_a).lr_policy != of_record(rec_b).lr_policy:
        end = min(end, 2 * paper.LR_STEP)
    loss_a, loss_b = (train_losses(runs_root / f"{n}.log") for n in (name_a, name_b))
    losses = {it: v for it, v in loss_a.items() if it <= end}
    evals_a = {e["iteration"]: metric_values(e) for e in rec_a["evaluations"]}
    evals_b = {e["iteration"]: metric_values(e) for e in rec_b["evaluations"] if e["iteration"] <= end}
    common = evals_a.keys() & evals_b.keys()
    return Repeat(str(runs_root.relative_to(results)), name_a, name_b, len(losses.keys() & loss_b.keys()),
                  largest_difference(losses, loss_b), len(common),
                  max((largest_difference(evals_a[i], evals_b[i]) for i in common), default=0.0),
                  tuple(rec_a.get("trained_on", ())), tuple(rec_b.get("trained_on", ())))


def repeats(results):
    """Every pair of committed runs that trained the same thing (SAME_TRAINING, SAME_SCHEDULE),
    compared."""
    found = []
    for runs_root in sorted(Path(results).glob("*/*/runs")):
        records = {}
        for path in sorted(runs_root.glob("*/*.json")):
            record = json.loads(path.read_text())
            if not all(k in record for k in SAME_TRAINING + ("schedule", "evaluations")) or "reused_from" in record \
                    or path.name.endswith(".partial.json"):
                continue
            readings = of_record(record)
            same = tuple(json.dumps(record[k]) for k in SAME_TRAINING) + tuple(record["schedule"][k] for k in SAME_SCHEDULE) \
                + (readings.loss_scale, readings.beta)
            records.setdefault(same, []).append(str(path.relative_to(runs_root).with_suffix("")))
        for group in records.values():
            found += [compare(Path(results), runs_root, a, b) for a, b in combinations(group, 2)]
    return found
