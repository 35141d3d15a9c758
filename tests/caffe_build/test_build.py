"""The foundation: the cached Caffe build, the launcher, pycaffe, and Python layers in both."""
import re
import subprocess

import numpy as np
from helpers.caffe import REPO, dummy_multilabel_net, net_from_text, run_caffe

from dscmr.caffe_home import caffe_home


def registered_project_layers():
    """Layer types that cpp_layers/ registers with REGISTER_LAYER_CLASS."""
    names = set()
    for src in (REPO / "cpp_layers" / "src").rglob("*.cpp"):
        names |= set(re.findall(r"REGISTER_LAYER_CLASS\((\w+)\)", src.read_text()))
    return names


def test_caffe_launcher_reports_bvlc_version():
    proc = run_caffe("--version")
    assert "caffe version 1.0.0" in proc.stdout + proc.stderr


def test_build_is_a_cache_hit_the_second_time():
    proc = subprocess.run(["bash", str(REPO / "setup" / "build_caffe.sh")],
                          capture_output=True, text=True, check=True)
    assert f"cached build {caffe_home()}" in proc.stderr


def test_build_info_names_source_and_patches():
    info = (caffe_home() / "BUILD_INFO").read_text()
    assert "e0eb3f06794f7402c77b7dec8e8480273ee1a1bb192e9122b621a69d4147ad0c" in info
    for patch in sorted((REPO / "setup" / "patches").glob("*.patch")):
        assert patch.name in info


def test_pycaffe_knows_python_and_project_layers():
    import caffe
    types = set(caffe.layer_type_list())
    assert "Python" in types
    project = registered_project_layers()
    assert project <= types, f"not registered in this build: {project - types}"


def test_missing_caffe_source_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-caffe.tar.gz"
    proc = subprocess.run(["bash", str(REPO / "setup" / "fetch_caffe_source.sh")],
                          env={"CAFFE_SRC": str(missing), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"CAFFE_SRC={missing} does not exist" in proc.stderr


# A net whose loss is the Python MSR layer.
PY_LAYER_NET = dummy_multilabel_net(
    'layer { name: "loss" type: "Python" bottom: "logits" bottom: "y" top: "loss" loss_weight: 1\n'
    '  python_param { module: "python_layers.msr_loss" layer: "MSRLoss" } }')


def msr_loss_by_hand(x, y):
    """Eqs. 3-7 for labels that are all 0 or 1, written independently of the layer."""
    total = 0.0
    for i in range(x.shape[1]):
        p, n = y[:, i] == 1, y[:, i] == 0
        gamma = n.sum() / p.sum() if p.any() and n.any() else 1.0
        w_pos = gamma if gamma > 1 else 1.0
        w_neg = 1 / gamma if gamma < 1 else 1.0
        prob = 1 / (1 + np.exp(-x[:, i].astype(np.float64)))
        total += -(w_pos * np.log(prob[p]).sum() + w_neg * np.log(1 - prob[n]).sum()) / len(y)
    return total


def test_python_layer_runs_in_pycaffe_and_in_the_caffe_binary(tmp_path):
    import caffe
    net_file = tmp_path / "net.prototxt"
    net_file.write_text(PY_LAYER_NET)
    solver_file = tmp_path / "solver.prototxt"
    solver_file.write_text(f'net: "{net_file}"\nbase_lr: 0.1\nlr_policy: "fixed"\nmax_iter: 1\n'
                           f'display: 1\nrandom_seed: 7\nsnapshot_after_train: false\n')

    caffe.set_mode_cpu()
    solver = caffe.SGDSolver(str(solver_file))
    solver.step(1)
    net = solver.net
    pycaffe_loss = float(net.blobs["loss"].data)
    assert np.isclose(pycaffe_loss, msr_loss_by_hand(net.blobs["logits"].data, net.blobs["y"].data), rtol=1e-5)

    log = run_caffe("train", "-solver", solver_file, cwd=tmp_path).stderr
    binary_loss = float(re.search(r"Iteration 0 .*loss = ([-0-9.e]+)", log).group(1))
    assert np.isclose(binary_loss, pycaffe_loss, rtol=1e-5), log[-2000:]


def test_pycaffe_forward_of_a_python_layer_net_from_text():
    net = net_from_text(PY_LAYER_NET)
    net.forward()
    y = net.blobs["y"].data
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert np.isclose(float(net.blobs["loss"].data), msr_loss_by_hand(net.blobs["logits"].data, y), rtol=1e-5)


def test_caffe_pb2_and_the_extension_load_without_pycaffe_and_import_caffe_takes_them(tmp_path):
    code = """
import sys
from dscmr.caffe_home import caffe_pb2, extension
pb2, ext = caffe_pb2(), extension()
print(pb2.TEST, "skimage" in sys.modules, "caffe.io" in sys.modules)
net = pb2.NetParameter(); net.layer.add(name="d", type="Input", top=["x"]).input_param.shape.add(dim=[2, 3])
with open(sys.argv[1], "w") as f:
    f.write(str(net))
print(list(ext.Net(sys.argv[1], pb2.TEST)._blob_names))
import caffe
from caffe.proto import caffe_pb2 as imported
print(imported is pb2, caffe.Net is ext.Net)
"""
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-c", code, str(tmp_path / "net.prototxt")],
                          capture_output=True, text=True, env={"GLOG_minloglevel": "2", "PATH": "/usr/bin:/bin"})
    assert proc.stdout.split("\n")[:3] == ["1 False False", "['x']", "True True"], proc.stderr
