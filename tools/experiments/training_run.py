"""One training run of tools/experiments/reproduce.py: a method's nets and solver for one dataset and schedule,
`caffe train`, then the paper's metrics (Sec. 3.1) of its snapshots on the dataset's test split.

A run owns a directory. It is finished when done.json is there: that file is written last and
atomically, so an interrupted run never looks finished. A finished run is never repeated; an
unfinished one resumes from its newest .solverstate with the same configuration and code, or starts
again when either changed. Afterwards only the last .caffemodel is kept, with the model card
(<method>.model.json) that lets au-predict use it. A finished run whose configuration (method,
dataset manifest, AUs, schedule) differs from the one asked for, or which today's code would not
train the same way (code_changed), is not reused: it is moved aside and starts again.
"""
import itertools
import json
import os
import re
import subprocess
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dscmr import REPO, machine
from dscmr.caffe_home import caffe_home, caffe_pb2
from dscmr.errors import RunError
from dscmr.files import naming, write_atomically
from tools.evaluation import evaluate, metrics
from tools.evaluation.metrics import mean_metrics, per_au_metrics
from tools.experiments import plateau
from tools.experiments.run_spec import RunSpec
from tools.nets import model_card, parse_log

# DSCMR_CAFFE: another caffe binary, e.g. a CUDA build on a machine without this venv (docs/gpu.md).
CAFFE = Path(os.environ.get("DSCMR_CAFFE") or REPO / ".venv" / "bin" / "caffe")
ITERATION = re.compile(r"Iteration (\d+)")
SOLVER_STATE = re.compile(r"Snapshotting solver state to binary proto file (\S+)")
# How snapshots are evaluated: tools/evaluation/evaluate.py's predict, predict_by_caffe_test.
EVALUATORS = ("pycaffe", "caffe-test")
GLOG_ERROR = re.compile(r"^[EF]\d{8} ")   # glog ERROR and FATAL lines
# `caffe test` processes evaluating one GPU run's snapshots at once: each spends most of its few seconds
# starting CUDA, which overlaps (an AlexNet run's 16 snapshots took 110 s one at a time, 38-50 s four at
# a time, on an H200 shared by other runs). On a CPU they would only share its cores.
GPU_EVALUATIONS_AT_ONCE = 4


class RunFailed(RunError):
    """caffe train failed, or left no weights."""


def snapshot_iterations(schedule, last=None):
    """The iterations with a snapshot up to last (default: the schedule's end): every interval, and the
    last one (Caffe snapshots it too)."""
    last = last or schedule.iters
    its = list(range(schedule.interval, last + 1, schedule.interval))
    return its if its and its[-1] == last else its + [last]


def write_nets(spec, run_dir, max_iter=None):
    """The run's nets and solver into its folder, and the model card au-predict reads; (solver, train/val)."""
    for name, text in spec.files(run_dir, max_iter).items():
        with naming(run_dir / name):
            (run_dir / name).write_text(text)
    key = spec.method.key
    solver = run_dir / f"{key}_solver.prototxt"
    model_card.write(solver, run_dir / f"{key}_deploy.prototxt", root=REPO)   # for au-predict
    return solver, run_dir / f"{key}_train_val.prototxt"


