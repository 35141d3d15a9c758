"""The generated networks: committed files match the generator, every net runs in Caffe, the
architectures follow Sec. 2.1, and their sizes match counts made by hand from the layer shapes."""
import re

import caffe
import numpy as np
import pytest
from helpers.caffe import REPO, run_caffe
from helpers.data import write_random_lmdbs

from data_prep.lmdb_io import read_split
from dscmr import methods, paper
from tools import generate_prototxt as gen
from tools.nets import prototxt
from tools.nets.net_size import net_size
from tools.nets.prototxt import NetOptions

N_AUS = len(paper.EMOTIONET_AUS)


def test_committed_prototxt_equal_generator_output():
    files = gen.generated(gen.parse_args([]))
    committed = {p.name for p in (REPO / "prototxt").glob("*.prototxt")}
    assert committed == set(files), "prototxt/ and the generator list different files"
    for name, text in files.items():
        assert (REPO / "prototxt" / name).read_text() == text, \
            f"prototxt/{name} differs from the generator's output; run au-prototxt"


@pytest.fixture(scope="module")
def small_nets(tmp_path_factory):
    root = tmp_path_factory.mktemp("nets")
    write_random_lmdbs(root, N_AUS)
    gen.main(["--out", str(root), "--out-prefix", str(root), "--data", str(root), "--batch-size", "2",
              "--test-iter", "1"])
    return root


