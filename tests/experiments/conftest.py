import subprocess

import pytest
from helpers.caffe import REPO, VENV


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A small synthau build: 128 mirrored train faces (AU1 at Table 2's N:P 30), 16 val, 24 test."""
    out = tmp_path_factory.mktemp("data") / "tiny"
    subprocess.run([str(VENV / "bin" / "au-build-synthau"), "--train", "64", "--val", "16", "--test", "24",
                    "--mirror", "--out", str(out), "--no-progress"], cwd=REPO, check=True, capture_output=True)
    return out
