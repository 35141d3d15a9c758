"""The paper's experiments (Sec. 3.2), one sub-command each: each derives its datasets, trains every
run through `caffe train` with generated solvers, evaluates, and writes a results folder.

  fig5       AU1 alone, training N:P 5, 10, 20, 30, balanced test set; AlexNet with and without
             MSR (eq. 7, n = 1): test accuracy and loss curves (Fig. 5)
  table2-3   AlexNet + MSR vs AlexNet + Ad-MSR with the first 3, 5, 8 and 11 AUs: per-AU accuracy
             (Tables 2 and 3)
  table4-5   DRML, ResNet18, AlexNet, DSCMR, AlexNet+Ad-MSR, L-DSCMR on all AUs: per-AU F1 and AUC
             (Table 4 on EmotioNet, Table 5 on CK+)

Data: --data is any data_prep dataset (default: data/synthau, `make data`); each finished run
goes to results/<dataset>/<experiment>/runs/<budget>-s<seed>/ and the report of all of a budget's
seeds to results/<dataset>/<experiment>/<budget>/ (the dataset's name is in every table: a synthau
result is never an EmotioNet one). Runs and derived datasets live under --work (default: runs/reproduce/).

Budgets (--budget; each number can be overridden):
{budgets}
  --gpu picks the paper budget and solver_mode GPU (a CUDA build: make setup-gpu); a budget trained
  on the GPU is reported apart, as <budget>-gpu (the same seed gives other numbers on another device).
  Sec. 3.1 fixes lr 0.0005 (x0.1 after 2000 iterations), momentum 0.9, weight decay 0.0005;
  every budget keeps them, so short budgets stop long before the paper's nets converge.
  plateau: each run trains 4000 iterations, then on, 1000 at a time, until its validation mean AUC
  is flat by the cpu budget's rule and it has learned; the record says where, and whether it
  flattened or hit the cap. Each 1000 is committed as <run>.partial.json until the run ends.

Readings (--loss-scale, --lr-policy, --beta; dscmr/readings.py): the paper's ambiguous sentences,
each a named choice; the default reads them as every run before these options did. Other readings
are other budgets: --budget cpu --loss-scale mean --lr-policy once reports as cpu-mean-once.

Runs resume: a finished run (its done.json) is never repeated, an interrupted one continues from
its last snapshot, and the results folder is rewritten from all finished runs. A committed run
trained with code that has changed since (--plan: stale) is reported with a warning, or trained
again with --retrain-stale. A committed run trained on other data than --data derives for it (--plan:
other data; another build of the dataset) stops the command: runs on two builds are never mixed.
--report rewrites a budget's report from results/ alone, training nothing.

Examples:
  au-reproduce table4-5 --budget smoke          # every run in seconds (a check)
  au-reproduce fig5 --budget short              # minutes per run on a CPU
  au-reproduce table4-5 --data data/emotionet --gpu
  au-reproduce fig5 --plan                      # the runs and their state, nothing run
  au-reproduce table4-5 --budget plateau --lr-policy once --only alexnet_admsr   # a reading, until flat
"""
import argparse
import json
import shlex
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

from data_prep import derive
from dscmr import REPO, locks
from dscmr import readings as readings_
from dscmr.dataset import read_manifest
from dscmr.errors import InputError, RunError, cli
from tools.experiments import reproduce_report, results_store, slurm, training_run
from tools.experiments.plans import BUDGETS, EXPERIMENTS, data_dir_of, in_seed_order, run_dir_of
from tools.experiments.run_spec import RunSpec, Schedule, data_fingerprint

PROG = "au-reproduce"
RESULTS_LOCK = ".lock"   # an experiment's results folder is written by one process at a time


def prepare(opts, work, planned, seed):
    """(the run in seed's order, its derived data's splits, its RunSpec): the one place a planned run and
    the command line's budget, device, seed and readings become what a run is."""
    planned = in_seed_order(planned, seed)
    data_dir = data_dir_of(work, opts.budget, planned, seed)
    splits = derive.derive(opts.data, data_dir, planned.aus, planned.select, planned.selection)["splits"]
    b = opts.budget
    spec = RunSpec(planned.method, data_dir, planned.aus,
                   Schedule(b.iters, b.batch_size, b.points, "GPU" if opts.gpu else "CPU", seed),
                   splits["val"]["count"], planned.every_snapshot,
                   # the readings that change the method: cross-entropy AlexNet under loss_scale mean is AlexNet
                   opts.readings.of_loss(planned.method.loss), b.until_flat)
    return planned, splits, spec


