"""Every user-facing command is an `au-*` console script (pyproject.toml), and its --help teaches
its use under that one name."""
import re
import subprocess
import tomllib

import pytest
from helpers.caffe import REPO, VENV

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def help_of(command):
    proc = subprocess.run([str(VENV / "bin" / command), "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_command_is_an_au_script():
    assert sorted(SCRIPTS) == sorted(
        ["au-predict", "au-prototxt", "au-gradcheck", "au-evaluate", "au-reproduce", "au-audit", "au-parse-log",
         "au-model-card", "au-net-size", "au-activations", "au-build-synthau", "au-build-ckplus", "au-build-emotionet",
         "au-build-csv", "au-hog-baseline", "au-bench"])


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_help_names_the_command(command):
    assert help_of(command).startswith(f"usage: {command} ")


@pytest.mark.parametrize("command, words", [
    ("au-build-synthau", ["--imbalance", "Table 2", "Fig. 5", "--images-per-identity"]),
    ("au-build-ckplus", ["cohn-kanade-images/S005/001", "_facs.txt", "--detect", "Table 5"]),
    ("au-build-emotionet", ["--labels", "--images", "999", "--columns", "URL"]),
    ("au-build-csv", ["x0..x67", "subject", "--root"]),
])
def test_builder_help(command, words):
    text = help_of(command)
    for w in words + ["--strict", "--mirror", "--encode", "--jobs", "--seed", "--out"]:
        assert w in text, w


def test_hog_baseline_help():
    assert "logistic regression on HOG features" in help_of("au-hog-baseline")


def test_the_docs_spell_commands_one_way():
    """README, docs, the Makefile and --help texts name the au-* commands, not `python tools/x.py` or
    `python -m data_prep.x` (bench/'s internal workers aside)."""
    other = re.compile(r"python3?\s+(tools|data_prep)/\w+\.py|python3?\s+-m\s+(tools|data_prep)\b|python3?\s+bench/run\.py")
    texts = [REPO / "README.md", REPO / "Makefile", *sorted((REPO / "docs").rglob("*.md")),
             *sorted((REPO / "tools").rglob("*.py")), *sorted((REPO / "data_prep").glob("*.py"))]
    assert [f"{p.relative_to(REPO)}: {m.group(0)}" for p in texts for m in other.finditer(p.read_text())] == []