def latest_solverstate(run_dir, method):
    """The solver state of the highest iteration (iter_10 after iter_9) that is whole: a run killed
    while writing one leaves a file that does not parse, and resumes from the one before."""
    from google.protobuf.message import DecodeError

    states = sorted(run_dir.glob(f"{method}_iter_*.solverstate"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    for state in reversed(states):
        try:
            parsed = caffe_pb2().SolverState.FromString(state.read_bytes())
        except DecodeError:
            continue
        if parsed.iter == int(state.stem.rsplit("_", 1)[1]) and (state.with_suffix(".caffemodel")).is_file():
            return state
    return None


def train(solver, log_path, resume_from, iters, label):
    """caffe train, its output appended to log_path, with a progress bar over iterations."""
    if not CAFFE.exists():
        raise RunFailed(f"{CAFFE} does not exist: run `make setup` first")
    cmd = [str(CAFFE), "train", "-solver", str(solver)]
    if resume_from:
        cmd += ["-snapshot", str(resume_from)]
    tail, errors, announced = deque(maxlen=15), deque(maxlen=3), []
    env = dict(os.environ, GLOG_minloglevel="0")
    with naming(log_path), open(log_path, "a", buffering=1) as log, \
            tqdm(total=iters, desc=label, unit="it", file=sys.stderr, dynamic_ncols=True, leave=True) as bar:
        log.write(f"# {' '.join(cmd)}\n{parse_log.TRAINED_ON}{machine.describe()}; build {caffe_build()}\n")
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, errors="replace")
        for line in proc.stdout:
            log.write(line)
            tail.append(line.rstrip())
            if GLOG_ERROR.match(line):
                errors.append(line.rstrip())
            if m := ITERATION.search(line):
                bar.update(max(0, int(m.group(1)) - bar.n))
            if m := SOLVER_STATE.search(line):
                prune_states(announced, Path(m.group(1)))
        rc = proc.wait()
    if rc != 0:
        how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
        said = "its errors" if errors else "its end"
        raise RunFailed(f"caffe train {how}; the log is {log_path}; {said}:\n" + "\n".join(errors or tail))


def prune_states(announced, state):
    """Deletes the solver states a run can no longer resume from. Caffe announces a state before
    writing it, so when `state` is announced the one before it is whole: every older one goes. A run
    keeps its snapshots' weights for the evaluation, but only the last state or two (AlexNet's are
    227 MB each, 16 snapshots a run)."""
    announced.append(state)
    for old in announced[:-2]:
        old.unlink(missing_ok=True)
    del announced[:-2]


def mapped(function, items, at_once, desc):
    """[function(item) for item in items], at_once calls at a time, with a progress bar. Calls overlap in
    threads only when asked: pycaffe's mode and device are per thread (Caffe::Get), so it stays in this one."""
    with ThreadPoolExecutor(at_once) if at_once > 1 else nullcontext() as pool:
        results = (pool.map if pool else map)(function, items)
        return list(tqdm(results, total=len(items), desc=desc, unit="snapshot", file=sys.stderr, leave=False))


def evaluate_splits(train_val, weights, data_dir, splits, aus, schedule, evaluator="pycaffe"):
    """[(metrics, probabilities, labels)] of a snapshot on each of splits of the run's dataset."""
    split_dirs = [Path(data_dir) / split for split in splits]
    if evaluator == "caffe-test":
        predicted = [evaluate.predict_by_caffe_test(train_val, weights, split_dir, schedule.batch_size, CAFFE,
                                                    gpu=0 if schedule.solver_mode == "GPU" else None)
                     for split_dir in split_dirs]
    else:
        # No probe process: caffe train has just built this net and written these weights (a probe took
        # nearly twice as long as the rest of a smoke run's evaluation, by cProfile).
        predicted = evaluate.predict_splits(train_val, weights, split_dirs, schedule.batch_size, probe=False)
    results = []
    for probs, labels in predicted:
        rows = per_au_metrics(probs, labels, aus)
        results.append(({"per_au": rows, "mean": mean_metrics(rows), "spread": metrics.output_spread(probs)},
                        probs, labels))
    return results


def evaluate_snapshot(run_dir, train_val, weights, it, data_dir, aus, schedule, evaluator="pycaffe"):
    """Test metrics ("per_au", "mean") and validation metrics ("val") of one snapshot, cached in
    evaluations/<iteration>.json (an interrupted evaluation does not start over); the test
    probabilities go to evaluations/<iteration>.test.npz."""
    cache = run_dir / "evaluations" / f"{it}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    cache.parent.mkdir(exist_ok=True)
    (test, probs, labels), (val, val_probs, val_labels) = evaluate_splits(
        train_val, weights, data_dir, ("test", "val"), aus, schedule, evaluator)
    # Whether the net has learned by this snapshot, by the audit's rule (metrics.trained): a run trained
    # until flat is not flat while it is still at chance.
    resamples = metrics.resample_counts(len(val_labels))
    val["auc_ci"] = metrics.interval(metrics.resampled_means(val_probs, val_labels, aus, resamples)["auc"][1])
    val["trained"] = metrics.trained(val["auc_ci"], val["spread"])
    result = dict(iteration=it, **test, val=val)
    with naming(cache.with_suffix(".test.npz")):
        np.savez(cache.with_suffix(".test.npz"), probs=probs, labels=labels, aus=np.array(aus))
    write_atomically(cache, json.dumps(result, default=float) + "\n")
    return result


def changed_since(record):
    """What a finished run depends on that has changed since it was trained: the files (and NETS) of its
    recorded "depends" that differ today, or, for a record from before "depends", ["code"] when its code
    fingerprint is not today's; [] when nothing has, or a record that predates both cannot tell."""
    if record.get("depends"):
        today = RunSpec.of_record(record).depends()
        return sorted(k for k in set(today) | set(record["depends"]) if today.get(k) != record["depends"].get(k))
    return ["code"] if record.get("code") and record["code"] != RunSpec.of_record(record).code() else []


def code_changed(record):
    """Whether a finished run was trained with code that has changed since (changed_since)."""
    return bool(changed_since(record))


def changed_in_words(record):
    """What changed_since finds, for a message: "changed: <files>", or the two code fingerprints."""
    changed = changed_since(record)
    return f"code {record['code']}, today {RunSpec.of_record(record).code()}" if changed == ["code"] else \
        "changed: " + ", ".join(changed)


def move_aside(run_dir, why):
    """Keeps what a run directory holds under <dir>.replaced-<k> so a new run can start in it."""
    aside = next(p for k in itertools.count(1) if not (p := run_dir.with_name(f"{run_dir.name}.replaced-{k}")).exists())
    run_dir.rename(aside)
    print(f"[run] {run_dir} held {why}: moved to {aside}", file=sys.stderr)


def caffe_build():
    """The cached Caffe product the launcher runs (its directory name hashes source, patches, layers),
    or the one DSCMR_CAFFE names (its bin/caffe)."""
    if os.environ.get("DSCMR_CAFFE"):
        return CAFFE.resolve().parent.parent.name
    home = caffe_home()
    return home.name if home else "unknown"


def flat_at(evaluations, cap):
    """Where a run trained until flat stops, from its evaluations so far (ascending): (iteration,
    flattened). It stops at the first segment end where its validation mean AUC is flat by the CPU budget's
    rule (plateau.flat) and it has learned (metrics.trained on val: a run still at chance is not
    flat), or at the cap; None while it goes on."""
    curve = [(e["iteration"], e["val"]["mean"]["auc"]) for e in evaluations]
    last = curve[-1][0]
    if evaluations[-1]["val"].get("trained") and plateau.flat(curve, last):
        return last, True
    return (last, False) if last >= cap else None


def iteration_of(path):
    return int(path.stem.rsplit("_", 1)[1])


def segments(schedule, until_flat):
    """Where each `caffe train` of a run stops: the schedule's end; for a run trained until flat, that
    end and then every 4 snapshots up to the cap (the rule compares T with 0.75 T, a snapshot only
    there)."""
    if not until_flat:
        return [schedule.iters]
    return list(range(schedule.iters, until_flat, 4 * schedule.interval)) + [until_flat]


def drop_evaluated(run_dir, method, reached):
    """A run trained until flat keeps no snapshot before the segment's end `reached` (the one to resume
    from, and the run's weights if it stops there): those are evaluated, and AlexNet's weights and state
    are 455 MB a snapshot, up to 40 of them. Later ones (a resumed run's) are not evaluated yet."""
    for path in run_dir.glob(f"{method}_iter_*"):
        if iteration_of(path) < reached:
            path.unlink()


def run(spec, run_dir, label=None, evaluator="pycaffe", progress=None):
    """Trains and evaluates one run (a RunSpec) in run_dir unless it is finished; returns its done.json
    content. evaluator: one of EVALUATORS (the same numbers; caffe-test where pycaffe cannot be imported).
    A run with spec.until_flat trains spec.schedule.iters, then on until flat_at says stop, each
    segment's snapshots evaluated before the next, and progress (if given) receives the record so far,
    flagged unfinished, after each."""
    run_dir, method, schedule, until_flat = Path(run_dir), spec.method.key, spec.schedule, spec.until_flat
    done = run_dir / "done.json"
    config = spec.config()
    if done.is_file():
        result = json.loads(done.read_text())
        if {k: result.get(k) for k in config} == config:
            if not code_changed(result):
                return result
            move_aside(run_dir, f"a run finished with code that has changed since ({changed_in_words(result)})")
    config_path, code_path = run_dir / "config.json", run_dir / "code.txt"
    code, depends = spec.code(), spec.depends()
    if config_path.is_file() and json.loads(config_path.read_text()) != config:
        move_aside(run_dir, "a run of another configuration (its config.json)")
    elif code_path.is_file() and code_path.read_text().strip() != code and latest_solverstate(run_dir, method):
        move_aside(run_dir, f"a run begun with code that has changed since (code {code_path.read_text().strip()}, "
                            f"today {code}): resumed, it would mix the two")
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config, indent=1) + "\n")
    code_path.write_text(code + "\n")
    log_path = run_dir / "train.log"
    evaluations, stop = [], None
    for target in segments(schedule, until_flat):
        # Only max_iter differs between segments: the rate schedule does not depend on it, and a resumed
        # run continues bit for bit (setup/patches/10-exact-resume.patch).
        solver, train_val = write_nets(spec, run_dir, target)
        resume_from = latest_solverstate(run_dir, method)
        if resume_from is None or iteration_of(resume_from) < target:
            train(solver, log_path, resume_from, target, label or method)
        iterations = snapshot_iterations(schedule, target) if spec.every_snapshot or until_flat else [target]
        iterations = [it for it in iterations if it > (evaluations[-1]["iteration"] if evaluations else 0)]
        weights = {it: run_dir / f"{method}_iter_{it}.caffemodel" for it in iterations}
        for it in iterations:
            if not weights[it].is_file() and not (run_dir / "evaluations" / f"{it}.json").is_file():
                raise RunFailed(f"{weights[it]} is missing after training; see {log_path}")

        def evaluated(it, weights=weights, train_val=train_val):
            return evaluate_snapshot(run_dir, train_val, weights[it], it, spec.data_dir, spec.aus, schedule, evaluator)

        at_once = GPU_EVALUATIONS_AT_ONCE if evaluator == "caffe-test" and schedule.solver_mode == "GPU" else 1
        evaluations += mapped(evaluated, iterations, at_once, f"{label or method}: val and test")
        if not until_flat:
            stop = (target, None)
            break
        drop_evaluated(run_dir, method, target)
        stop = flat_at(evaluations, until_flat)
        if progress:
            progress(record(run_dir, method, config, code, depends, evaluator, evaluations, target, log_path,
                            plateau=plateau_of(stop, target, until_flat), unfinished=stop is None))
        if stop:
            break
    final, flattened = stop
    for path in run_dir.glob(f"{method}_iter_*"):
        if path.suffix == ".solverstate" or iteration_of(path) != final:
            path.unlink()
    result = record(run_dir, method, config, code, depends, evaluator, evaluations, final, log_path,
                    plateau=plateau_of(stop, final, until_flat) if until_flat else None)
    write_atomically(done, json.dumps(result, indent=1, default=float) + "\n")
    return result


def plateau_of(stop, reached, cap):
    """What a run trained until flat records: where it stopped, and whether it flattened or hit the cap
    (None for both while it goes on)."""
    return {"cap": cap, "reached": reached, "stopped_at": stop and stop[0], "flattened": stop and stop[1]}


def record(run_dir, method, config, code, depends, evaluator, evaluations, final, log_path, plateau=None,
           unfinished=False):
    """A run's record: its configuration, code (its fingerprint, and the files it depends on), every
    evaluated snapshot, and where its files are."""
    with open(log_path, errors="replace") as log:
        lines = log.readlines()
    result = dict(config, train_seconds=round(parse_log.wall_seconds(lines), 1), evaluations=evaluations, code=code,
                  depends=depends, caffe=caffe_build(), evaluated_with=evaluator, trained_on=parse_log.trained_on(lines),
                  log=str(log_path), test_probs=str(run_dir / "evaluations" / f"{final}.test.npz"),
                  weights=str(run_dir / f"{method}_iter_{final}.caffemodel"))
    if plateau:
        result["plateau"] = plateau
    if unfinished:
        result["unfinished"] = True
    return result
