"""Every command, given what a user could give it by mistake: a missing file, an empty one, a file of
the wrong kind, a bad value. Each answers with one line that names the file or value, exit status 2,
no Python traceback, no Caffe CHECK failure, and writes nothing over what was there."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from helpers.caffe import REPO, VENV

pytestmark = pytest.mark.slow   # starts each command many times


def script(command):
    """A console script of the venv (pyproject.toml's [project.scripts])."""
    return str(VENV / "bin" / command)


AU_PREDICT = script("au-predict")

TINY = """name: "tiny"
layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: 1 dim: 3 dim: 8 dim: 8 }} }} }}
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param {{ num_output: {channels} kernel_size: 3 weight_filler {{ type: "xavier" }} }} }}
layer {{ name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param {{ num_output: 2 }} }}
layer {{ name: "prob" type: "Sigmoid" bottom: "fc" top: "prob" }}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad inputs of every kind, and one good tiny net with weights that another net cannot take."""
    d = tmp_path_factory.mktemp("hostile")
    (d / "empty").write_bytes(b"")
    (d / "text.txt").write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n")
    (d / "binary.png").write_bytes(bytes(range(256)) * 8)
    (d / "net.prototxt").write_text(TINY.format(channels=4))
    (d / "other.prototxt").write_text(TINY.format(channels=6))
    (d / "broken.prototxt").write_text('name: "x"\nlayer { name: "a" type: "Input"\n  top: "data" nonsense: 3 }\n')
    (d / "unknown_layer.prototxt").write_text('layer { name: "a" type: "NoSuchLayer" top: "x" }\n')
    (d / "python_layer.prototxt").write_text(TINY.format(channels=4) + 'layer { name: "p" type: "Python" bottom: "data" '
                                             'top: "p" python_param { module: "no_such_module" layer: "L" } }\n')
    (d / "nonet_solver.prototxt").write_text("base_lr: 0.01\n")
    (d / "faces.txt").write_text("face.png 1\n")
    import caffe
    caffe.Net(str(d / "net.prototxt"), caffe.TEST).save(str(d / "net.caffemodel"))
    np.savez(d / "label2.npz", probs=np.full((3, 1), 0.5), labels=np.array([[0.0], [1.0], [2.0]]), aus=np.array([1]))
    np.savez(d / "nolabels.npz", probs=np.zeros((2, 1)))
    (d / "ds_bad_manifest").mkdir()
    (d / "ds_bad_manifest" / "manifest.json").write_text("{not json")
    (d / "ds_empty").mkdir()
    (d / "results.json").write_text("[1, 2")
    return d


def run(argv, cwd):
    env = dict(os.environ, GLOG_minloglevel="0")
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


E, P = script("au-evaluate"), "--predictions"
CASES = [
    # (id, argv with {d} for the fixture folder, what the message must name)
    ("evaluate-predictions-missing", [E, P, "{d}/missing.npz", "--out", "{d}/o"], "{d}/missing.npz"),
    ("evaluate-predictions-empty", [E, P, "{d}/empty", "--out", "{d}/o"], "{d}/empty"),
    ("evaluate-predictions-passwd", [E, P, "/etc/passwd", "--out", "{d}/o"], "/etc/passwd"),
    ("evaluate-predictions-text", [E, P, "{d}/text.txt", "--out", "{d}/o"], "{d}/text.txt"),
    ("evaluate-predictions-label-2", [E, P, "{d}/label2.npz", "--out", "{d}/o"], "label 2 at (sample 2, AU1)"),
    ("evaluate-predictions-no-labels", [E, P, "{d}/nolabels.npz", "--out", "{d}/o"], "lacks the array(s) labels"),
    ("evaluate-weights-not-caffemodel", [E, "--model", "{d}/net.prototxt", "--weights", "{d}/text.txt",
                                         "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/text.txt"),
    ("evaluate-weights-empty", [E, "--model", "{d}/net.prototxt", "--weights", "{d}/empty",
                                "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/empty"),
    ("evaluate-weights-missing", [E, "--model", "{d}/net.prototxt", "--weights", "{d}/gone.caffemodel",
                                  "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/gone.caffemodel"),
    ("evaluate-weights-shape-mismatch", [E, "--model", "{d}/other.prototxt", "--weights", "{d}/net.caffemodel",
                                         "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"],
     "{d}/net.caffemodel: does not fit {d}/other.prototxt"),
    ("evaluate-model-missing", [E, "--model", "{d}/gone.prototxt", "--weights", "{d}/net.caffemodel",
                                "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/gone.prototxt"),
    ("evaluate-model-empty", [E, "--model", "{d}/empty", "--weights", "{d}/net.caffemodel",
                              "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/empty"),
    ("evaluate-model-binary", [E, "--model", "{d}/binary.png", "--weights", "{d}/net.caffemodel",
                               "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/binary.png"),
    ("evaluate-model-syntax", [E, "--model", "{d}/broken.prototxt", "--weights", "{d}/net.caffemodel",
                               "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"], "{d}/broken.prototxt:3"),
    ("evaluate-model-unknown-layer", [E, "--model", "{d}/unknown_layer.prototxt", "--weights",
                                      "{d}/net.caffemodel", "--images", "{d}/faces.txt", "--aus", "1", "--out", "{d}/o"],
     "NoSuchLayer"),
    ("evaluate-model-python-layer-module", [E, "--model", "{d}/python_layer.prototxt", "--weights",
                                            "{d}/net.caffemodel", "--images", "{d}/faces.txt", "--aus", "1",
                                            "--out", "{d}/o"], "No module named 'no_such_module'"),
    ("evaluate-data-missing", [E, "--model", "prototxt/alexnet_train_val.prototxt", "--weights",
                               "{d}/net.caffemodel", "--data", "{d}/nowhere", "--out", "{d}/o"], "{d}/nowhere/manifest.json"),
    ("audit-results-missing", [script("au-audit"), "--results", "/nonexistent", "--out", "{d}/AUDIT.md"], "/nonexistent"),
    ("audit-paper-missing", [script("au-audit"), "--paper", "{d}/gone.txt", "--out", "{d}/AUDIT.md"], "{d}/gone.txt"),
    ("parse_log-missing", [script("au-parse-log"), "{d}/gone.log"], "{d}/gone.log"),
    ("parse_log-empty", [script("au-parse-log"), "{d}/empty"], "{d}/empty"),
    ("parse_log-binary", [script("au-parse-log"), "{d}/binary.png"], "{d}/binary.png"),
    ("model_card-missing", [script("au-model-card"), "{d}/gone_solver.prototxt"], "{d}/gone_solver.prototxt"),
    ("model_card-empty", [script("au-model-card"), "{d}/empty"], "{d}/empty"),
    ("model_card-binary", [script("au-model-card"), "{d}/binary.png"], "{d}/binary.png"),
    ("model_card-no-net", [script("au-model-card"), "{d}/nonet_solver.prototxt"], "{d}/nonet_solver.prototxt"),
    ("net_size-missing", [script("au-net-size"), "--prototxt-dir", "{d}/nowhere", "--only", "alexnet"],
     "{d}/nowhere/alexnet_deploy.prototxt"),
    ("activations-missing", [script("au-activations"), "{d}/gone_solver.prototxt"], "{d}/gone_solver.prototxt"),
    ("activations-binary", [script("au-activations"), "{d}/binary.png"], "{d}/binary.png"),
    ("activations-no-net", [script("au-activations"), "{d}/nonet_solver.prototxt"], "{d}/nonet_solver.prototxt"),
    ("generate_prototxt-bad-aus", [script("au-prototxt"), "--aus", "1,2,x", "--out", "{d}/p"], "'1,2,x'"),
    ("gradcheck-bad-shape", [script("au-gradcheck"), "--shape", "8,x"], "'8,x'"),
    ("reproduce-data-missing", [script("au-reproduce"), "table4-5", "--data", "{d}/nowhere", "--plan"],
     "{d}/nowhere/manifest.json"),
    ("reproduce-data-empty", [script("au-reproduce"), "table4-5", "--data", "{d}/ds_empty", "--plan"],
     "{d}/ds_empty/manifest.json"),
    ("reproduce-manifest-not-json", [script("au-reproduce"), "table4-5", "--data", "{d}/ds_bad_manifest", "--plan"],
     "{d}/ds_bad_manifest/manifest.json"),
    ("au-predict-weights-missing", [AU_PREDICT, "--weights", "{d}/gone.caffemodel", "{d}/binary.png", "--out", "{d}/o.csv"],
     "{d}/gone.caffemodel"),
    ("au-predict-weights-empty", [AU_PREDICT, "--weights", "{d}/empty", "{d}/binary.png", "--out", "{d}/o.csv"], "{d}/empty"),
    ("au-predict-weights-text", [AU_PREDICT, "--weights", "{d}/text.txt", "{d}/binary.png", "--out", "{d}/o.csv"],
     "{d}/text.txt"),
    ("au-predict-card-not-json", [AU_PREDICT, "--weights", "{d}/net.caffemodel", "--model-card", "{d}/text.txt",
                                  "{d}/binary.png", "--out", "{d}/o.csv"], "{d}/text.txt"),
    ("build_from_csv-missing", [script("au-build-csv"), "--csv", "{d}/gone.csv", "--out", "{d}/ds"],
     "{d}/gone.csv"),
    ("build_from_csv-empty", [script("au-build-csv"), "--csv", "{d}/empty", "--out", "{d}/ds"], "{d}/empty"),
    ("build_from_csv-binary", [script("au-build-csv"), "--csv", "{d}/binary.png", "--out", "{d}/ds"],
     "{d}/binary.png"),
    ("build_emotionet-missing", [script("au-build-emotionet"), "--labels", "{d}/gone.csv", "--images", "{d}",
                                 "--out", "{d}/ds"], "{d}/gone.csv"),
    ("build_emotionet-empty", [script("au-build-emotionet"), "--labels", "{d}/empty", "--images", "{d}",
                               "--out", "{d}/ds"], "{d}/empty"),
    ("build_ckplus-missing", [script("au-build-ckplus"), "--root", "{d}/nowhere", "--out", "{d}/ds"],
     "{d}/nowhere"),
    ("build_synthau-bad-size", [script("au-build-synthau"), "--train", "0", "--out", "{d}/ds"], "--train"),
    ("hog_baseline-missing", [script("au-hog-baseline"), "{d}/nowhere"], "{d}/nowhere/manifest.json"),
    ("hog_baseline-not-json", [script("au-hog-baseline"), "{d}/ds_bad_manifest"],
     "{d}/ds_bad_manifest/manifest.json"),
    ("bench-before-missing", [script("au-bench"), "--only", "build", "--before", "{d}/nowhere", "--out", "{d}/b"],
     "{d}/nowhere"),
    ("bench-results-not-json", [script("au-bench"), "--only", "build", "--out", "{d}"], "{d}/results.json"),
]


@pytest.mark.parametrize("argv, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_clear_line_and_status_2(files, argv, names):
    before = {p: p.read_bytes() for p in files.iterdir() if p.is_file()}
    proc = run([a.format(d=files) for a in argv], cwd=REPO)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "Traceback" not in said and "Check failure" not in said, said
    assert names.format(d=files) in said, said
    lines = proc.stderr.strip().splitlines()
    if lines[0].startswith("usage:"):   # argparse: its usage, then one line "PROG: error: ..."
        lines = [ln for ln in lines if ": error: " in ln]
    assert len(lines) == 1 and names.format(d=files) in lines[0], said
    assert {p: p.read_bytes() for p in files.iterdir() if p.is_file()} == before
    assert not (files / "o.md").exists() and not (files / "o.csv").exists() and not (files / "ds").exists()


def test_audit_with_missing_results_leaves_audit_md_as_it_was(files):
    out = files / "AUDIT.copy.md"
    shutil.copy(REPO / "AUDIT.md", out)
    proc = run([script("au-audit"), "--results", "/nonexistent", "--out", str(out)], cwd=REPO)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "au-audit: /nonexistent: not found (expected the results root written by au-reproduce, "
        "holding <dataset>/<experiment>/)")
    assert out.read_text() == (REPO / "AUDIT.md").read_text()


def test_a_partial_bench_run_keeps_the_other_sections(tmp_path):
    from bench import run as bench_run
    there = {"cpu": "CPU A", "peak_fp32_gflops": 100.0}
    old = {"date": "2026-01-01T00:00:00", "commit": "abc", "machine": there, "benches": {
        "nets": {"title": "Nets", "markdown": "nets table",
                 "results": {"nets": {"resnet18": {"ratio": 0.9, "caffe_gflops": 80.0}}}},
        "data": {"title": "Data", "markdown": "data table", "results": {}}}}
    (tmp_path / "results.json").write_text(json.dumps(old))
    kept = bench_run.earlier_benches(tmp_path / "results.json", ["data"])
    assert list(kept) == ["nets"] and \
        kept["nets"]["kept_from"] == {"date": "2026-01-01T00:00:00", "commit": "abc", "machine": there}
    # a kept section is measured against the machine it ran on, not this one
    here = {"cpu": "CPU B", "peak_fp32_gflops": 200.0}
    rows = bench_run.targets({"machine": here, "benches": kept})
    assert ("Caffe resnet18, share of the fp32 peak", ">= 60 %", "80 %", True) in rows
    assert "on CPU A (fp32 peak 100.0 GFLOP/s)" in bench_run.render(
        {"machine": dict(here, cores=2, mhz=1, isa=[], peak_note="", memory_gib=1, kernel="", python="", threads=2,
                         caffe={"build": "", "blas": "", "linked": []}, blas_runtime=[]),
         "date": "d", "commit": "c", "quick": False, "benches": kept})
