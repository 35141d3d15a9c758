"""The README's training commands, as written, from the repository root on the committed files: `caffe
train -solver prototxt/ldscmr_solver.prototxt ...` until it has built both nets on the committed data and
starts its first test pass, and `make train ITERS=2` (the same solver but max_iter: a test pass, two
iterations) to its end, each leaving in runs/ what the README and `make help` say. Files of the user's
that these commands would overwrite are moved aside first and put back after."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
from helpers.caffe import REPO

pytestmark = pytest.mark.slow   # trains L-DSCMR as the README says

README = (REPO / "README.md").read_text()
# A user's shell: none of the glog settings the tests' conftest makes for pycaffe.
SHELL_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GLOG_")}
# What the two commands write in runs/ (the solver's snapshot_prefix is runs/ldscmr).
WRITTEN = ("ldscmr.log", "ldscmr.model.json", "ldscmr_solver_2iters.prototxt", "ldscmr_solver_2iters.log",
           "ldscmr_iter_2.caffemodel", "ldscmr_iter_2.solverstate")


@pytest.fixture
def runs(tmp_path):
    """runs/, with the user's files of WRITTEN kept in tmp_path while the test runs."""
    folder = REPO / "runs"
    kept = [name for name in WRITTEN if (folder / name).exists()]
    for name in kept:
        shutil.move(folder / name, tmp_path / name)
    yield folder
    for name in WRITTEN:
        (folder / name).unlink(missing_ok=True)
    for name in kept:
        shutil.move(tmp_path / name, folder / name)


def test_the_readme_caffe_train_command_builds_ldscmr_on_the_committed_data(default_data, runs):
    (command,) = [line for line in README.splitlines() if line.startswith("caffe train -solver prototxt/ldscmr")]
    assert command == "caffe train -solver prototxt/ldscmr_solver.prototxt 2>&1 | tee runs/ldscmr.log"
    log = runs / "ldscmr.log"
    proc = subprocess.Popen(["bash", "-c", f". .venv/bin/activate && {command}"], cwd=REPO, env=SHELL_ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while "Iteration 0, Testing net (#0)" not in (log.read_text() if log.exists() else ""):
            assert proc.poll() is None, f"caffe train ended (status {proc.returncode}) before its first test:\n" \
                                        + (log.read_text()[-3000:] if log.exists() else "no log")
            assert time.monotonic() < deadline, "no test pass begun in 5 minutes"
            time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    text = log.read_text()
    # the committed net on data/synthau, its training and validation nets; the test below trains it
    assert "Creating training net from net file: prototxt/ldscmr_train_val.prototxt" in text
    assert "Opened lmdb data/synthau/train/images" in text and "Opened lmdb data/synthau/val/images" in text
    assert "Solver scaffolding done." in text


def test_make_train_iters_2_trains_ldscmr_two_iterations_and_leaves_a_snapshot_and_its_model_card(default_data,
                                                                                                   runs):
    assert "make train" in README and "make train ITERS=20" in subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    done = subprocess.run(["make", "--no-print-directory", "train", "ITERS=2"], cwd=REPO, env=SHELL_ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[train] caffe train -solver runs/ldscmr_solver_2iters.prototxt (log: runs/ldscmr_solver_2iters.log" \
        in done.stdout
    solver = (runs / "ldscmr_solver_2iters.prototxt").read_text()
    assert solver == (REPO / "prototxt" / "ldscmr_solver.prototxt").read_text().replace(
        "max_iter: 6000", "max_iter: 2") + "test_initialization: false\n"
    log = (runs / "ldscmr_solver_2iters.log").read_text()
    # two training iterations, no validation pass before them (test_interval is 500)
    assert "Testing net" not in log and "test_initialization: false" in log
    assert re.search(r"Iteration 0 \(.*\), loss = [0-9.]+", log)
    assert "Snapshotting to binary proto file runs/ldscmr_iter_2.caffemodel" in log and "Optimization Done." in log
    assert (runs / "ldscmr_iter_2.caffemodel").stat().st_size > 1e6
    card = json.loads((runs / "ldscmr.model.json").read_text())    # au-predict's model card for these snapshots
    assert card["aus"] == [1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26] and card["labels"][-1] == "AU26"
