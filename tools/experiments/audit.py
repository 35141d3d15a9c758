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
import platform
import re
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from dscmr import REPO, machine, paper, readings
from dscmr.caffe_home import caffe_home
from dscmr.errors import InputError, RunError, cli
from dscmr.files import write_atomically
from tools.evaluation import auc_bound, metrics
from tools.experiments import claims, rederive, repeatability, reproduce_report, training_run
from tools.experiments.reproduce_report import ci, fmt

PROG = "au-audit"

ENVIRONMENT_HEADING = "## (c) Environment"


@dataclass(frozen=True)
class Fact:
    where: str        # the paper's section or equation
    quote: str        # the paper's sentence (tests/test_audit.py finds each in the paper's text)
    value: str        # this project's value
    path: str         # the file that sets it ...
    anchor: str       # ... at the line holding this string
    status: str       # same | interpreted | differs
    why: str = ""     # for interpreted and differs: the reading, or the reason, and where it is documented


NETWORKS = "docs/networks.md#interpretations"
MSR_DOC = "docs/layers/msr_loss.md#interpretations-of-the-paper"
REGION_DOC = "docs/layers/region.md#interpretations-of-the-paper"
DATA_DOC = "docs/data.md#what-the-paper-says-and-how-it-is-read"
REPRO_DOC = "docs/reproduce.md#interpretations"
GEN = "tools/nets/prototxt.py"