def git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
    except OSError:   # no git (a copy of the tree on another machine)
        return "unknown"
    return (out.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def parse_args(argv=None):
    budgets = "\n".join(f"  {name:7s} {b.iters} iterations"
                        + (f" then on until flat, at most {b.until_flat}" if b.until_flat else "")
                        + f", batch {b.batch_size}, train {b.train_size or 'all'}, "
                        f"val {b.val_size or 'all'}, test {b.test_size or 'all'}, {b.points} points"
                        for name, b in BUDGETS.items())
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.format(budgets=budgets),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", choices=sorted(EXPERIMENTS), help="which experiment")
    ap.add_argument("--data", type=Path, default=REPO / "data" / "synthau", help="dataset (default: data/synthau)")
    ap.add_argument("--budget", choices=sorted(BUDGETS), help="schedule and sizes (default: short, or paper with --gpu)")
    ap.add_argument("--iters", type=int, help="override: training iterations per run")
    ap.add_argument("--batch-size", type=int, help="override: batch size")
    ap.add_argument("--train-size", type=int, help="override: train samples kept (Fig. 5: sets the positives)")
    ap.add_argument("--val-size", type=int, help="override: validation samples of the test phase")
    ap.add_argument("--test-size", type=int, help="override: test samples evaluated")
    ap.add_argument("--points", type=int, help="override: snapshots/tests per run")
    ap.add_argument("--until-flat", type=int, metavar="CAP",
                    help="override: after --iters, train on until flat, at most CAP iterations (plateau: 10000)")
    ap.add_argument("--seed", type=int, default=1,
                    help="the solvers' random_seed (weight initialisation, random mirroring, dropout) and, above 1, "
                         "the order the train split is read in (a permutation seeded by it; the same samples) "
                         "(default: 1)")
    readings_.add_options(ap)
    ap.add_argument("--gpu", action="store_true", help="solver_mode GPU and, unless --budget says otherwise, the paper budget")
    ap.add_argument("--evaluate-with", choices=training_run.EVALUATORS, default="pycaffe",
                    help="how snapshots are evaluated: pycaffe, or the caffe binary's `caffe test` (the same "
                         "numbers to 6 digits, for a machine where pycaffe does not import; default: pycaffe)")
    ap.add_argument("--only", help="comma-separated runs to train: a generator method (all its runs, e.g. "
                                   "alexnet,ldscmr) or one run as method/data, the two columns --plan prints (e.g. "
                                   "alexnet_msr/aus11); the report covers every finished run")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "reproduce",
                    help="runs and derived data (default: runs/reproduce)")
    ap.add_argument("--results", type=Path, default=REPO / "results",
                    help="results root; writes <results>/<dataset>/<experiment>/ (default: results/)")
    ap.add_argument("--retrain-stale", action="store_true",
                    help="train again the committed runs whose code has changed since (their layers, Caffe patches, "
                         "or the nets and solver the generator writes for them; --plan says `stale`); without it they "
                         "are reported as they are, with a warning. The old record is kept in runs/.../replaced-<k>/")
    ap.add_argument("--wait", action="store_true",
                    help="a run that another au-reproduce process (or cluster task) is training: wait for it to "
                         "finish, instead of skipping it with a line that names the holder")
    ap.add_argument("--sbatch", default="", metavar="OPTIONS",
                    help="with --submit slurm: sbatch options for every job, written with `=`, e.g. "
                         "--sbatch=\"--partition=cpu --time=12:00:00\", or --sbatch=\"--partition=gpu --gres=gpu:1\" "
                         "with --gpu")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--plan", action="store_true", help="print the runs and whether they are done (or queued or "
                                                          "running in Slurm); run nothing")
    what.add_argument("--submit", choices=("slurm",),
                      help="train the runs that are not done as a Slurm job array, a task per run, on a --work and "
                           "--results the nodes share, and then the report and AUDIT.md in a job after it; prints "
                           "the job ids (docs/cluster.md)")
    what.add_argument("--report", action="store_true",
                      help="rewrite the budget's report from the runs committed in results/ (every seed); train "
                           "nothing (after a change to the report's code: a command that trains nothing new leaves "
                           "the report as it is)")
    opts = ap.parse_args(argv)
    budget = BUDGETS[opts.budget or ("paper" if opts.gpu else "short")]
    overrides = {k: getattr(opts, k) for k in ("iters", "batch_size", "train_size", "val_size", "test_size", "points",
                                               "until_flat") if getattr(opts, k) is not None}
    bad = {k: v for k, v in overrides.items() if v < 1}
    if bad:
        ap.error(f"these must be at least 1: {bad}")
    cap, least = overrides.get("until_flat", budget.until_flat), overrides.get("iters", budget.iters)
    if cap is not None and cap <= least:
        ap.error(f"--until-flat {cap} must be above the iterations it trains first ({least})")
    opts.readings = readings_.of_options(opts)
    # An overridden budget, or other readings, is another budget: its runs and report never replace the
    # named one's (cpu-mean-once: the cpu budget under loss_scale mean and lr_policy once).
    opts.budget_name = (opts.budget or ("paper" if opts.gpu else "short")) + "".join(
        f"-{k.replace('_', '')}{v}" for k, v in sorted(overrides.items())) + opts.readings.tag() + \
        ("-gpu" if opts.gpu else "")
    opts.budget = replace(budget, **overrides)
    return opts


