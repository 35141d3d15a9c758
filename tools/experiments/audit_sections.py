"""The sections of AUDIT.md that stand apart from the paper's claims: (b2) the paper's AUC columns against
the F1 columns beside them, (b3) whether runs repeat and resume bit for bit, (c) where the file was written.
tools/experiments/audit.py puts them together."""
import platform
import re
from importlib import metadata
from pathlib import Path

from dscmr import REPO, machine, paper
from dscmr.caffe_home import caffe_home
from tools.evaluation import auc_bound
from tools.experiments import repeatability

ENVIRONMENT_HEADING = "## (c) Environment"


def environment():
    home = caffe_home()
    info = (home / "BUILD_INFO").read_text().splitlines() if home else ["no Caffe build in .venv (run make setup)"]
    patches = []
    for p in sorted((REPO / "setup" / "patches").glob("*.patch")):
        patches.append(f"- `{p.relative_to(REPO)}`: {p.read_text().splitlines()[0]}")
    packages = []
    for line in (REPO / "requirements.in").read_text().splitlines():
        name = line.split("#")[0].strip()
        if name:
            name = re.split(r"[<>=!]", name)[0]
            try:
                packages.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                packages.append(f"{name} (not installed)")
    cpu = machine.cpuinfo()["model"] or platform.machine()
    osname = next((line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                   if line.startswith("PRETTY_NAME=")), platform.platform())
    return [ENVIRONMENT_HEADING, "",
            f"Where this file was written: {osname}, {cpu}, Python {platform.python_version()}.", "",
            "The Caffe build (its BUILD_INFO):", "", "```"] + info + ["```", "", "Patches to BVLC Caffe 99bd997:", ""] + \
        patches + ["", "Python packages (requirements.in's, as installed; requirements.txt pins them all): " +
                   ", ".join(packages) + ".", ""]


def auc_consistency():
    """The paper's AUC columns against the F1 beside them (tools/evaluation/auc_bound.py)."""
    tables = [("Table 4 (EmotioNet)", auc_bound.cells("Table 4", paper.TABLE4_F1, paper.TABLE4_AUC,
                                                     paper.TABLE4_TEST_NP, paper.METHODS)),
              ("Table 5 (CK+)", auc_bound.cells("Table 5", paper.TABLE5_F1, paper.TABLE5_AUC,
                                               {au: v[1] for au, v in paper.TABLE5_NP.items()}, paper.METHODS))]
    every = [c for _, cs in tables for c in cs]
    below = [c for c in every if c.below]
    lines = ["## (b2) The paper's AUC columns against its F1 columns", "",
             "An F1-score fixes one operating point of a classifier (its true and false positive rates, given the "
             "test set's N:P), and every positive above that threshold outranks every negative below it, so the "
             "ROC AUC of the same scores has a floor (`tools/evaluation/auc_bound.py`, tested on constructed classifiers in "
             f"`tests/evaluation/test_auc_bound.py`). Of the {len(every)} cells of Tables 4 and 5, **{len(below)} print an AUC "
             "below the lowest ROC AUC their own F1 allows**. Each reading of the printed AUC, and how many cells "
             "it contradicts:", "", "| the printed AUC read as | cells contradicted |", "|---|---:|"]
    for reading, (bad, n) in auc_bound.readings(every).items():
        lines.append(f"| {reading} | {bad} of {n} |")
    fits = [r for r, (bad, _) in auc_bound.readings(every).items() if bad == 0]
    lines += ["", ("The reading that fits every cell: " + ", ".join(fits) + "." if fits else
                   "No reading fits every cell: the paper's AUC cannot be read, so this project compares its "
                   "results with the paper's on F1 only, and reports its own ROC AUC beside them."), ""]
    for title, cs in tables:
        lines += [f"{title}: printed AUC / lowest ROC AUC its F1 allows (%); **bold**: printed below the floor.", "",
                  "| AU | test N:P | " + " | ".join(paper.METHODS) + " |", "|---|---:|" + "---:|" * len(paper.METHODS)]
        for au in dict.fromkeys(c.au for c in cs):
            row = [c for c in cs if c.au == au]
            lines.append(f"| {au} | {row[0].np_ratio:.2f} | " + " | ".join(
                (f"**{c.auc:.2f} / {c.bound:.1f}**" if c.below else f"{c.auc:.2f} / {c.bound:.1f}") for c in row) + " |")
        lines.append("")
    return lines


def repeatable(results):
    lines = ["## (b3) Repeatable and resumable", "",
             "The same command, seed and build give the same weights, validation and test metrics and test "
             "probabilities, bit for bit, on CPU with the same number of threads; a run killed after a snapshot and "
             "resumed ends with the uninterrupted run's weights, bit for bit (`tests/experiments/test_resume_exact.py`, a real "
             "`caffe train` of AlexNet + Ad-MSR with random mirroring, dropout and Ad-MSR's history; "
             "`setup/patches/10-exact-resume.patch`). Each committed run records the hash of the code its numbers "
             "depend on; (b) lists runs whose code has changed since.", "",
             "Committed runs that repeat one training (same net, data, seed and batch size; "
             "`tools/experiments/repeatability.py`), compared wherever both logged a training loss or evaluated a "
             "snapshot:", ""]
    found = repeatability.repeats(results)
    for r in found:
        lines.append(f"- `{r.where}`: `{r.first}` and `{r.second}`: {r.losses} training losses, largest difference "
                     f"{r.loss_difference:g}; {r.snapshots} snapshots' validation and test metrics, largest difference "
                     f"{r.metric_difference:g} points; {r.cause()}.")
        for name, where in ((r.first, r.first_on), (r.second, r.second_on)):
            lines += [f"  - `{name}` trained on: " + ("; ".join(f"`{w}`" for w in where) or "not recorded")]
    return lines + ([] if found else ["- none yet."]) + [""]