@pytest.mark.slow
@pytest.mark.parametrize("method", methods.KEYS)
def test_every_train_val_runs_in_caffe_time(small_nets, method):
    log = run_caffe("time", "-model", small_nets / f"{method}_train_val.prototxt", "-iterations", "2").stderr
    assert "Average Forward-Backward" in log, log[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("method", methods.KEYS)
def test_every_train_val_reads_labels_in_lock_step(small_nets, method):
    # TRAIN phase: an untrained net's BatchNorm has no global statistics for TEST to use yet.
    net = caffe.Net(str(small_nets / f"{method}_train_val.prototxt"), caffe.TRAIN)
    net.forward()
    first_two = [labels for _, _, labels in read_split(small_nets / "train")[:2]]
    assert net.blobs["label"].data.shape == (2, N_AUS)
    assert np.array_equal(net.blobs["label"].data, np.array(first_two))
    assert np.isfinite(float(net.blobs["loss"].data))


def layer_by_name(net, name):
    return next(layer for layer in net.layer if layer.name == name)


def test_ldscmr_follows_section_2_1():
    net = prototxt.deploy(methods.get("ldscmr"), NetOptions())
    conv0 = layer_by_name(net, "conv0").convolution_param
    assert (conv0.kernel_size, conv0.num_output, conv0.pad, conv0.stride) == ([11], 32, [], [])
    region = layer_by_name(net, "region0").region_param
    assert (region.grid_h, region.grid_w) == paper.REGION_GRID
    assert layer_by_name(net, "fc_2046").inner_product_param.num_output == 2046
    caffe_net = caffe.Net(str(REPO / "prototxt" / "ldscmr_deploy.prototxt"), caffe.TEST)
    assert caffe_net.blobs["conv0"].data.shape == (1, 32, 214, 214)
    assert caffe_net.blobs["prob"].data.shape == (1, N_AUS)


# BVLC Caffe's models/bvlc_alexnet/train_val.prototxt (99bd997): (weight std, bias) of each learned layer.
BVLC_ALEXNET_FILLERS = {"conv1": (0.01, 0), "conv2": (0.01, 0.1), "conv3": (0.01, 0), "conv4": (0.01, 0.1),
                        "conv5": (0.01, 0.1), "fc6": (0.005, 0.1), "fc7": (0.005, 0.1), "fc8": (0.01, 0)}
# DRML's authors' prototxt/DRML.prototxt (github.com/zkl20061823/DRML, 46b4e15); its fc8 is our fc_au.
DRML_FILLERS = {"conv1": (0.01, 0), "conv2": (0.01, 1), "conv3": (0.01, 1), "conv4": (0.01, 1), "conv5": (0.01, 1),
                "fc6": (0.005, 1), "fc7": (0.005, 1), "fc_au": (0.01, 0)}


def fillers_of(net, names):
    fillers = {}
    for name in names:
        layer = layer_by_name(net, name)
        param = layer.convolution_param if layer.type == "Convolution" else layer.inner_product_param
        assert (param.weight_filler.type, param.bias_filler.type) == ("gaussian", "constant"), name
        fillers[name] = (pytest.approx(param.weight_filler.std), pytest.approx(param.bias_filler.value))
    return fillers


@pytest.mark.parametrize("method", ["alexnet", "alexnet_msr", "alexnet_admsr"])
def test_alexnet_initialises_as_bvlc_alexnet(method):
    assert fillers_of(prototxt.train_val(methods.get(method), NetOptions()), BVLC_ALEXNET_FILLERS) == BVLC_ALEXNET_FILLERS


def test_drml_initialises_and_orders_its_relus_as_drmls_own_prototxt():
    net = prototxt.train_val(methods.get("drml"), NetOptions())
    assert fillers_of(net, DRML_FILLERS) == DRML_FILLERS
    region = layer_by_name(net, "region1").region_param
    # the Region layer's default weight filler is DRML's: gaussian, std 0.01 (docs/layers/region.md)
    assert not region.HasField("weight_filler") and (region.bias_filler.type, region.bias_filler.value) == ("constant", 1)
    # conv1 -> region (BN, ReLU, conv and the identity inside) -> ReLU -> pool1: no ReLU on conv1 itself
    relus = {layer.bottom[0] for layer in net.layer if layer.type == "ReLU"}
    assert "conv1" not in relus and {"region1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"} <= relus
    assert layer_by_name(net, "pool1").bottom[0] == "region1"


def test_resnet_body_has_a_projection_in_the_first_block_of_every_group():
    net = prototxt.deploy(methods.get("resnet18"), NetOptions())
    names = [layer.name for layer in net.layer]
    for g in (2, 3, 4, 5):
        assert f"res{g}a_branch1" in names and f"res{g}b_branch1" not in names
        eltwise = layer_by_name(net, f"res{g}b")
        assert eltwise.bottom[0] == f"res{g}a"  # identity shortcut in the second block
    convs = [layer for layer in net.layer if layer.type == "Convolution"]
    assert len(convs) == 1 + 4 * (1 + 4)
    assert all(not c.convolution_param.bias_term for c in convs)
    following = {layer.bottom[0]: layer.type for layer in net.layer if layer.type in ("BatchNorm",)}
    assert all(following.get(c.top[0]) == "BatchNorm" for c in convs)


@pytest.mark.parametrize("method,loss_type", [
    ("alexnet", "SigmoidCrossEntropyLoss"), ("alexnet_msr", "MSRLoss"), ("alexnet_admsr", "AdMSRLoss"),
    ("resnet18", "SigmoidCrossEntropyLoss"), ("drml", "SigmoidCrossEntropyLoss"),
    ("dscmr", "AdMSRLoss"), ("ldscmr", "AdMSRLoss"), ("dscmr_py", "Python"), ("ldscmr_py", "Python")])
def test_losses_ignore_label_999(method, loss_type):
    net = prototxt.train_val(methods.get(method), NetOptions())
    loss = layer_by_name(net, "loss")
    assert loss.type == loss_type
    if loss_type == "Python":
        assert '"ignore_label": 999' in loss.python_param.param_str
        assert loss.python_param.layer == "AdMSRLoss"
    else:
        assert loss.loss_param.ignore_label == 999


def test_python_twins_swap_only_the_custom_layers():
    opts = NetOptions()
    for method in ("dscmr", "ldscmr"):
        cpp = [layer.type for layer in prototxt.train_val(methods.get(method), opts).layer]
        py = [layer.type for layer in prototxt.train_val(methods.get(method + "_py"), opts).layer]
        assert len(cpp) == len(py)
        swapped = {(a, b) for a, b in zip(cpp, py) if a != b}
        assert swapped <= {("AdMSRLoss", "Python"), ("Region", "Python")} and ("AdMSRLoss", "Python") in swapped


def test_solver_follows_section_3_1():
    text = (REPO / "prototxt" / "ldscmr_solver.prototxt").read_text()
    solver = caffe.proto.caffe_pb2.SolverParameter()
    from google.protobuf import text_format
    text_format.Merge(text, solver)
    assert solver.net == "prototxt/ldscmr_train_val.prototxt"
    assert (solver.base_lr, solver.stepsize, solver.momentum, solver.weight_decay) == pytest.approx(
        (0.0005, 2000, 0.9, 0.0005))
    assert solver.lr_policy == "step" and solver.gamma == pytest.approx(0.1)


def test_generator_rejects_bad_aus_and_methods(capsys):
    for bad in (["--aus", "1,x"], ["--aus", "1,1"], ["--only", "vgg"]):
        with pytest.raises(SystemExit):
            gen.parse_args(bad)
    assert "unknown method" in capsys.readouterr().err


# ---- sizes, counted by hand from the layer shapes --------------------------------------------

def conv(out_side, c_out, c_in, k):
    """(multiply-adds, weights) of a bias-free convolution."""
    return out_side * out_side * c_out * c_in * k * k, c_out * c_in * k * k


def resnet18_by_hand(side, c_in, projection_in_group1=True):
    """ResNet-18 body from conv1 to pool5 at input side `side`: (multiply-adds, parameters).
    Scale layers carry 2 parameters per channel (torchvision's BN weight and bias)."""
    def out(s, k, stride, pad):
        return (s + 2 * pad - k) // stride + 1

    macs, params = 0, 0

    def add(out_side, c_out, c_in_, k):
        nonlocal macs, params
        m, w = conv(out_side, c_out, c_in_, k)
        macs += m
        params += w + 2 * c_out

    s = out(side, 7, 2, 3)
    add(s, 64, c_in, 7)
    s = -(-(s - 3) // 2) + 1  # Caffe pools with ceil
    prev = 64
    for g, width in enumerate((64, 128, 256, 512)):
        stride = 1 if g == 0 else 2
        s_out = out(s, 3, stride, 1)
        if g > 0 or projection_in_group1:
            add(s_out, width, prev, 1)
        add(s_out, width, prev, 3)
        add(s_out, width, width, 3)
        add(s_out, width, width, 3)
        add(s_out, width, width, 3)
        s, prev = s_out, width
    return macs, params


def test_resnet18_by_hand_reproduces_torchvision_reference():
    macs, params = resnet18_by_hand(224, 3, projection_in_group1=False)
    fc_1000 = 512 * 1000
    assert params + fc_1000 + 1000 == 11_689_512
    assert round((macs + fc_1000) / 1e9, 3) == 1.814


def fc(c_in, c_out):
    return c_in * c_out, c_in * c_out + c_out


def expected_sizes(n):
    """{method: (parameters, multiply-adds)}, by hand."""
    body_m, body_p = resnet18_by_hand(224, 3)
    head_m = fc(512, paper.FC_WIDTH)[0] + fc(paper.FC_WIDTH, n)[0]
    head_p = fc(512, paper.FC_WIDTH)[1] + fc(paper.FC_WIDTH, n)[1]
    # L-DSCMR: conv0 11x11 32 (+Scale) -> 214, Region (64 patches of 3x3 32->32 convs with bias, gamma, beta),
    # then the ResNet body on a 32-channel 214 x 214 map.
    conv0_m, conv0_w = conv(214, 32, 3, 11)
    region_m = 214 * 214 * 32 * 32 * 9
    region_p = 64 * (32 * 32 * 9 + 32 + 32 + 32)
    lbody_m, lbody_p = resnet18_by_hand(214, 32)
    # AlexNet (BVLC, groups of 2) at 224: conv1 54, pools 27, 13, 6.
    a = [(54 * 54 * 96 * 3 * 121, 96 * 3 * 121 + 96), (27 * 27 * 256 * 48 * 25, 256 * 48 * 25 + 256),
         (13 * 13 * 384 * 256 * 9, 384 * 256 * 9 + 384), (13 * 13 * 384 * 192 * 9, 384 * 192 * 9 + 384),
         (13 * 13 * 256 * 192 * 9, 256 * 192 * 9 + 256), fc(6 * 6 * 256, 4096), fc(4096, 4096), fc(4096, n)]
    # DRML at 170: conv1 11x11 32 -> 160, Region, pool -> 80, conv2 8x8 -> 73, conv3 8x8 -> 66,
    # conv4 6x6/2 -> 31, conv5 5x5 -> 27, fc6 4096, fc7 2048.
    d = [(160 * 160 * 32 * 3 * 121, 32 * 3 * 121 + 32), (160 * 160 * 32 * 32 * 9, region_p),
         (73 * 73 * 16 * 32 * 64, 16 * 32 * 64 + 16), (66 * 66 * 16 * 16 * 64, 16 * 16 * 64 + 16),
         (31 * 31 * 16 * 16 * 36, 16 * 16 * 36 + 16), (27 * 27 * 16 * 16 * 25, 16 * 16 * 25 + 16),
         fc(27 * 27 * 16, 4096), fc(4096, 2048), fc(2048, n)]
    return {
        "resnet18": (body_p + fc(512, n)[1], body_m + fc(512, n)[0]),
        "dscmr": (body_p + head_p, body_m + head_m),
        "ldscmr": (conv0_w + 64 + region_p + lbody_p + head_p, conv0_m + region_m + lbody_m + head_m),
        "alexnet": (sum(p for _, p in a), sum(m for m, _ in a)),
        "drml": (sum(p for _, p in d), sum(m for m, _ in d)),
    }


@pytest.mark.parametrize("method", ["resnet18", "dscmr", "ldscmr", "alexnet", "drml"])
def test_net_size_matches_hand_count(method):
    params, macs, _ = net_size(REPO / "prototxt" / f"{method}_deploy.prototxt")
    assert (params, macs) == expected_sizes(N_AUS)[method]


def test_docs_sizes_table_matches_net_size():
    """docs/networks.md shows what tools/nets/net_size.py prints."""
    text = (REPO / "docs" / "networks.md").read_text()
    for method in ("resnet18", "dscmr", "ldscmr", "alexnet", "drml"):
        params, macs, _ = net_size(REPO / "prototxt" / f"{method}_deploy.prototxt")
        row = re.search(rf"\| {method} \| \d+x\d+ \| ([\d,]+) \| ([\d.]+) G \|", text)
        assert row, f"docs/networks.md has no size row for {method}"
        assert row.group(1) == f"{params:,}" and row.group(2) == f"{macs / 1e9:.3f}"


def test_the_methods_table_names_every_column_of_tables_4_5_and_rejects_an_unknown_method():
    assert [methods.by_paper_name(name).key for name in paper.METHODS] == [
        "drml", "resnet18", "alexnet", "dscmr", "alexnet_admsr", "ldscmr"]
    assert [m.twin for m in methods.METHODS if m.python_layers] == ["dscmr", "ldscmr"]
    with pytest.raises(methods.UnknownMethod, match="unknown method 'vgg'; known: alexnet, alexnet_msr"):
        methods.get("vgg")
