"""The paper's four claims, judged from the runs committed under results/ by one rule.

  1. Fig. 5: MSR is robust to the N:P ratio (AlexNet with and without MSR, AU1, N:P 5/10/20/30): MSR's
     accuracy at N:P 30 against N:P 5 (non-inferiority, FIG5_MARGIN) and MSR against AlexNet at each ratio.
  2. Tables 2-3: Ad-MSR >= MSR (AlexNet, the first 3, 5, 8 and 11 AUs).
  3. Tables 4-5: L-DSCMR >= DSCMR >= ResNet18.
  4. Tables 4-5: AlexNet+Ad-MSR >= AlexNet.

Each claim is a set of comparisons "A >= B", one per seed: a difference of test metrics between runs
trained with the same seed and evaluated on the same test faces, with its 95 % paired bootstrap
interval (the same resamples of the faces for every run, tools/evaluation/metrics.py). The rule (RULE, quoted
in AUDIT.md) turns them into a verdict; nothing else does. It tells "did not train" (a run at its
bias-only solution, metrics.trained) from "worse": a comparison with one untrained side is a finding
of its own, under the readings the budget's runs were trained under (dscmr/readings.py), and
summary() puts a claim's verdicts under every reading tried into one line.

Only what results/<dataset>/<experiment>/runs/<budget>-s<seed>/ holds is read (each run's
<run>.test.npz, and its record <run>.json for the code it was trained with), so the verdicts are
rebuilt from the results tree alone.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dscmr import paper
from dscmr.errors import InputError
from dscmr.readings import DEFAULT, Readings
from tools.evaluation import metrics
from tools.experiments import reproduce_report, results_store, training_run
from tools.experiments.plans import FIG5_METHODS

# The four claims, per experiment, in the paper's order: where the paper makes them and what they say.
CLAIMS = {"fig5": ("Fig. 5", ("MSR is robust to the N:P ratio",)),
          "table2-3": ("Tables 2-3", ("Ad-MSR >= MSR",)),
          "table4-5": ("Tables 4-5", ("L-DSCMR >= DSCMR >= ResNet18", "AlexNet+Ad-MSR >= AlexNet"))}

# Fig. 5's non-inferiority margin: MSR at N:P 30 is as good as at N:P 5 when its test accuracy is at most
# this many points lower (the paper: "Accuracies in the proportion of both 5 times and 30 times archive are
# about 90%", and the curves "almost overlapped").
FIG5_MARGIN = 5.0

RULE = ("A run has **not trained** when the 95 % bootstrap interval of its test mean ROC AUC contains 50 or lies "
        "below it, or when its outputs barely depend on the face: the largest, over the AUs, standard deviation of "
        f"its test probabilities over the faces is below {metrics.SPREAD_MIN:g} (`tools/evaluation/metrics.py`, `trained`). "
        "A comparison "
        "counts when both of its runs have trained and neither was trained with code that has changed since (its "
        "recorded code fingerprint is not today's). Where one run trained and the other did not, the comparison is "
        "a finding of its own, \"A did not train\" under that budget's readings, not \"A is worse\". A claim "
        "**holds** when every comparison it names has been made in some seed, all of them count, and every 95 % "
        "paired bootstrap interval lies above its margin (0, or minus the stated non-inferiority margin); it **does "
        "not hold** when any counted interval lies below its margin; it is **not tested** when no comparison counts "
        "and some run trained with today's code did not train (the findings say which); otherwise it is "
        "**inconclusive**.")


@dataclass(frozen=True)
class Comparison:
    seed: int
    what: str             # the statistic, e.g. "mean F1, L-DSCMR − DSCMR"
    difference: float     # in points (%)
    interval: tuple       # its 95 % paired bootstrap interval
    untrained: tuple = () # the compared runs that have not trained (RULE), as the claim names them
    current: bool = True  # no compared run was trained with code that has changed since (RULE)
    margin: float = 0.0   # it supports the claim above -margin (a non-inferiority margin), refutes it below
    per_au: tuple = ()    # (AU, difference, interval): which AUs carry it, where the claim shows them
    stopped: tuple = ()   # ((how the claim names a run, iteration, "flat", "the cap" or None), ...): where the two
                          # runs stopped, when they trained unequally long

    @property
    def counts(self):
        return not self.untrained and self.current

    @property
    def finding(self):
        """"X did not train" where one of the two runs trained and the other did not, else None."""
        if len(self.untrained) == 1:
            return f"{', '.join(self.untrained)} did not train"
        return None


@dataclass(frozen=True)
class Claim:
    where: str            # the paper's figure or tables
    text: str             # the claim, in the paper's direction
    dataset: str
    budget: str           # None: the experiment has not been run on the dataset
    comparisons: tuple = ()
    missing: list = field(default_factory=list)   # runs that no seed has: why a comparison is absent
    readings: Readings = DEFAULT                  # the readings the budget's runs were trained under

    @property
    def verdict(self):
        return judge(self.comparisons, self.missing)

    @property
    def findings(self):
        """The "A did not train" findings of its comparisons, each once, with their seeds."""
        seeds = {}
        for c in self.comparisons:
            if c.finding:
                seeds.setdefault(c.finding, []).append(c.seed)
        return [f"{f} (seed {', '.join(map(str, sorted(set(s))))})" for f, s in seeds.items()]


def judge(comparisons, missing=()):
    """RULE; `missing`: the comparisons of the claim that no seed has made yet."""
    counted = [c for c in comparisons if c.counts]
    if any(c.interval[1] < -c.margin for c in counted):
        return "does not hold"
    if comparisons and not missing and len(counted) == len(comparisons) and \
            all(c.interval[0] > -c.margin for c in counted):
        return "holds"
    if comparisons and not counted and any(c.untrained and c.current for c in comparisons):
        return "not tested"
    return "inconclusive"


def summary(verdicts):
    """A claim's verdicts under every reading tried ({budget: verdict}) in one line."""
    decided = {b: v for b, v in verdicts.items() if v in ("holds", "does not hold")}
    if not decided:
        return "no reading tried has decided it yet (" + "; ".join(
            f"{kind} under {', '.join(f'`{b}`' for b, v in verdicts.items() if v == kind)}"
            for kind in sorted(set(verdicts.values()))) + ")"
    kinds = set(decided.values())
    if len(kinds) == 1 and len(decided) == len(verdicts):
        return f"{kinds.pop()} under every reading tried"
    if len(kinds) == 1:
        undecided = ", ".join(f"`{b}`" for b in verdicts if b not in decided)
        return f"{kinds.pop()} wherever decided ({', '.join(f'`{b}`' for b in decided)}); undecided under {undecided}"
    return "depends on the reading: " + "; ".join(
        f"{kind} under {', '.join(f'`{b}`' for b, v in decided.items() if v == kind)}" for kind in sorted(kinds))


