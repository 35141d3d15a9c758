"""au-reproduce --submit slurm: an experiment's runs that are not done, as one Slurm job array (a task per
run, each an `au-reproduce ... --only <method>/<data> --wait` on the shared --work and --results), and a
last job, after the array, that rewrites the report and AUDIT.md. A task that Slurm requeues or preempts
resumes from its run's newest snapshot; the runs' locks (dscmr/locks.py) keep two tasks off one run.

What was submitted is kept in <work>/<dataset>/slurm/submitted.json, so that --plan can say which runs
are queued or running (squeue), and a second submission of the same plan submits nothing.
"""
import json
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from dscmr import REPO, locks
from dscmr.errors import InputError, RunError
from dscmr.files import write_atomically

SUBMITTED = "submitted.json"
# Slurm's job states that mean a job is still to run or running (squeue --states).
WAITING = {"PENDING": "queued", "REQUEUED": "queued", "CONFIGURING": "running", "RUNNING": "running",
           "COMPLETING": "running", "SUSPENDED": "running"}


def command(name):
    """The path of a Slurm client command, or InputError when Slurm is not on the PATH."""
    found = shutil.which(name)
    if not found:
        raise InputError("--submit slurm", f"{name} is not on the PATH (Slurm's client commands: on a cluster's "
                                           "login node, or `module load slurm`; docs/cluster.md)")
    return found


def folder(work):
    return Path(work) / "slurm"


def submissions(work):
    path = folder(work) / SUBMITTED
    return json.loads(path.read_text()) if path.is_file() else []


def waiting_jobs():
    """{job id as squeue prints it (array tasks as <array>_<task>): "queued" or "running"}."""
    done = subprocess.run([command("squeue"), "-h", "-r", "-o", "%i %T"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RunError(f"squeue failed: {done.stderr.strip()}")
    return {job: WAITING[state] for job, state in (line.split() for line in done.stdout.splitlines() if line.strip())
            if state in WAITING}


def queued(work, experiment, budget_name, seed):
    """{run ("<method>/<data>"): "queued (job 12_3)" or "running (job 12_3)"} of the runs submitted for this
    experiment, budget and seed whose array task Slurm still holds; {} where Slurm is not on the PATH."""
    mine = [s for s in submissions(work) if (s["experiment"], s["budget"], s["seed"]) == (experiment, budget_name, seed)]
    if not mine or not shutil.which("squeue"):
        return {}
    jobs = waiting_jobs()
    found = {}
    for s in mine:
        for task, run in enumerate(s["runs"]):
            job = f"{s['array']}_{task}"
            state = jobs.get(job) or (jobs.get(s["array"]) if len(s["runs"]) == 1 else None)
            if state:
                found[run] = f"{state} (job {job})"
    return found


def sbatch(args):
    done = subprocess.run([command("sbatch"), "--parsable", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RunError(f"sbatch {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip().split(";")[0]


def array_script(path, runs, task_argv, name, log_dir):
    """The job array's batch script: task i trains runs[i] (the au-reproduce command task_argv + --only)."""
    reproduce = REPO / ".venv" / "bin" / "au-reproduce"
    text = "\n".join([
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --array=0-{len(runs) - 1}",
        "#SBATCH --requeue",              # a preempted task runs again and resumes from its run's snapshot
        "#SBATCH --open-mode=append",
        f"#SBATCH --output={log_dir}/{name}-%A_%a.out",
        f"RUNS=({' '.join(shlex.quote(r) for r in runs)})",
        f"cd {shlex.quote(str(REPO))}",
        f"exec {shlex.quote(str(reproduce))} {shlex.join(task_argv)} --only \"${{RUNS[$SLURM_ARRAY_TASK_ID]}}\" --wait",
        ""])
    write_atomically(path, text)


def submit(runs, task_argv, report_argv, audit_argv, work, experiment, budget_name, seed, extra):
    """Submits runs ("<method>/<data>") as a job array and the report job after it; returns the record
    kept in submitted.json. extra: sbatch options for both (partition, time, --gres=gpu:1 ...)."""
    log_dir = folder(work)
    log_dir.mkdir(parents=True, exist_ok=True)
    name = f"au-reproduce-{experiment}-{budget_name}-s{seed}"
    script = log_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.sh"
    array_script(script, runs, task_argv, name, log_dir)
    array = sbatch([*extra, str(script)])
    venv = REPO / ".venv" / "bin"
    wrap = f"cd {shlex.quote(str(REPO))} && {shlex.quote(str(venv / 'au-reproduce'))} {shlex.join(report_argv)} " \
           f"&& {shlex.quote(str(venv / 'au-audit'))} {shlex.join(audit_argv)}"
    report = sbatch([*extra, f"--dependency=afterany:{array}", f"--job-name={name}-report",
                     f"--output={log_dir}/{name}-report-%j.out", "--wrap", wrap])
    record = {"experiment": experiment, "budget": budget_name, "seed": seed, "array": array, "report": report,
              "runs": list(runs), "script": str(script), "submitted": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with locks.held(log_dir / ".lock"):        # two submissions at once keep both records
        write_atomically(log_dir / SUBMITTED, json.dumps(submissions(work) + [record], indent=1) + "\n")
    return record