FACTS = (
    Fact("Sec. 2.1", "The input is 224 × 224 color face images.", "224 × 224 × 3 (BGR)", "dscmr/paper.py",
         "INPUT_SIZE = 224", "same"),
    Fact("Sec. 2.1", "the first convolutional layer includes 64 filters of size 7 × 7 and is followed by a "
         "max-pooling layer", "conv1 7×7, 64, stride 2, pad 3; max-pool 3×3 stride 2", GEN,
         'x = self.conv_bn(bottom, "conv1", 64, 7, stride=2, pad=3)', "interpreted",
         f"stride, pad and pool size are ResNet's [32], not stated ({NETWORKS}, 4)"),
    Fact("Sec. 2.1", "The numbers of filters in convolutional layers of each residual group are 64, 128, 256, and 512.",
         "64, 128, 256, 512", "dscmr/paper.py", "RESNET18_GROUP_WIDTHS = (64, 128, 256, 512)", "same"),
    Fact("Sec. 2.1", "Each residual group includes two residual blocks with two 3 × 3 convolutional layers.",
         "blocks a and b, each two 3×3 conv", GEN, 'for b in ("a", "b"):', "same"),
    Fact("Sec. 2.1", "In the first block, a convolutional layer including the same number of filters of size 1 × 1 "
         "is used for the shortcut connection.", "1×1 projection in the first block of every group", GEN,
         'shortcut = self.conv_bn(x, name + "_branch1", width, 1, stride=stride, relu=False)', "interpreted",
         f"group 1 too, where He et al. use an identity ({NETWORKS}, 2)"),
    Fact("Sec. 2.1", "Each convolutional layer is followed by Batch Normalization (BN) [33] and Scale layers.",
         "Convolution (no bias) + BatchNorm + Scale (bias)", GEN, "bias_term=False,", "interpreted",
         f"no convolution bias, as in He et al.'s Caffe ResNets ({NETWORKS}, 3)"),
    Fact("Sec. 2.1", "The first convolutional layer is a fully connected layer with 2046 neural units.",
         "fc 2046 + ReLU after global average pooling", "dscmr/paper.py", "FC_WIDTH = 2046", "interpreted",
         f"a convolution cannot be fully connected: read as the fc after the residual groups ({NETWORKS}, 1)"),
    Fact("Sec. 2.1", "the last layer is a fully connected layer with n neural units", "fc_au with n outputs", GEN,
         'return self.dscmr_head(self.resnet18_body(data))', "same"),
    Fact("Sec. 2.1", "The patch clipping part divides a 214 × 214 feature map into 8 × 8 blocks.",
         "Region layer, 8 × 8 grid of 26-27 px patches", "dscmr/paper.py", "REGION_GRID = (8, 8)", "interpreted",
         f"8 × 8 is the grid, not the patch size ({REGION_DOC})"),
    Fact("Sec. 2.1", "The patch clipping part divides a 214 × 214 feature map into 8 × 8 blocks.",
         "the 214 map: conv0 11×11, 32 filters, on the 224 face", GEN, 'x = self.conv_bn(data, "conv0", 32, 11)',
         "interpreted", f"where the map comes from is not stated; DRML's way ({NETWORKS}, 5)"),
    Fact("Sec. 2.1", "Each block is followed by a Batch Normalization (BN) and ReLU.",
         "per patch BatchNorm + Scale + ReLU, then 3×3 conv", "docs/layers/region.md",
         "Per patch, as DRML does", "interpreted", f"BN as Caffe's BatchNorm + Scale ({REGION_DOC})"),
    Fact("Sec. 2.1", "An identity addition part is introduced along with shortcut connection from the input block.",
         "y = conv(…) + x per patch", "docs/layers/region.md", "y = conv(…) + x per patch", "interpreted",
         f"x is the patch before BN ({REGION_DOC})"),
    Fact("Eq. 2", "where m is the number of all samples.", "m = the AU's valid (not ignored) samples in the batch",
         "python_layers/msr_loss.py", "m = valid.sum(0)", "interpreted", f"per AU ({MSR_DOC}, 1)"),
    Fact("Eq. 3", "The balance factor γ(i) ith AU definite", "γ from the current batch", "python_layers/msr_loss.py",
         "gamma = np.divide(n_neg, n_pos", "interpreted", f"per batch, 1 when a class is absent ({MSR_DOC}, 2-3)"),
    Fact("Eqs. 4-6", "the influence of positive samples on loss is enlarged by multiplying γ(i) which is greater than 1",
         "γ on positives if γ > 1, 1/γ on negatives if γ < 1", "python_layers/msr_loss.py",
         "w_pos = np.where(both & (gamma > 1), gamma, 1.0)", "same"),
    Fact("Eq. 7", "For the multi-label task with n labels, the loss function can be written following",
         "MSRLoss = Σ_i L_cur^(i)", "cpp_layers/src/caffe/layers/msr_loss_layer.cpp", "eq. 7", "same"),
    Fact("Eq. 8", "Here, we use the arithmetic mean of the all label loss values as the final loss value for this "
         "iteration.", "L_S = mean_i(α L_cur + (1 − α) L_pre)", "python_layers/msr_loss.py",
         "l_s = np.mean(alpha * l_cur + (1 - alpha) * l_pre)", "interpreted",
         "read as eq. 8's mean; whether the final loss is a mean over the n AUs too is the `loss_scale` reading "
         "(readings run as axes, below)"),
    Fact("Sec. 3.1", "For Eq. (8), α = 0.5.", "alpha 0.5", "dscmr/paper.py", "ALPHA = 0.5", "same"),
    Fact("Eq. 9", "The historical cost value L pre(i) is updated by Eq. (9) before proceeding to the next iteration",
         "L_pre ← α L_cur + (1 − α) L_pre, TRAIN phase only; L_pre := L_cur on the first batch",
         "python_layers/msr_loss.py", "l_pre = l_cur if updates == 0", "interpreted", f"{MSR_DOC}, 5-6"),
    Fact("Eq. 10", "In order to ensure that β(i) ∈ [1, 2], β(i) is calculated by the relative deviation of the loss "
         "values of each AU.", "beta_mode CLAMPED: β = eq. 10 above L_S, else 1", "cpp_layers/proto/messages.proto",
         "optional BetaMode beta_mode = 2 [default = CLAMPED];", "interpreted",
         f"eq. 10 alone gives [0, 2]; PAPER_ZERO and RAW are the other readings ({MSR_DOC}, 4); CLAMPED and "
         "PAPER_ZERO are the `beta` reading (below)"),
    Fact("Eq. 11", "The final loss function of Advanced MSR can be written as follows:",
         "L = Σ β_i L_cur^(i), β constant in the backward pass", "python_layers/msr_loss.py", "eq. 11",
         "interpreted", f"no gradient through β and L_S ({MSR_DOC}, 7)"),
    Fact("Sec. 3.1", "AUs included in the database are AU1, AU2, AU4, AU5, AU6, AU9, AU12, AU17, AU20, AU25, and AU26.",
         "11 AUs", "dscmr/paper.py", "EMOTIONET_AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26)", "same"),
    Fact("Sec. 3.1", "We registered face images to 224 × 224 using similarity transform",
         "least-squares similarity from 5 landmarks to a fixed template", "data_prep/faces/align.py",
         "def similarity_transform(src, dst):", "interpreted", f"points and template are this project's ({DATA_DOC})"),
    Fact("Sec. 3.1", "Each face was horizontally mirrored for data augmentation.",
         "mirror: true in TRAIN; --mirror stores mirrored train copies", GEN,
         "transform = dict(mirror=phase == caffe.TRAIN", "interpreted", f"{NETWORKS}, 7; {DATA_DOC}"),
    Fact("Sec. 3.1", "All models were initialized with the learning rate of 0.0005",
         "base_lr 0.0005", "dscmr/paper.py", "BASE_LR = 0.0005", "same"),
    Fact("Sec. 3.1", "which was further reduced after 2000 iterations.", "lr_policy step, stepsize 2000, gamma 0.1",
         GEN, '"gamma: 0.1",', "interpreted", f"the factor is not stated; Caffe's customary 0.1 ({NETWORKS}, 6); "
         "reduced once or every 2000 iterations is the `lr_policy` reading (below)"),
    Fact("Sec. 3.1", "A momentum of 0.9 and weight decay of 0.0005 was used.", "momentum 0.9, weight_decay 0.0005",
         "dscmr/paper.py", "WEIGHT_DECAY = 0.0005", "same"),
    Fact("Sec. 3.1", "All models were initialized with the learning rate of 0.0005, which was further reduced after "
         "2000 iterations.", "max_iter 6000, batch 16, mean (104, 117, 123)", GEN, "max_iter: int = 6000",
         "interpreted", f"the paper gives no iteration count, batch size or mean ({NETWORKS}, 6 and 8)"),
    Fact("Sec. 3.1", "All implementations were based on the Caffe toolbox with modifications to support the region "
         "layer and multi-label cross-entropy loss.", "BVLC Caffe 99bd997 + cpp_layers/ (Region, MSRLoss, AdMSRLoss)",
         "setup/fetch_caffe_source.sh", "ORIG_SHA256=", "same"),
    Fact("Sec. 3.1", "The performance was evaluated on two common frame-based metrics: F1-score and AUC.",
         "per-AU F1 (threshold 0.5) and ROC AUC; ignored labels left out", "tools/evaluation/metrics.py",
         "def per_au_metrics(probs, labels, aus, threshold=0.5", "interpreted",
         "the threshold is not stated: 0.5 on the sigmoid (--threshold in tools/evaluation/evaluate.py)"),
    Fact("Sec. 3.1", "For each method, we computed the average metrics on all AUs.", "unweighted mean over AUs",
         "tools/evaluation/metrics.py", "defined = [r[key] for r in rows if not np.isnan(r[key])]", "same"),
    Fact("Sec. 3.1", "The last frame of each image sequence is labeled with AU.", "the frame each FACS file names",
         "data_prep/build_ckplus.py", "The last frame of each image sequence is labeled with AU", "same"),
    Fact("Sec. 3.2", "proportions of negative and positive samples are 5, 10, 20, and 30 times.", "N:P 5, 10, 20, 30",
         "dscmr/paper.py", "FIG5_TRAIN_NP = (5, 10, 20, 30)", "interpreted",
         f"the same positives at every ratio, negatives = ratio × positives ({REPRO_DOC})"),
    Fact("Sec. 3.2", "the number of positive samples is the same as the number of negative samples in testing sets.",
         "balanced val and test splits", "data_prep/derive.py", "def balanced(column, cap):", "same"),
    Fact("Sec. 3.2", "Based on AlexNet, we use Eq. (7) as the loss function, where n = 1.",
         "alexnet_msr (MSRLoss) and alexnet (cross-entropy) on AU1 alone", "tools/experiments/reproduce.py",
         'FIG5_METHODS = {"AlexNet": "alexnet", "AlexNet + MSR": "alexnet_msr"}', "same"),
    Fact("Sec. 3.2", "The experiments are conducted on the database with AU labels of 3, 5, 8, and 11.",
         "the first 3, 5, 8, 11 AUs of the dataset", "tools/experiments/reproduce.py", "aus = tuple(manifest[\"aus\"][:k])",
         "interpreted", f"Table 3's rows are the first k EmotioNet AUs ({REPRO_DOC})"),
    Fact("Sec. 3.1", "We evaluated DSCMR in two databases that involve posed and spontaneous facial behaviors in "
         "varied contexts.", "default data: synthau (synthetic); CK+ and EmotioNet builders for licensed copies",
         "data_prep/build_synthau.py", "Builds synthau, the built-in dataset", "differs",
         "CK+ and EmotioNet are licensed and cannot ship; every result names its dataset (docs/data.md)"),
)


