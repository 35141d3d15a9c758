"""The C++ MSRLoss / AdMSRLoss layers against the Python reference layers on the same random
inputs with identical parameters: top data, bottom diffs and Ad-MSR's state blobs."""
import json

import numpy as np
import pytest
from helpers.caffe import net_from_text

IGNORE = 999
RTOL = 1e-5


def cpp_and_python_nets(layer, ignore_label, alpha=None, beta_mode=None, phase="TRAIN",
                        shape=(16, 7)):
    """Two nets, identical but for the loss layer: C++ (`layer`) and Python (`layer` of
    python_layers.msr_loss), both with every optional top and a loss weight of 1.7."""
    tops = ["loss", "l_cur"] if layer == "MSRLoss" else ["loss", "beta", "l_cur"]
    cpp_params, py_params = "", {}
    if ignore_label is not None:
        cpp_params += f"loss_param {{ ignore_label: {ignore_label} }} "
        py_params["ignore_label"] = ignore_label
    if layer == "AdMSRLoss":
        cpp_params += f"msr_loss_param {{ alpha: {alpha} beta_mode: {beta_mode} }} "
        py_params.update(alpha=alpha, beta_mode=beta_mode)
    dims = " ".join(f"dim: {d}" for d in shape)
    head = f"""
force_backward: true
layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ {dims} }} }} }}
layer {{ name: "y" type: "Input" top: "y" input_param {{ shape {{ {dims} }} }} }}
"""
    tops_text = " ".join(f'top: "{t}"' for t in tops) + " loss_weight: 1.7" + \
        " loss_weight: 0" * (len(tops) - 1)
    cpp = f'layer {{ name: "loss" type: "{layer}" bottom: "x" bottom: "y" {tops_text} {cpp_params} }}'
    python = f"""layer {{ name: "loss" type: "Python" bottom: "x" bottom: "y" {tops_text}
  {"param { lr_mult: 0 decay_mult: 0 } " * 2 if layer == "AdMSRLoss" else ""}  # statistics
  python_param {{ module: "python_layers.msr_loss" layer: "{layer}"
                  param_str: '{json.dumps(py_params)}' }} }}"""
    return net_from_text(head + cpp, phase), net_from_text(head + python, phase), tops


def random_batch(rng, shape, ignore_label):
    """Logits, and 0/1 labels (some ignored) with AU 0 all positive, AU 1 all negative and,
    with an ignore label, AU 2 fully ignored."""
    x = rng.normal(0, 2, shape).astype(np.float32)
    y = (rng.random(shape) < 0.3).astype(np.float32)
    y[:, 0], y[:, 1] = 1, 0
    if ignore_label is not None:
        y[rng.random(shape) < 0.2] = ignore_label
        y[:, 2] = ignore_label
    return x, y


def run(net, x, y):
    net.blobs["x"].data[...] = x
    net.blobs["y"].data[...] = y
    net.forward()
    net.backward()


def assert_same(cpp, python, tops):
    for t in tops:
        np.testing.assert_allclose(cpp.blobs[t].data, python.blobs[t].data, rtol=RTOL,
                                   atol=1e-7, err_msg=t)
    # Gradients relative to the blob's scale: single-precision sigmoid(x) - 1 loses digits.
    ref = python.blobs["x"].diff
    np.testing.assert_allclose(cpp.blobs["x"].diff, ref, rtol=RTOL,
                               atol=RTOL * np.abs(ref).max(), err_msg="x diff")
    assert np.abs(ref).max() > 0


@pytest.mark.parametrize("ignore_label", [None, IGNORE])
@pytest.mark.parametrize("shape", [(16, 7), (16, 7, 1, 1)])
def test_msr_cpp_matches_python(ignore_label, shape):
    cpp, python, tops = cpp_and_python_nets("MSRLoss", ignore_label, shape=shape)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x, y = random_batch(rng, (16, 7), ignore_label)
        run(cpp, x.reshape(shape), y.reshape(shape))
        run(python, x.reshape(shape), y.reshape(shape))
        assert_same(cpp, python, tops)


def state(net):
    return [b.data.copy() for b in net.params["loss"]]


@pytest.mark.parametrize("beta_mode", ["CLAMPED", "PAPER_ZERO", "RAW"])
@pytest.mark.parametrize("ignore_label, alpha", [(None, 0.5), (IGNORE, 0.2)])
def test_admsr_cpp_matches_python_over_iterations(beta_mode, ignore_label, alpha):
    """A TRAIN sequence: L_pre starts from the first batch and evolves by eq. 9 identically."""
    cpp, python, tops = cpp_and_python_nets("AdMSRLoss", ignore_label, alpha, beta_mode)
    rng = np.random.default_rng(1)
    betas = []
    for it in range(6):
        x, y = random_batch(rng, (16, 7), ignore_label)
        run(cpp, x, y)
        run(python, x, y)
        assert_same(cpp, python, tops)
        (cpp_l_pre, cpp_updates), (py_l_pre, py_updates) = state(cpp), state(python)
        np.testing.assert_allclose(cpp_l_pre, py_l_pre, rtol=RTOL)
        assert cpp_updates[0] == py_updates[0] == it + 1
        betas.append(cpp.blobs["beta"].data.copy())
    # The sequence exercised both sides of L_S (beta > 1 and the mode's other branch).
    betas = np.array(betas)
    assert (betas > 1).any() and (betas <= 1).any()


@pytest.mark.parametrize("beta_mode", ["CLAMPED", "PAPER_ZERO", "RAW"])
def test_admsr_cpp_matches_python_in_test_phase(beta_mode):
    """TEST reads a preset state and leaves it alone, in both."""
    cpp, python, tops = cpp_and_python_nets("AdMSRLoss", IGNORE, 0.5, beta_mode, phase="TEST")
    preset = np.linspace(0.2, 1.6, 7).astype(np.float32)
    for net in (cpp, python):
        net.params["loss"][0].data[...] = preset
        net.params["loss"][1].data[...] = 3
    x, y = random_batch(np.random.default_rng(2), (16, 7), IGNORE)
    run(cpp, x, y)
    run(python, x, y)
    assert_same(cpp, python, tops)
    for net in (cpp, python):
        np.testing.assert_array_equal(net.params["loss"][0].data, preset)
        assert net.params["loss"][1].data[0] == 3
