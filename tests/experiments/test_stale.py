"""Staleness for real: in a copy of the clone, a changed byte of a layer's source makes the committed runs
whose nets use that layer stale, in `au-reproduce --plan` and in `au-audit`, and leaves the others current;
a changed byte of a Caffe patch makes every run stale (tools/experiments/run_spec.py, RunSpec.depends)."""
import subprocess

import pytest
from helpers.caffe import REPO, VENV

from dscmr import methods
from tools.experiments.run_spec import NETS, RunSpec, Schedule

pytestmark = pytest.mark.slow   # copies the clone and plans and audits in it

REGION_SOURCE = "cpp_layers/src/caffe/layers/region_layer.cpp"
PATCH = "setup/patches/05-openmp-cpu-hot-paths.patch"
TABLE45 = {"drml", "resnet18", "alexnet", "dscmr", "alexnet_admsr", "ldscmr"}
WITH_REGION = {"drml", "ldscmr"}                # DSCMR is ResNet18 with the paper's head, no Region


def test_a_run_depends_on_the_layers_its_nets_use_and_on_gpu_sources_only_on_the_gpu():
    cpu, gpu = Schedule(4000, 16, 16), Schedule(4000, 16, 16, "GPU")

    def files(key, schedule=cpu):
        return set(RunSpec(methods.get(key), "<data>", (1, 2), schedule, 500).depends())
    assert REGION_SOURCE in files("drml") and REGION_SOURCE not in files("alexnet")
    # AdMSRLossLayer derives from MSRLossLayer; MSR's nets have no Ad-MSR
    assert "cpp_layers/src/caffe/layers/msr_loss_layer.cpp" in files("alexnet_admsr")
    assert "cpp_layers/src/caffe/layers/ad_msr_loss_layer.cpp" not in files("alexnet_msr")
    assert files("alexnet") & files("drml") >= {PATCH, "cpp_layers/proto/messages.proto", NETS}
    assert not [f for f in files("drml", gpu) if "/test/" in f]                # the gtests
    assert {"cpp_layers/src/caffe/layers/region_layer.cu", "setup/patches/gpu/04-cuda13-device-prop.patch"} <= \
        files("drml", gpu) - files("drml")


@pytest.fixture
def clone(tmp_path):
    """The tracked files of the clone, its results reduced to Tables 4-5, in tmp_path/clone."""
    copy = tmp_path / "clone"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (REPO / name).is_file() and not name.startswith(("results/synthau/fig5",
                                                                      "results/synthau/table2-3")):
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((REPO / name).read_bytes())
    return copy


def command(clone, module, *args):
    """A command of the copy (python -m runs the copy's packages; REPO is the copy)."""
    done = subprocess.run([str(VENV / "bin" / "python"), "-m", module, *args], cwd=clone, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def states(clone, data, work):
    out = command(clone, "tools.experiments.reproduce", "table4-5", "--budget", "cpu", "--plan", "--data", str(data),
                  "--work", str(work))
    return {line[19:].split()[0]: line[2:18].strip() for line in out.splitlines()[1:]}


def test_a_changed_layer_stales_the_runs_that_use_it_and_a_changed_patch_every_run(clone, default_data, tmp_path):
    work = tmp_path / "work"
    assert states(clone, default_data, work) == dict.fromkeys(TABLE45, "committed")
    original = (clone / REGION_SOURCE).read_bytes()
    (clone / REGION_SOURCE).write_bytes(original + b"\n")
    assert states(clone, default_data, work) == {m: "stale" if m in WITH_REGION else "committed" for m in TABLE45}
    command(clone, "tools.experiments.audit", "--out", str(tmp_path / "AUDIT.md"))
    audit = (tmp_path / "AUDIT.md").read_text()
    region = f"`{REGION_SOURCE}`"
    assert ("- table4-5 on synthau: 2 run(s) were trained with code that has changed since (layers, Caffe patches, or "
            f"the nets and solver the generator writes for them): drml_aus11 ({region}), ldscmr_aus11 ({region}).") \
        in audit
    for method, seeds in (("L-DSCMR", "1 †"), ("DRML", "1 †"), ("DSCMR", "1"), ("ResNet18", "1"), ("AlexNet", "1"),
                          ("AlexNet+Ad-MSR", "1")):
        assert f"| {method} | {seeds} |" in audit
    (clone / REGION_SOURCE).write_bytes(original)
    (clone / PATCH).write_bytes((clone / PATCH).read_bytes() + b"\n")
    assert states(clone, default_data, work) == dict.fromkeys(TABLE45, "stale")
