"""The paper's four claims, judged from the runs committed under results/ by one rule.

  1. Fig. 5: MSR is robust to the N:P ratio (AlexNet with and without MSR, AU1, N:P 5/10/20/30).
  2. Tables 2-3: Ad-MSR >= MSR (AlexNet, the first 3, 5, 8 and 11 AUs).
  3. Tables 4-5: L-DSCMR >= DSCMR >= ResNet18.
  4. Tables 4-5: AlexNet+Ad-MSR >= AlexNet.

Each claim is a set of comparisons "A >= B", one per seed: a difference of test metrics between runs
trained with the same seed and evaluated on the same test faces, with its 95 % paired bootstrap
interval (the same resamples of the faces for every run, tools/metrics.py). The rule (RULE, quoted
in AUDIT.md) turns them into a verdict; nothing else does.

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
from tools import metrics, reproduce_report, training_run
from tools.reproduce import FIG5_METHODS

# The four claims, per experiment, in the paper's order: where the paper makes them and what they say.
CLAIMS = {"fig5": ("Fig. 5", ("MSR is robust to the N:P ratio",)),
          "table2-3": ("Tables 2-3", ("Ad-MSR >= MSR",)),
          "table4-5": ("Tables 4-5", ("L-DSCMR >= DSCMR >= ResNet18", "AlexNet+Ad-MSR >= AlexNet"))}

RULE = ("A comparison counts when at least one of its runs has learned (the 95 % bootstrap interval of its test "
        "mean ROC AUC lies above 50) and neither was trained with code that has changed since (its recorded code "
        "fingerprint is not today's). A claim **holds** when every comparison it names has been made in some seed, "
        "all of them count, and every 95 % paired bootstrap interval lies above 0; it **does not hold** when any "
        "counted interval lies below 0; otherwise it is **inconclusive**.")


@dataclass(frozen=True)
class Comparison:
    seed: int
    what: str             # the statistic, e.g. "mean F1, L-DSCMR − DSCMR"
    difference: float     # in points (%)
    interval: tuple       # its 95 % paired bootstrap interval
    learned: bool         # at least one of the compared runs has learned (RULE)
    current: bool = True  # no compared run was trained with code that has changed since (RULE)

    @property
    def counts(self):
        return self.learned and self.current


@dataclass(frozen=True)
class Claim:
    where: str            # the paper's figure or tables
    text: str             # the claim, in the paper's direction
    dataset: str
    budget: str           # None: the experiment has not been run on the dataset
    comparisons: tuple = ()
    missing: list = field(default_factory=list)   # runs that no seed has: why a comparison is absent

    @property
    def verdict(self):
        return judge(self.comparisons, self.missing)


def judge(comparisons, missing=()):
    """RULE; `missing`: the comparisons of the claim that no seed has made yet."""
    counted = [c for c in comparisons if c.counts]
    if any(c.interval[1] < 0 for c in counted):
        return "does not hold"
    if comparisons and not missing and len(counted) == len(comparisons) and all(c.interval[0] > 0 for c in counted):
        return "holds"
    return "inconclusive"


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
        self._means, self._labels, self._counts = {}, {}, {}   # counts: the shared resamples, per face count

    def seeds(self):
        return reproduce_report.committed_seeds(self.folder, self.budget)

    def path(self, seed, run_name):
        return reproduce_report.runs_dir(self.folder, self.budget, seed) / f"{run_name}.test.npz"

    def has(self, seed, *run_names):
        return all(self.path(seed, n).is_file() for n in run_names)

    def means(self, seed, run_name):
        """{metric: (mean over AUs, under each resample)}; InputError when the run's test faces are
        not those of the seed's other runs (a comparison would not be paired)."""
        path = self.path(seed, run_name)
        if path not in self._means:
            with np.load(path) as saved:
                probs, labels, aus = saved["probs"], saved["labels"], tuple(int(a) for a in saved["aus"])
            first = self._labels.setdefault((seed, aus), (path, labels))
            if not np.array_equal(first[1], labels):
                raise InputError(path, f"holds other test labels than {first[0]}: the runs were not tested on the "
                                       "same faces, so they cannot be compared pairwise")
            if len(labels) not in self._counts:
                self._counts[len(labels)] = metrics.resample_counts(len(labels))
            counts = self._counts[len(labels)]
            self._means[path] = metrics.resampled_means(probs, labels, aus, counts)
        return self._means[path]

    def learned(self, seed, *run_names):
        return any(metrics.interval(self.means(seed, n)["auc"][1])[0] > 50 for n in run_names)

    def current(self, seed, *run_names):
        """No run was trained with code that has changed since (a run without its record cannot tell)."""
        records = (reproduce_report.runs_dir(self.folder, self.budget, seed) / f"{n}.json" for n in run_names)
        return not any(training_run.code_changed(json.loads(r.read_text())) for r in records if r.is_file())

    def difference(self, seed, metric, better, worse, what):
        a, b = self.means(seed, better)[metric], self.means(seed, worse)[metric]
        return Comparison(seed, what, a[0] - b[0], metrics.interval(a[1] - b[1]), self.learned(seed, better, worse),
                          self.current(seed, better, worse))


