"""Parses a `caffe train` log (glog) into per-iteration train and test records, and plots them.

Every net output Caffe logs is kept: the loss, and per-AU tops such as Ad-MSR's beta and L_cur,
which Caffe logs one element a line under the same name (they become lists, one value per AU).

Examples:
  au-parse-log runs/ldscmr.log                  # writes runs/ldscmr.train.csv, .test.csv
  au-parse-log runs/ldscmr.log --plot runs/ldscmr_curves.png
"""
import argparse
import csv
import re
import sys
from datetime import datetime
from pathlib import Path

from dscmr.errors import InputError, cli
from dscmr.files import replacing

PROG = "au-parse-log"

TRAIN_LOSS = re.compile(r"Iteration (\d+) \(.*\), loss = ([-+]?(?:nan|inf)|[-+\d.eE]+)")
LEARNING_RATE = re.compile(r"Iteration (\d+), lr = ([-+\d.eE]+)")
TESTING = re.compile(r"Iteration (\d+), Testing net")
OUTPUT = re.compile(r"(Train|Test) net output #\d+: (\S+) = ([-+]?(?:nan|inf)|[-+\d.eE]+)")
GLOG_TIME = re.compile(r"[IWEF](\d{8} \d\d:\d\d:\d\d\.\d+) ")
SEGMENT = "# "     # training_run starts each `caffe train` it appends to a log with such a line
TRAINED_ON = "# on: "   # ... and the CPU and Caffe build it ran on (training_run.train)
CAFFE_GPU = re.compile(r"caffe\.cpp:\d+\] (GPU \d+: .+)$")   # caffe train's own line naming a device it uses


def wall_seconds(lines):
    """Seconds `caffe train` ran, summed over the log's segments (one per invocation, each opened
    by a SEGMENT line), each from its first glog time to its last: the time between an
    interruption and its resumption is not counted, the work redone after it is."""
    total, first, last = 0.0, None, None
    for line in list(lines) + [SEGMENT]:
        if line.startswith(SEGMENT):
            total += (last - first).total_seconds() if first else 0.0
            first = last = None
        elif m := GLOG_TIME.match(line):
            last = datetime.strptime(m.group(1), "%Y%m%d %H:%M:%S.%f")
            first = first or last
    return total


def trained_on(lines):
    """The CPUs and Caffe builds the log's `caffe train` segments ran on, with the GPUs caffe names
    in a GPU segment, each once, in order; [] for a log written before training_run recorded them."""
    found, where = [], None
    for line in lines + [TRAINED_ON]:
        if line.startswith(TRAINED_ON):
            if where and where not in found:
                found.append(where)
            where = line[len(TRAINED_ON):].strip()
        elif where and (m := CAFFE_GPU.search(line)):
            where += f"; {m.group(1).strip()}"
    return found


def parse_log(lines):
    """(train, test): lists of {"iteration": int, name: float or [floats], ...} in log order, one
    record per display and per test phase (a resumed run's log repeats an iteration: the last
    record of an iteration is the one that counts)."""
    train, test = [], []
    current = None
    for line in lines:
        if m := TESTING.search(line):
            # A record per test phase: a resumed run tests its first iteration again, and the
            # appended log then holds two tests of that iteration.
            test.append({"iteration": int(m.group(1))})
        elif m := TRAIN_LOSS.search(line):
            current = {"iteration": int(m.group(1)), "smoothed_loss": float(m.group(2))}
            train.append(current)
        elif m := LEARNING_RATE.search(line):
            if train and train[-1]["iteration"] == int(m.group(1)):
                train[-1]["lr"] = float(m.group(2))
        elif m := OUTPUT.search(line):
            phase, name, value = m.group(1), m.group(2), float(m.group(3))
            if phase == "Train":
                record = current
            else:
                record = test[-1] if test else None
            if record is None:
                continue
            if name in record:
                previous = record[name]
                record[name] = (previous if isinstance(previous, list) else [previous]) + [value]
            else:
                record[name] = value
    return train, test


def flatten(record):
    """Lists become name_0, name_1, ... columns."""
    out = {}
    for key, value in record.items():
        if isinstance(value, list):
            out.update({f"{key}_{i}": v for i, v in enumerate(value)})
        else:
            out[key] = value
    return out


def write_csv(records, path):
    rows = [flatten(r) for r in records]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def plot_curves(train, test, path, title="", aus=None, metadata=None):
    """Loss (and accuracy, and Ad-MSR's per-AU beta, when logged) against iteration, train and test,
    in the style of Fig. 5. `aus` names the beta curves (default: their column numbers); metadata
    goes into the PNG's text chunks."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in test if "accuracy" in r]
    with_beta = [r for r in train if isinstance(r.get("beta"), list)]
    panels = 1 + bool(scored) + bool(with_beta)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    axes = list(axes[0])
    ax = axes.pop(0)
    ax.plot([r["iteration"] for r in train], [r["smoothed_loss"] for r in train], label="train")
    tested = [r for r in test if "loss" in r]
    ax.plot([r["iteration"] for r in tested], [r["loss"] for r in tested], "o-", label="test")
    ax.set(xlabel="iteration", ylabel="loss", title=f"{title} loss".strip())
    ax.legend()
    if scored:
        ax = axes.pop(0)
        ax.plot([r["iteration"] for r in scored], [100 * r["accuracy"] for r in scored], "o-")
        ax.set(xlabel="iteration", ylabel="accuracy (%)", title=f"{title} accuracy".strip())
    if with_beta:
        ax = axes.pop(0)
        betas = list(zip(*(r["beta"] for r in with_beta)))
        names = [f"AU{a}" for a in aus] if aus and len(aus) == len(betas) else [str(i) for i in range(len(betas))]
        for name, beta in zip(names, betas):
            ax.plot([r["iteration"] for r in with_beta], beta, label=name)
        ax.set(xlabel="iteration", ylabel="beta (eq. 10)", title=f"{title} Ad-MSR beta per AU".strip())
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, metadata=metadata)
    plt.close(fig)


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path, help="a caffe train log (what caffe prints to stderr)")
    ap.add_argument("--out-prefix", type=Path, help="CSV prefix (default: the log's path without .log)")
    ap.add_argument("--plot", type=Path, help="also write a PNG of the loss/accuracy curves here")
    opts = ap.parse_args(argv)
    if not opts.log.is_file():
        raise InputError(opts.log, "not found (expected a caffe train log)")
    with open(opts.log, errors="replace") as f:
        train, test = parse_log(f)
    if not train and not test:
        raise InputError(opts.log, "holds no 'Iteration N (...), loss = ' or test output lines: not a caffe train log")
    prefix = opts.out_prefix or opts.log.with_suffix("")
    write_csv(train, f"{prefix}.train.csv")
    write_csv(test, f"{prefix}.test.csv")
    print(f"{len(train)} train and {len(test)} test records -> {prefix}.train.csv, {prefix}.test.csv")
    if opts.plot:
        plot_curves(train, test, opts.plot, title=opts.log.stem)
        print(f"curves -> {opts.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
