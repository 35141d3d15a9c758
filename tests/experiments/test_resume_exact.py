"""Runs that outlive a session, and runs that repeat (issue #14).

A real `caffe train` of AlexNet + Ad-MSR (random mirroring, dropout, Ad-MSR's L_pre) on a small
synthau build is killed after its first snapshot and resumed by tools/experiments/training_run.py: it ends
with the same weights, bit for bit, as the same run left alone, and so does a second run of the
same command and seed (setup/patches/09-exact-resume.patch: the data layers skip what was read,
the solver state keeps Caffe's random generator)."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers.caffe import REPO

from dscmr import machine, methods
from tools.experiments import training_run
from tools.experiments.run_spec import RunSpec, Schedule

pytestmark = pytest.mark.slow   # trains and resumes runs

METHOD = "alexnet_admsr"
SCHEDULE = Schedule(iters=8, batch_size=4, points=2)    # snapshots at 4 and 8
AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26)


def train(run_dir, data):
    return training_run.run(RunSpec(methods.get(METHOD), data, AUS, SCHEDULE, 8), run_dir)


def weights(run_dir):
    from caffe.proto import caffe_pb2
    net = caffe_pb2.NetParameter.FromString((run_dir / f"{METHOD}_iter_{SCHEDULE.iters}.caffemodel").read_bytes())
    return {layer.name: [np.array(b.data) for b in layer.blobs] for layer in net.layer if layer.blobs}


def same(a, b):
    assert a.keys() == b.keys()
    return all(np.array_equal(x, y) for k in a for x, y in zip(a[k], b[k]))


@pytest.fixture(scope="module")
def straight(tiny, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("straight")
    return run_dir, train(run_dir, tiny)


def test_the_same_command_and_seed_repeat_bit_for_bit(tiny, straight, tmp_path):
    again = train(tmp_path, tiny)
    assert same(weights(straight[0]), weights(tmp_path))
    first, second = straight[1]["evaluations"][-1], again["evaluations"][-1]
    assert first["per_au"] == second["per_au"] and first["val"] == second["val"]
    with np.load(straight[1]["test_probs"]) as a, np.load(again["test_probs"]) as b:
        assert np.array_equal(a["probs"], b["probs"])
    # each record names where it trained, so the audit can tell why two runs differ
    assert straight[1]["trained_on"] == again["trained_on"] == \
        [f"{machine.describe()}; build {training_run.caffe_build()}"]


def test_a_killed_run_resumes_to_the_same_weights(tiny, straight, tmp_path):
    code = ("from pathlib import Path\nfrom dscmr import methods\nfrom tools.experiments import training_run as t\n"
            "from tools.experiments.run_spec import RunSpec, Schedule\n"
            f"t.run(RunSpec(methods.get({METHOD!r}), Path({str(tiny)!r}), {AUS!r}, {SCHEDULE!r}, 8), "
            f"Path({str(tmp_path)!r}))\n")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / f"{METHOD}_iter_4.caffemodel"
    deadline = time.time() + 240
    while not (first.is_file() and training_run.latest_solverstate(tmp_path, METHOD)) and time.time() < deadline:
        assert child.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert not (tmp_path / "done.json").exists()
    resumed_from = training_run.latest_solverstate(tmp_path, METHOD)
    assert resumed_from is not None and resumed_from.stem != f"{METHOD}_iter_{SCHEDULE.iters}"
    result = train(tmp_path, tiny)
    assert "batches already trained on" in (tmp_path / "train.log").read_text()
    assert same(weights(straight[0]), weights(tmp_path))
    assert result["evaluations"][-1]["per_au"] == straight[1]["evaluations"][-1]["per_au"]
    assert result["trained_on"] == straight[1]["trained_on"]      # two segments, one machine: named once


def test_the_newest_snapshot_is_found_by_number_and_a_torn_one_is_passed_over(tmp_path):
    from caffe.proto import caffe_pb2
    for it in (9, 10):
        (tmp_path / f"m_iter_{it}.solverstate").write_bytes(caffe_pb2.SolverState(iter=it).SerializeToString())
        (tmp_path / f"m_iter_{it}.caffemodel").write_bytes(b"")
    assert training_run.latest_solverstate(tmp_path, "m").name == "m_iter_10.solverstate"
    (tmp_path / "m_iter_11.solverstate").write_bytes(caffe_pb2.SolverState(iter=11).SerializeToString()[:1])
    (tmp_path / "m_iter_11.caffemodel").write_bytes(b"")
    assert training_run.latest_solverstate(tmp_path, "m").name == "m_iter_10.solverstate"