def over_seeds(comparisons):
    """{what: (mean, sd, n)} of the differences over seeds (reproduce_report.over_seeds: sd NaN with one)."""
    by_what = {}
    for c in comparisons:
        by_what.setdefault(c.what, []).append(c.difference)
    return {w: (*reproduce_report.over_seeds(d), len(d)) for w, d in by_what.items()}


class TestFaces:
    """The committed test probabilities of one experiment and budget, seed by seed, each run's
    metrics under one shared set of bootstrap resamples (computed once per run)."""

    def __init__(self, folder, budget):
        self.folder, self.budget = Path(folder), budget
        self._means, self._labels, self._spread = {}, {}, {}

    def seeds(self):
        return results_store.committed_seeds(self.folder, self.budget)

    def path(self, seed, run_name):
        return results_store.runs_dir(self.folder, self.budget, seed) / f"{run_name}.test.npz"

    def has(self, seed, *run_names):
        return all(self.path(seed, n).is_file() for n in run_names)

    def means(self, seed, run_name):
        """{metric: (mean over AUs, under each resample)}; InputError when the run's test faces are
        not those of the seed's other runs (a comparison would not be paired)."""
        path = self.path(seed, run_name)
        if path not in self._means:
            # The resamples depend only on the number of faces (metrics.resample_counts is seeded), so runs on
            # the same faces share them: a paired bootstrap.
            probs, labels, aus, counts, boot = reproduce_report.bootstrapped(path)
            first = self._labels.setdefault((seed, aus), (path, labels))
            if not np.array_equal(first[1], labels):
                raise InputError(path, f"holds other test labels than {first[0]}: the runs were not tested on the "
                                       "same faces, so they cannot be compared pairwise")
            self._means[path] = metrics.resampled_means(probs, labels, aus, counts, boot=boot)
            self._spread[path] = metrics.output_spread(probs)
        return self._means[path]

    def trained(self, seed, run_name):
        """metrics.trained of the run's test probabilities (RULE)."""
        auc = metrics.interval(self.means(seed, run_name)["auc"][1])
        return metrics.trained(auc, self._spread[self.path(seed, run_name)])

    def untrained(self, seed, shown):
        """The runs of {run name: how the claim names it} that have not trained, as the claim names them."""
        return tuple(label for name, label in shown.items() if not self.trained(seed, name))

    def per_au(self, seed, run_name, metric):
        """(AUs, the metric per AU on all faces, rounds x AUs under the shared resamples)."""
        self.means(seed, run_name)
        probs, labels, aus, _, boot = reproduce_report.bootstrapped(self.path(seed, run_name))
        rows = metrics.per_au_metrics(probs, labels, aus)
        return aus, np.array([r[metric] for r in rows]), boot[metric]

    def per_au_difference(self, seed, metric, better, worse):
        """((AU, difference, its 95 % paired interval), ...) of one metric, run better minus run worse."""
        aus, a, boot_a = self.per_au(seed, better, metric)
        _, b, boot_b = self.per_au(seed, worse, metric)
        return tuple((au, float(a[i] - b[i]), metrics.interval(boot_a[:, i] - boot_b[:, i]))
                     for i, au in enumerate(aus))

    def stopped(self, seed, run_name):
        """(iteration, why) where the run stopped: why is "flat" or "the cap" for a run trained until flat,
        else None; None without its record."""
        record = results_store.runs_dir(self.folder, self.budget, seed) / f"{run_name}.json"
        if not record.is_file():
            return None
        record = json.loads(record.read_text())
        if plateau := record.get("plateau"):
            return plateau["stopped_at"], "flat" if plateau["flattened"] else "the cap"
        return record.get("schedule", {}).get("iters"), None

    def current(self, seed, *run_names):
        """No run was trained with code that has changed since (a run without its record cannot tell)."""
        records = (results_store.runs_dir(self.folder, self.budget, seed) / f"{n}.json" for n in run_names)
        return not any(training_run.code_changed(json.loads(r.read_text())) for r in records if r.is_file())

    def difference(self, seed, metric, better, worse, what, shown, margin=0.0, per_au=False):
        """Comparison of run better against run worse; shown: {run name: how the claim names it}."""
        a, b = self.means(seed, better)[metric], self.means(seed, worse)[metric]
        stops = {shown[n]: self.stopped(seed, n) for n in (better, worse)}
        unequal = None not in stops.values() and len({at for at, _ in stops.values()}) > 1
        return Comparison(seed, what, a[0] - b[0], metrics.interval(a[1] - b[1]), self.untrained(seed, shown),
                          self.current(seed, better, worse), margin,
                          per_au=self.per_au_difference(seed, metric, better, worse) if per_au else (),
                          stopped=tuple((name, *stop) for name, stop in stops.items()) if unequal else ())