def normalise(text):
    """The paper's text without markdown and LaTeX markup, for finding quotes in it."""
    for old, new in (("\\times", "×"), ("\\alpha", "α"), ("\\beta", "β"), ("\\gamma", "γ"), ("\\in", "∈"),
                     ("^{(i)}", "(i)"), ("_{pre}", " pre"), ("*", ""), ("$", ""), ("{", ""), ("}", "")):
        text = text.replace(old, new)
    return re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s+", " ", text))


def unquoted(text):
    """The quotes of FACTS and of the readings' axes (dscmr/readings.py) that are not in the paper's text."""
    text = normalise(text)
    return [f.quote for f in FACTS if normalise(f.quote) not in text] + \
        [a.quote for a in readings.AXES if normalise(a.quote) not in text]


def check_quotes(paper_text):
    """One line on what the quote check found; RunError when a quote is not the paper's."""
    reason = paper.text_missing_reason(paper_text)
    if reason:
        return f"{PROG}: quotes not checked: {reason}"
    missing = unquoted(Path(paper_text).read_text(errors="replace"))
    if missing:
        raise RunError(f"{len(missing)} quote(s) of tools/experiments/audit.py or dscmr/readings.py are not in {paper_text}: "
                       + "; ".join(repr(quote[:60]) for quote in missing))
    return f"{PROG}: all {len(FACTS) + len(readings.AXES)} quotes found in {paper_text}"


