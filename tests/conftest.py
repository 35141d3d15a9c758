import os
import sys
from pathlib import Path

import pytest

# Quiet glog for pycaffe; the repository root makes python_layers/ and tests/ importable.
os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@pytest.fixture(scope="session")
def paper_text():
    """The paper's text; the test is skipped, with the setting named, where the user has not put it."""
    from tools import paper
    reason = paper.text_missing_reason()
    if reason:
        pytest.skip(reason)
    return paper.text_path().read_text()