def run_names(report):
    """{key: run name} of an experiment's report (keys as tuples where the report has lists)."""
    return {tuple(r["key"]) if isinstance(r["key"], list) else r["key"]: r["run_name"]
            for r in report["runs"] if r.get("run_name")}


def compared(faces, names, pairs, margin=0.0, per_au=False):
    """Comparisons for every seed that has both runs of a pair; the pairs no seed has."""
    comparisons, missing = [], []
    for metric, label, better, worse in pairs:
        found = [s for s in faces.seeds() if better in names and worse in names and faces.has(s, names[better], names[worse])]
        if not found:
            missing.append(f"{show(better)} vs {show(worse)}")
        shown = {names[better]: show(better), names[worse]: show(worse)} if found else {}
        comparisons += [faces.difference(s, metric, names[better], names[worse], f"{label}, {show(better)} − {show(worse)}",
                                         shown, margin, per_au) for s in found]
    return tuple(comparisons), sorted(set(missing))


def not_run(dataset, experiment):
    """The claims of an experiment with no run on the dataset: inconclusive, and saying so."""
    where, texts = CLAIMS[experiment]
    return [Claim(where, text, dataset, None) for text in texts]


def in_paper_order(judged):
    order = [(where, text) for where, texts in CLAIMS.values() for text in texts]
    return sorted(judged, key=lambda c: order.index((c.where, c.text)))