def run_state(kept, run_dir, planned, data_manifest):
    """committed (in results/), other data (committed, but trained on data other than the fingerprint
    data_manifest that this dataset derives for it), stale (committed, but trained with code that has
    changed since), in
    <experiment> (committed there under the same name: reused if it is the same run; stale in
    <experiment> if that one is stale), done (in --work, not committed), at <iteration> (a snapshot to
    resume from) or todo."""
    def stale(path):
        return training_run.code_changed(json.loads(path.read_text()))

    name = f"{results_store.run_name(planned)}.json"
    if (kept / name).is_file():
        if json.loads((kept / name).read_text()).get("data_manifest") != data_manifest:
            return "other data"
        return "stale" if stale(kept / name) else "committed"
    experiment_dir = kept.parent.parent
    for other in sorted(p for p in experiment_dir.parent.glob("*") if p.is_dir() and p != experiment_dir):
        if (other / "runs" / kept.name / name).is_file():
            return f"{'stale in' if stale(other / 'runs' / kept.name / name) else 'in'} {other.name}"
    if (run_dir / "done.json").is_file():
        return "done"
    state = training_run.latest_solverstate(run_dir, planned.method.key) if run_dir.is_dir() else None
    return f"at {state.stem.rsplit('_', 1)[1]}" if state else "todo"


def check_data(opts, work, out, runs):
    """InputError, naming the run and both fingerprints, when a run committed for this budget (any seed)
    was trained on other data than --data derives for it: another build of the dataset, whose runs must
    not be mixed or compared with those (tools/experiments/rederive.py)."""
    for seed in sorted(set(results_store.committed_seeds(out, opts.budget_name)) | {opts.seed}):
        kept = results_store.runs_dir(out, opts.budget_name, seed)
        for r in runs:
            path = kept / f"{results_store.run_name(r)}.json"
            if not path.is_file():
                continue
            recorded = json.loads(path.read_text()).get("data_manifest")
            _, _, spec = prepare(opts, work, r, seed)
            if recorded != (derived := data_fingerprint(spec.data_dir)):
                raise InputError(path, f"was trained on data {recorded}, but {opts.data} derives data {derived} "
                                       "for it: another build of the dataset (docs/data.md); train yours apart "
                                       "with --results DIR, or move the committed runs away")


def committed_runs(opts, work, out, runs, seed):
    """{key: result} of the runs committed for seed that are the planned runs (the report covers every
    seed of a budget, whichever seed this command trains)."""
    kept = results_store.runs_dir(out, opts.budget_name, seed)
    found = {}
    for r in runs:
        if not (kept / f"{results_store.run_name(r)}.json").is_file():
            continue
        r, splits, spec = prepare(opts, work, r, seed)
        result = results_store.load_run(kept, results_store.run_name(r), spec.config())
        if result is not None:
            found[r.key] = dict(result, derived=splits)
    return found


