"""Each builder is a command: `python -m data_prep.<builder> --help` teaches its use."""
import subprocess
import sys

import pytest
from caffe_helpers import REPO


@pytest.mark.parametrize("module, words", [
    ("build_synthau", ["--imbalance", "Table 2", "Fig. 5", "--images-per-identity"]),
    ("build_ckplus", ["cohn-kanade-images/S005/001", "_facs.txt", "--detect", "Table 5"]),
    ("build_emotionet", ["--labels", "--images", "999", "--columns", "URL"]),
    ("build_from_csv", ["x0..x67", "subject", "--root"]),
])
def test_help(module, words):
    proc = subprocess.run([sys.executable, "-m", f"data_prep.{module}", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python -m data_prep.{module} ")
    for w in words + ["--strict", "--mirror", "--encode", "--jobs", "--seed", "--out"]:
        assert w in proc.stdout, w


def test_hog_baseline_help():
    proc = subprocess.run([sys.executable, "-m", "data_prep.hog_baseline", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "logistic regression on HOG features" in proc.stdout