def show(key):
    return " ".join(map(str, key)) if isinstance(key, tuple) else key


def readings_of(report):
    return Readings(**report.get("readings", {}))


def fig5_claim(results, report):
    """What the paper says of MSR (Sec. 3.2): its accuracy at N:P 30 is that of N:P 5 (non-inferior by
    FIG5_MARGIN points, both trained), and it beats AlexNet at every ratio."""
    (without, msr), ratios = tuple(FIG5_METHODS), paper.FIG5_TRAIN_NP
    faces = TestFaces(Path(results) / report["dataset"] / "fig5", report["budget_name"])
    names = run_names(report)
    widest, narrowest = max(ratios), min(ratios)
    comparisons, missing = compared(faces, names, [("accuracy", "test accuracy", (msr, widest), (msr, narrowest))],
                                    margin=FIG5_MARGIN)
    pairs = [("accuracy", "test accuracy", (msr, r), (without, r)) for r in ratios]
    more, more_missing = compared(faces, names, pairs)
    (where, (text,)) = CLAIMS["fig5"]
    return Claim(where, text, report["dataset"], report["budget_name"], comparisons + more,
                 missing + more_missing, readings_of(report))


def table23_claim(results, report):
    faces = TestFaces(Path(results) / report["dataset"] / "table2-3", report["budget_name"])
    names = run_names(report)
    counts = sorted({k[1] for k in names})
    pairs = [("accuracy", f"mean accuracy, {k} AUs", ("Ad-MSR", k), ("MSR", k)) for k in counts]
    comparisons, missing = compared(faces, names, pairs, per_au=True)
    (where, (text,)) = CLAIMS["table2-3"]
    return Claim(where, text, report["dataset"], report["budget_name"], comparisons, missing, readings_of(report))


def table45_claims(results, report):
    faces = TestFaces(Path(results) / report["dataset"] / "table4-5", report["budget_name"])
    names = run_names(report)

    where, (ordering, admsr) = CLAIMS["table4-5"]

    def claim(text, pairs):
        both = [(metric, label, a, b) for a, b in pairs for metric, label in (("f1", "mean F1"), ("auc", "mean AUC"))]
        return Claim(where, text, report["dataset"], report["budget_name"], *compared(faces, names, both),
                     readings_of(report))
    return [claim(ordering, (("L-DSCMR", "DSCMR"), ("DSCMR", "ResNet18"))),
            claim(admsr, (("AlexNet+Ad-MSR", "AlexNet"),))]