def settled(opts, out, kept, name, config, retrain, what):
    """(the run's committed record, or None when it is to be trained; whether it was copied here): a run
    committed for this budget, or the same run committed elsewhere (another experiment or budget), copied
    in. With retrain (--retrain-stale), a run whose code has changed since counts as not committed."""
    committed = results_store.load_run(kept, name, config)
    if committed is not None and retrain and training_run.code_changed(committed):
        committed = None
    if committed is None and (reused := results_store.load_run_elsewhere(out, opts.budget_name, opts.seed, name,
                                                                             config)) \
            and not (retrain and training_run.code_changed(reused)):
        results_store.save_run(kept, name, reused)
        print(f"[reproduce] {what}: the same run is committed in {reused['reused_from']}; "
              f"copied to {kept / name}.json, not trained again", file=sys.stderr)
        return results_store.load_run(kept, name, config), True
    return committed, False


def submit(opts, argv, work, states):
    """--submit slurm: of the runs and their states, those not committed, queued or running, as a job array
    and a report job."""
    slurm.command("sbatch")
    todo = [f"{r.method.key}/{r.data_name}" for r, state in states
            if not state.startswith(("committed", "queued", "running", "other data"))
            and (opts.retrain_stale or not state.startswith("stale"))]
    if not todo:
        print("[reproduce] nothing to submit: every run is committed, queued or running (--plan lists them)")
        return 0
    # each job runs this command again on the same folders, absolute, minus what was for the submission
    task = strip_options(argv if argv is not None else sys.argv[1:], ("--submit", "--sbatch", "--only")) + [
        "--data", str(opts.data.resolve()), "--work", str(opts.work.resolve()), "--results", str(opts.results.resolve())]
    # AUDIT.md reads the repository's results/; another results folder gets its own
    audit = REPO / "AUDIT.md" if opts.results.resolve() == (REPO / "results").resolve() else opts.results / "AUDIT.md"
    record = slurm.submit(todo, task, task + ["--report"],
                          ["--results", str(opts.results.resolve()), "--out", str(audit.resolve())], work,
                          opts.experiment, opts.budget_name, opts.seed, shlex.split(opts.sbatch))
    print(f"[reproduce] submitted job array {record['array']}: {len(todo)} run(s), task i trains run i of "
          f"{', '.join(todo)}; job {record['report']} rewrites the report and AUDIT.md after it "
          f"(script {record['script']}; --plan shows them queued or running)")
    return 0