def locate(path, anchor):
    """file:line of the first line of path holding anchor; KeyError naming both when none does."""
    for number, line in enumerate((REPO / path).read_text().splitlines(), 1):
        if anchor in line:
            return f"{path}:{number}"
    raise KeyError(f"{path} no longer holds {anchor!r}; update the row in tools/experiments/audit.py")


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
    folder = reproduce_report.runs_dir(results / report["dataset"] / experiment, report["budget_name"], seed_of(run))
    return reproduce_report.test_intervals({"test_probs": str(folder / f"{run.get('run_name')}.test.npz")})


def test_spread(results, report, run):
    """metrics.output_spread of a committed run's test probabilities."""
    folder = reproduce_report.runs_dir(results / report["dataset"] / "table4-5", report["budget_name"], seed_of(run))
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
    """A line for the runs whose recorded code (training_run.code_fingerprint) differs from today's, or was not
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
        per_seed = "; ".join(f"seed {c.seed}: {c.difference:+.2f} [{c.interval[0]:+.2f}, {c.interval[1]:+.2f}]"
                             + untrained_note(c) + ("" if c.current else " (trained with code that has changed since)")
                             for c in claim.comparisons if c.what == what)
        over = f"; over {n} seeds {mean:+.2f} ± {sd:.2f}" if n > 1 else ""
        bound = f", non-inferiority margin {margin:g}" if margin else ""
        lines.append(f"  - {what} (points{bound}): {per_seed}{over}")
        for c in claim.comparisons:
            if c.what == what and c.per_au:
                lines.append(f"    - seed {c.seed}, per AU: " + "; ".join(
                    f"AU{au} {'**' if lo > 0 or hi < 0 else ''}{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"
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
                "points, with its 95 % paired bootstrap interval.", ""]
    verdicts += [line for c in claims.in_paper_order(judged) for line in claim_lines(c)] or \
        ["- No claim can be checked yet."]
    verdicts += [""] + sensitivity(judged)
    return lines + verdicts + [""] + (["### Notes on these results", ""] + notes + [""] if notes else [])


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
             f"`tests/test_auc_bound.py`). Of the {len(every)} cells of Tables 4 and 5, **{len(below)} print an AUC "
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
             "resumed ends with the uninterrupted run's weights, bit for bit (`tests/test_resume_exact.py`, a real "
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