def run_names(report):
    """{key: run name} of an experiment's report (keys as tuples where the report has lists)."""
    return {tuple(r["key"]) if isinstance(r["key"], list) else r["key"]: r["run_name"]
            for r in report["runs"] if r.get("run_name")}


def compared(faces, names, pairs):
    """Comparisons for every seed that has both runs of a pair; the pairs no seed has."""
    comparisons, missing = [], []
    for metric, label, better, worse in pairs:
        found = [s for s in faces.seeds() if better in names and worse in names and faces.has(s, names[better], names[worse])]
        if not found:
            missing.append(f"{show(better)} vs {show(worse)}")
        comparisons += [faces.difference(s, metric, names[better], names[worse], f"{label}, {show(better)} − {show(worse)}")
                        for s in found]
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


def fig5_claim(results, report):
    """Robust = MSR's test accuracy varies less over the N:P ratios: the spread (highest minus lowest
    final accuracy over the four ratios) of AlexNet minus that of AlexNet + MSR, above 0."""
    fig5_methods, ratios = tuple(FIG5_METHODS), paper.FIG5_TRAIN_NP
    faces = TestFaces(Path(results) / report["dataset"] / "fig5", report["budget_name"])
    names = run_names(report)
    wanted = {(m, r): names.get((m, r)) for m in fig5_methods for r in ratios}
    comparisons = []
    for seed in faces.seeds():
        if None in wanted.values() or not faces.has(seed, *wanted.values()):
            continue
        spread = {}
        for m in fig5_methods:
            acc = [faces.means(seed, wanted[(m, r)])["accuracy"] for r in ratios]
            points, samples = [a[0] for a in acc], np.stack([a[1] for a in acc])
            spread[m] = (max(points) - min(points), samples.max(0) - samples.min(0))
        without, with_msr = (spread[m] for m in fig5_methods)
        comparisons.append(Comparison(seed, f"spread of test accuracy over N:P, {' − '.join(fig5_methods)}",
                                      without[0] - with_msr[0], metrics.interval(without[1] - with_msr[1]),
                                      faces.learned(seed, *wanted.values()), faces.current(seed, *wanted.values())))
    (where, (text,)) = CLAIMS["fig5"]
    return Claim(where, text, report["dataset"], report["budget_name"],
                 tuple(comparisons), [] if comparisons else ["the eight runs of one seed"])


def table23_claim(results, report):
    faces = TestFaces(Path(results) / report["dataset"] / "table2-3", report["budget_name"])
    names = run_names(report)
    counts = sorted({k[1] for k in names})
    pairs = [("accuracy", f"mean accuracy, {k} AUs", ("Ad-MSR", k), ("MSR", k)) for k in counts]
    comparisons, missing = compared(faces, names, pairs)
    (where, (text,)) = CLAIMS["table2-3"]
    return Claim(where, text, report["dataset"], report["budget_name"], comparisons, missing)


def table45_claims(results, report):
    faces = TestFaces(Path(results) / report["dataset"] / "table4-5", report["budget_name"])
    names = run_names(report)

    where, (ordering, admsr) = CLAIMS["table4-5"]

    def claim(text, pairs):
        both = [(metric, label, a, b) for a, b in pairs for metric, label in (("f1", "mean F1"), ("auc", "mean AUC"))]
        return Claim(where, text, report["dataset"], report["budget_name"], *compared(faces, names, both))
    return [claim(ordering, (("L-DSCMR", "DSCMR"), ("DSCMR", "ResNet18"))),
            claim(admsr, (("AlexNet+Ad-MSR", "AlexNet"),))]