def strip_options(argv, names):
    """argv without the options names and their values (as `--name value` or `--name=value`)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif not arg.startswith(tuple(f"{n}=" for n in names)):
            kept.append(arg)
    return kept


def write_report(opts, work, out, runs, manifest, mode, argv):
    """Writes the report of every committed seed of the budget from results/ alone; called after each
    run that finishes, so results/ is whole wherever a long command is stopped. Returns {seed: runs}."""
    seeds = set(results_store.committed_seeds(out, opts.budget_name)) | {opts.seed}
    by_seed = {seed: committed_runs(opts, work, out, runs, seed) for seed in sorted(seeds)}
    by_seed = {seed: found for seed, found in by_seed.items() if found}
    command = "au-reproduce " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    context = {"experiment": opts.experiment, "dataset": out.parent.name, "dataset_aus": manifest["aus"],
               "data": str(opts.data), "data_command": manifest.get("command"), "budget_name": opts.budget_name,
               "budget": asdict(opts.budget), "readings": asdict(opts.readings), "solver_mode": mode,
               "seed": opts.seed, "command": command, "commit": git_commit()}
    reproduce_report.write(out / opts.budget_name, opts.experiment, runs, by_seed, context)
    return by_seed


@cli(PROG)
def main(argv=None):
    opts = parse_args(argv)
    manifest = read_manifest(opts.data)
    dataset = manifest.get("dataset", opts.data.name)
    work = opts.work / dataset
    mode = "GPU" if opts.gpu else "CPU"
    runs = EXPERIMENTS[opts.experiment](manifest, opts.budget, opts.data)
    only = set(opts.only.split(",")) if opts.only else None
    names = {r.method.key for r in runs} | {f"{r.method.key}/{r.data_name}" for r in runs}
    if only and only - names:
        raise InputError("--only", f"{','.join(sorted(only - names))} is not a run of {opts.experiment}; its "
                                   f"methods: {','.join(sorted({r.method.key for r in runs}))}, its runs: "
                                   f"{','.join(sorted(names - {r.method.key for r in runs}))}")

    def wanted(r):
        return not only or bool({r.method.key, f"{r.method.key}/{r.data_name}"} & only)
    print(f"[reproduce] {opts.experiment} on {dataset} ({opts.data}), budget {opts.budget_name}: "
          f"{opts.budget.tag()}, {mode}; {len(runs)} runs", file=sys.stderr)
    out = opts.results / dataset / opts.experiment
    kept = results_store.runs_dir(out, opts.budget_name, opts.seed)
    if opts.plan or opts.submit:
        waiting = slurm.queued(work, opts.experiment, opts.budget_name, opts.seed)
        states = []    # (run, its state, its folder in --work)
        for r in runs:
            where = run_dir_of(work, opts.budget, mode, r, opts.seed, opts.readings)
            ordered = in_seed_order(r, opts.seed)
            data = derive.fingerprint_of(opts.data, ordered.aus, ordered.select, ordered.selection)
            states.append((r, waiting.get(f"{r.method.key}/{r.data_name}") or run_state(kept, where, r, data), where))
        if opts.submit:
            return submit(opts, argv, work, [(r, state) for r, state, _ in states if wanted(r)])
        print(f"  seed {opts.seed}; committed runs in {kept}")
        for r, state, where in states:
            print(f"  {state:16s} {r.method.key:14s} {r.data_name:18s} {where}")
        return 0
    check_data(opts, work, out, runs)
    if opts.report:
        with locks.held(out / RESULTS_LOCK):
            by_seed = write_report(opts, work, out, runs, manifest, mode, argv)
        found = ", ".join(f"seed {s}: {len(runs_of)}" for s, runs_of in by_seed.items()) or "no committed run"
        print(f"[reproduce] report rewritten in {out / opts.budget_name} from results/ ({found})", file=sys.stderr)
        return 0
    results, by_seed = {}, None   # by_seed: the report as last written; None: results/ has changed since
    for i, r in enumerate(runs, 1):
        run_dir = run_dir_of(work, opts.budget, mode, r, opts.seed, opts.readings)
        name = results_store.run_name(r)
        r, _, spec = prepare(opts, work, r, opts.seed)
        retrain = opts.retrain_stale and wanted(r)
        what = f"{r.method.key} {r.data_name}"
        label = f"[{i}/{len(runs)}] {what}"
        config = spec.config()     # reads the derived data's manifest: once a run
        with locks.held(out / RESULTS_LOCK):
            committed, copied = settled(opts, out, kept, name, config, retrain, what)
        if committed is not None and training_run.code_changed(committed):
            print(f"[reproduce] {what}: warning: the committed run was trained with code that "
                  f"has changed since ({training_run.changed_in_words(committed)}); "
                  "reported as it is (--retrain-stale trains it again)", file=sys.stderr)
        if committed is None and wanted(r):
            lock = run_dir.with_name(f"{run_dir.name}.lock")
            with locks.held(lock, wait=opts.wait) as holder:
                if holder:
                    print(f"[reproduce] {label}: being trained by {holder} ({lock}); skipped (--wait waits for it)",
                          file=sys.stderr)
                    continue
                with locks.held(out / RESULTS_LOCK):    # another process may have committed it meanwhile
                    committed, copied_now = settled(opts, out, kept, name, config, retrain, what)
                copied = copied or copied_now
                if committed is None:
                    try:
                        committed = training_run.run(
                            spec, run_dir, label, opts.evaluate_with,
                            progress=lambda partial, name=name: results_store.save_partial(kept, name, partial))
                    except training_run.RunFailed as e:
                        raise RunError(f"{r.method.key} on {r.data_name} failed: {e}") from None
                    with locks.held(out / RESULTS_LOCK):
                        results_store.save_run(kept, name, committed)
                        by_seed = write_report(opts, work, out, runs, manifest, mode, argv)
                    print(f"[reproduce] {label}: finished; committed to {kept / name}.json", file=sys.stderr)
        by_seed = None if copied else by_seed
        if committed is not None:
            results[r.key] = committed
    if by_seed is None:
        with locks.held(out / RESULTS_LOCK):
            by_seed = write_report(opts, work, out, runs, manifest, mode, argv)
    others = "".join(f"; seed {s}: {len(found)}" for s, found in by_seed.items() if s != opts.seed)
    print(f"[reproduce] {len(results)} of {len(runs)} runs finished (seed {opts.seed}{others}); report in "
          f"{out / opts.budget_name} (AUDIT.md reads results/: `au-audit` brings it up to date)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
