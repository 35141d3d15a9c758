"""Many au-reproduce processes on one --work and one --results (dscmr/locks.py): each run is trained by
exactly one of them, another that reaches it skips it in one line naming the holder (or waits with
--wait), and every record and one whole report are there at the end, with nothing moved aside."""
import json
import socket
import subprocess
import time

import pytest
from helpers.caffe import REPO, VENV

pytestmark = pytest.mark.slow   # trains smoke runs in two processes at once


def start(tiny, root, *extra):
    return subprocess.Popen([str(VENV / "bin" / "au-reproduce"), "table4-5", "--budget", "smoke", "--only",
                             "drml,alexnet", "--data", str(tiny), "--work", str(root / "work"), "--results",
                             str(root / "results"), *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("wait", [False, True], ids=["skip", "wait"])
def test_two_processes_on_one_folder_train_each_run_once(tiny, tmp_path, wait):
    extra = ["--wait"] if wait else []
    first = start(tiny, tmp_path, *extra)
    # the second starts once the first holds DRML's lock (the plan's first run), so that it meets it
    lock = tmp_path / "work" / "synthau" / "it2-b2-tr24-va4-te8-p1-cpu" / "aus11" / "drml.lock"
    deadline = time.monotonic() + 120
    while not (lock.is_file() and lock.read_text().startswith(f"pid {first.pid} ")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    procs = [first, start(tiny, tmp_path, *extra)]
    said = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], said
    err = "\n".join(e for _, e in said)
    assert "Traceback" not in err
    logs = sorted((tmp_path / "work").rglob("train.log"))
    assert [p.parent.name for p in logs] == ["alexnet", "drml"]
    for log in logs:       # one `caffe train` each: the run was trained by one process
        assert log.read_text().count("caffe train -solver") == 1, log
    skipped = [line for line in said[1][1].splitlines() if "being trained by" in line]
    if wait:
        assert skipped == []
    else:
        assert skipped[0] == (f"[reproduce] [1/6] drml aus11: being trained by pid {first.pid} on "
                              f"{socket.gethostname()} since {skipped[0].split(' since ')[1].split(' (')[0]} "
                              f"({lock}); skipped (--wait waits for it)")
    kept = tmp_path / "results" / "synthau" / "table4-5"
    assert sorted(p.name for p in (kept / "runs" / "smoke-s1").iterdir()) == [
        f"{run}_aus11.{ext}" for run in ("alexnet", "drml") for ext in ("json", "log", "test.npz")]
    report = json.loads((kept / "smoke" / "table4-5.json").read_text())
    assert sorted(r["method"] for r in report["runs"]) == ["alexnet", "drml"]
    assert not list(tmp_path.rglob("*replaced*")) and not list(kept.glob(".smoke*"))
