"""au-reproduce --submit slurm on a real one-node Slurm started here (Debian's slurm-wlm and munge,
installed by the fixture where missing; slurmctld and slurmd on localhost with a generated slurm.conf,
stopped by their pids): the smoke plan of Tables 4-5 ends with every record, the report and the audit,
and a second submission of the same plan submits nothing."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest
from helpers.caffe import REPO, VENV

REPRODUCE = str(VENV / "bin" / "au-reproduce")


def test_submit_without_slurm_says_so_in_one_line(tiny, tmp_path):
    done = subprocess.run([REPRODUCE, "table4-5", "--budget", "smoke", "--submit", "slurm", "--data", str(tiny),
                           "--work", str(tmp_path / "w"), "--results", str(tmp_path / "r")], cwd=REPO,
                          capture_output=True, text=True, env=dict(os.environ, PATH=str(VENV / "bin")))
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == (
        "au-reproduce: --submit slurm: sbatch is not on the PATH (Slurm's client commands: on a cluster's login "
        "node, or `module load slurm`; docs/cluster.md)")
    assert not (tmp_path / "w" / "synthau" / "slurm").exists()


def installed():
    """None once slurmctld, slurmd and munged are here (apt-get installs them, as root), else why not."""
    if all(shutil.which(c) for c in ("slurmctld", "slurmd", "munged", "sbatch")):
        return None
    if os.geteuid() != 0:
        return "slurm-wlm and munge are not installed, and installing them needs root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"]):
        done = subprocess.run(step, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return f"`{' '.join(step)}` failed: {done.stderr.strip().splitlines()[-1:]}"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """{env} of a one-node Slurm (SLURM_CONF set); its daemons are stopped by their pids after the module."""
    reason = installed()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool", "munge"):
        (root / d).mkdir(mode=0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = root / "munge" / "munge.socket"
    host = socket.gethostname()
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    conf = root / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=autest", f"SlurmctldHost={host}(127.0.0.1)", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", f"AuthInfo=socket={socket_path}", f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool", f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log", f"SlurmdLogFile={root}/slurmd.log",
        f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "MpiDefault=none", "ReturnToService=2", "SchedulerType=sched/backfill",
        f"{node} NodeAddr=127.0.0.1 State=UNKNOWN", "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ""]))
    env = dict(os.environ, SLURM_CONF=str(conf))
    daemons = [subprocess.Popen(["munged", "--foreground", "--force", f"--key-file={key}", f"--socket={socket_path}",
                                 f"--pid-file={root}/munge/munged.pid", f"--log-file={root}/munge/munged.log",
                                 f"--seed-file={root}/munge/munged.seed"], env=env, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert daemons[0].poll() is None and time.monotonic() < deadline, (root / "munge" / "munged.log").read_text()
            time.sleep(0.1)
        for daemon in (["slurmctld", "-D", "-i"], ["slurmd", "-D"]):     # they log to the files slurm.conf names
            daemons.append(subprocess.Popen([*daemon, "-f", str(conf)], env=env, stderr=subprocess.DEVNULL))
        while True:
            idle = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env).stdout.split()
            if idle and idle[0] == "idle":
                break
            assert all(d.poll() is None for d in daemons) and time.monotonic() < deadline + 60, \
                (root / "slurmctld.log").read_text()[-2000:] + (root / "slurmd.log").read_text()[-2000:]
            time.sleep(0.5)
        yield env
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def reproduce(env, tiny, root, *extra):
    return subprocess.run([REPRODUCE, "table4-5", "--budget", "smoke", "--data", str(tiny), "--work",
                           str(root / "work"), "--results", str(root / "results"), *extra], cwd=REPO,
                          capture_output=True, text=True, env=env)


@pytest.mark.slow   # trains the smoke plan in a one-node Slurm
def test_the_smoke_plan_as_a_job_array_ends_with_every_record_the_report_and_the_audit(cluster, tiny, tmp_path):
    first = reproduce(cluster, tiny, tmp_path, "--submit", "slurm", "--sbatch=--time=30")
    assert first.returncode == 0, first.stderr
    (line,) = [ln for ln in first.stdout.splitlines() if ln.startswith("[reproduce] submitted job array ")]
    array = line.split()[4].rstrip(":")
    assert "6 run(s), task i trains run i of drml/aus11, resnet18/aus11, alexnet/aus11, dscmr/aus11, " \
           "alexnet_admsr/aus11, ldscmr/aus11; job " in line
    plan = reproduce(cluster, tiny, tmp_path, "--plan").stdout
    assert f"(job {array}_" in plan and ("queued" in plan or "running" in plan), plan
    again = reproduce(cluster, tiny, tmp_path, "--submit", "slurm")
    assert again.returncode == 0 and "[reproduce] nothing to submit" in again.stdout, again.stdout + again.stderr
    deadline = time.monotonic() + 900
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=cluster).stdout.strip():
        assert time.monotonic() < deadline, "the jobs did not end in 15 minutes"
        time.sleep(2)
    kept = tmp_path / "results" / "synthau" / "table4-5"
    outs = sorted((tmp_path / "work" / "synthau" / "slurm").glob("*.out"))
    said = "\n".join(p.read_text()[-1500:] for p in outs)
    assert sorted(p.name for p in (kept / "runs" / "smoke-s1").glob("*.json")) == sorted(
        f"{m}_aus11.json" for m in ("drml", "resnet18", "alexnet", "dscmr", "alexnet_admsr", "ldscmr")), said
    report = json.loads((kept / "smoke" / "table4-5.json").read_text())
    assert len(report["runs"]) == 6
    assert "table4-5" in (tmp_path / "results" / "AUDIT.md").read_text()
    assert "Traceback" not in said
    # everything is committed: a second submission submits nothing, and --plan says so
    assert "nothing to submit" in reproduce(cluster, tiny, tmp_path, "--submit", "slurm").stdout
    plan = reproduce(cluster, tiny, tmp_path, "--plan").stdout.splitlines()[1:]
    assert len(plan) == 6 and all(line.startswith("  committed ") for line in plan), plan
