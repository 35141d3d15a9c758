import fcntl
import os
import subprocess
from pathlib import Path

import pytest

# Quiet glog for pycaffe. The repository root is importable through the venv's .pth
# (setup/install_launcher.sh), tests/helpers through pyproject.toml's pythonpath.
os.environ.setdefault("GLOG_minloglevel", "2")
# make test runs two pytest processes (pytest-xdist): each process, and every Caffe it starts, gets its
# share of the cores for OpenMP (and so OpenBLAS) instead of all of them, unless the user set it. An
# AlexNet smoke training spent 2.0 s of system time with 2 threads, 0.7 s with 1, in the same 2.5 s.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))


@pytest.fixture(scope="session")
def paper_text():
    """The paper's text; the test is skipped, with the setting named, where the user has not put it."""
    from dscmr import paper
    reason = paper.text_missing_reason()
    if reason:
        pytest.skip(reason)
    return paper.text_path().read_text()


@pytest.fixture(scope="session")
def default_data():
    """data/synthau as the README builds it (`make data`: about two minutes on 2 cores, seconds when it is
    built already)."""
    repo = Path(__file__).resolve().parent.parent
    # make test's two pytest processes (pytest-xdist) ask for it at once: one builds, the other waits
    (repo / "data").mkdir(exist_ok=True)
    with open(repo / "data" / ".default-data.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "--no-print-directory", "data"], cwd=repo, check=True, capture_output=True)
    return repo / "data" / "synthau"
