"""The Python MSR / Ad-MSR reference layers (python_layers/msr_loss.py) against central finite
differences and against the paper's equations worked by hand."""
import json

import numpy as np
import pytest
from helpers.caffe import net_from_text

from python_layers.msr_loss import ad_msr_beta, msr_per_au

IGNORE = 999
# 8 samples x 6 AUs: AU 0 mixed with ignored samples (gamma = 2), AU 1 all positive, AU 2 all
# negative, AU 3 fully ignored, AU 4 more positives (gamma = 0.4), AU 5 balanced (gamma = 1).
I = IGNORE  # noqa: E741 (short, so the label table below reads as a table)
LABELS = np.array([[1, 1, 0, I, 1, 1], [0, 1, 0, I, 1, 0], [0, 1, 0, I, 1, 1],
                   [I, 1, 0, I, 0, 0], [0, 1, 0, I, 1, 1], [1, 1, 0, I, I, 0],
                   [0, 1, 0, I, 1, 1], [I, 1, 0, I, 0, 0]], dtype=np.float64)


def logits(seed, shape=LABELS.shape):
    return np.random.default_rng(seed).normal(0, 1.5, shape)


def central_differences(f, x, step):
    """d f / d x for scalar f, by central differences, in float64."""
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        x_plus, x_minus = x.copy(), x.copy()
        x_plus[k] += step
        x_minus[k] -= step
        grad[k] = (f(x_plus) - f(x_minus)) / (2 * step)
    return grad


# ---- the equations in float64 -------------------------------------------------------------

@pytest.mark.parametrize("ignore_label", [None, IGNORE])
def test_msr_per_au_gradient_matches_finite_differences(ignore_label):
    y = LABELS if ignore_label else np.where(LABELS == IGNORE, 0, LABELS)
    x = logits(1)
    l_cur, grad = msr_per_au(x, y, ignore_label)
    coef = np.arange(1.0, 7.0)          # a different weight per AU checks the column mapping
    numeric = central_differences(lambda z: coef @ msr_per_au(z, y, ignore_label)[0], x, 1e-6)
    np.testing.assert_allclose(coef * grad, numeric, rtol=1e-6, atol=1e-9)
    assert np.all(l_cur[[0, 1, 2, 4, 5]] > 0)
    assert (l_cur[3] == 0) == (ignore_label is not None)


def test_msr_per_au_by_hand():
    x = logits(2)
    l_cur, grad = msr_per_au(x, LABELS, IGNORE)
    sig = 1 / (1 + np.exp(-x))
    # AU 0: positives at samples 0, 5; negatives at 1, 2, 4, 6; m = 6, gamma = 4/2 = 2 > 1.
    expected0 = -(2 * np.log(sig[[0, 5], 0]).sum() + np.log(1 - sig[[1, 2, 4, 6], 0]).sum()) / 6
    assert l_cur[0] == pytest.approx(expected0, rel=1e-12)
    assert grad[0, 0] == pytest.approx(2 * (sig[0, 0] - 1) / 6, rel=1e-12)
    assert grad[1, 0] == pytest.approx(sig[1, 0] / 6, rel=1e-12)
    assert grad[3, 0] == 0 and grad[7, 0] == 0
    # AU 1 all positive, AU 2 all negative: gamma is undefined, both weights 1, m = 8.
    assert l_cur[1] == pytest.approx(-np.log(sig[:, 1]).mean(), rel=1e-12)
    assert l_cur[2] == pytest.approx(-np.log(1 - sig[:, 2]).mean(), rel=1e-12)
    # AU 3 fully ignored: no loss, no gradient, no NaN.
    assert l_cur[3] == 0 and not grad[:, 3].any()
    # AU 4: 5 positives, 2 negatives, gamma = 0.4 < 1: negatives weigh 1/gamma = 2.5, m = 7.
    pos, neg = [0, 1, 2, 4, 6], [3, 7]
    expected4 = -(np.log(sig[pos, 4]).sum() + 2.5 * np.log(1 - sig[neg, 4]).sum()) / 7
    assert l_cur[4] == pytest.approx(expected4, rel=1e-12)
    # AU 5: gamma = 1, plain cross-entropy.
    assert l_cur[5] == pytest.approx(-np.mean(np.where(LABELS[:, 5] == 1, np.log(sig[:, 5]),
                                                       np.log(1 - sig[:, 5]))), rel=1e-12)


def test_msr_per_au_is_stable_for_large_logits():
    x = np.array([[800.0, -800.0], [-800.0, 800.0]])
    l_cur, grad = msr_per_au(x, np.array([[1.0, 1.0], [0.0, 0.0]]), None)
    assert l_cur == pytest.approx([0, 800])
    assert np.isfinite(grad).all()


def test_ad_msr_beta_by_hand():
    l_cur, l_pre, alpha = np.array([1.0, 3.0, 0.0]), np.array([2.0, 1.0, 0.0]), 0.5
    l_s = (0.5 * 1 + 0.5 * 2 + 0.5 * 3 + 0.5 * 1 + 0) / 3           # eq. 8: 7/6
    r = np.array([(1 - l_s) / (1 + l_s) + 1, (3 - l_s) / (3 + l_s) + 1, 0.0])  # eq. 10
    assert r[1] > 1 and r[0] < 1
    np.testing.assert_allclose(ad_msr_beta(l_cur, l_pre, alpha, "CLAMPED"), [1, r[1], 1])
    np.testing.assert_allclose(ad_msr_beta(l_cur, l_pre, alpha, "PAPER_ZERO"), [0, r[1], 0])
    np.testing.assert_allclose(ad_msr_beta(l_cur, l_pre, alpha, "RAW"), r)
    # L_cur + L_S = 0: r = 1, no NaN.
    np.testing.assert_array_equal(ad_msr_beta(np.zeros(2), np.zeros(2), alpha, "RAW"), [1, 1])


# ---- the layers through pycaffe nets --------------------------------------------------------

def loss_net(layer, params, phase="TRAIN", tops=("loss",), loss_weight=1.0, shape=(8, 6)):
    dims = " ".join(f"dim: {d}" for d in shape)
    weights = " ".join(["loss_weight: %r" % loss_weight] + ["loss_weight: 0"] * (len(tops) - 1))
    state = "param { lr_mult: 0 decay_mult: 0 } " * 2 if layer == "AdMSRLoss" else ""
    top_lines = " ".join(f'top: "{t}"' for t in tops)
    return net_from_text(f"""
force_backward: true
layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ {dims} }} }} }}
layer {{ name: "y" type: "Input" top: "y" input_param {{ shape {{ {dims} }} }} }}
layer {{ name: "loss" type: "Python" bottom: "x" bottom: "y" {top_lines} {weights} {state}
  python_param {{ module: "python_layers.msr_loss" layer: "{layer}"
                  param_str: '{json.dumps(params)}' }} }}
""", phase=phase)


def forward_backward(net, x, y):
    net.blobs["x"].data[...] = x
    net.blobs["y"].data[...] = y
    net.forward()
    net.backward()
    return net.blobs["x"].diff.copy()


@pytest.mark.parametrize("shape", [(8, 6), (8, 6, 1, 1)])
def test_msr_layer_matches_equations_and_finite_differences(shape):
    net = loss_net("MSRLoss", {"ignore_label": IGNORE}, tops=("loss", "l_cur"), loss_weight=2.5,
                   shape=shape)
    x = logits(3).astype(np.float32)
    diff = forward_backward(net, x.reshape(shape), LABELS.reshape(shape)).reshape(8, 6)
    l_cur, grad = msr_per_au(x.astype(np.float64), LABELS, IGNORE)
    np.testing.assert_allclose(net.blobs["l_cur"].data, l_cur, rtol=1e-6)
    assert net.blobs["loss"].data == pytest.approx(l_cur.sum(), rel=1e-6)    # eq. 7
    np.testing.assert_allclose(diff, 2.5 * grad, rtol=1e-5, atol=1e-8)       # loss weight scales

    def loss_at(z):
        net.blobs["x"].data[...] = z.reshape(shape)
        return 2.5 * float(net.forward()["loss"])
    numeric = central_differences(loss_at, x.astype(np.float64), 1e-2)
    np.testing.assert_allclose(diff, numeric, rtol=1e-3, atol=1e-4)


def test_msr_layer_passes_the_l_cur_top_diff():
    net = loss_net("MSRLoss", {"ignore_label": IGNORE}, tops=("loss", "l_cur"))
    x = logits(4).astype(np.float32)
    net.blobs["x"].data[...] = x
    net.blobs["y"].data[...] = LABELS
    net.forward()
    coef = np.arange(1.0, 7.0)
    net.blobs["loss"].diff[...] = 0
    net.blobs["l_cur"].diff[...] = coef
    net.backward()
    diff = net.blobs["x"].diff
    np.testing.assert_allclose(diff, coef * msr_per_au(x.astype(np.float64), LABELS, IGNORE)[1],
                               rtol=1e-5, atol=1e-8)


def admsr_state(net):
    return net.params["loss"][0].data.copy(), float(net.params["loss"][1].data[0])


def set_admsr_state(net, l_pre, updates):
    net.params["loss"][0].data[...] = l_pre
    net.params["loss"][1].data[...] = updates


@pytest.mark.parametrize("beta_mode", ["CLAMPED", "PAPER_ZERO", "RAW"])
def test_admsr_train_sequence_follows_eqs_8_to_11(beta_mode):
    params = {"ignore_label": IGNORE, "alpha": 0.3, "beta_mode": beta_mode}
    net = loss_net("AdMSRLoss", params, tops=("loss", "beta", "l_cur"), loss_weight=1.5)
    l_pre = None
    for it in range(3):
        x = logits(10 + it).astype(np.float32)
        diff = forward_backward(net, x, LABELS)
        l_cur, grad = msr_per_au(x.astype(np.float64), LABELS, IGNORE)
        l_pre = l_cur if l_pre is None else l_pre                  # first batch initialises L_pre
        beta = ad_msr_beta(l_cur, l_pre, 0.3, beta_mode)
        np.testing.assert_allclose(net.blobs["beta"].data, beta, rtol=1e-6)
        assert net.blobs["loss"].data == pytest.approx((beta * l_cur).sum(), rel=1e-6)   # eq. 11
        np.testing.assert_allclose(diff, 1.5 * beta * grad, rtol=1e-5, atol=1e-8)
        l_pre = 0.3 * l_cur + 0.7 * l_pre                                                 # eq. 9
        state, updates = admsr_state(net)
        np.testing.assert_allclose(state, l_pre, rtol=1e-6)
        assert updates == it + 1


def test_admsr_test_phase_reads_state_only():
    net = loss_net("AdMSRLoss", {"ignore_label": IGNORE, "beta_mode": "RAW"}, phase="TEST",
                   tops=("loss", "beta", "l_cur"))
    x = logits(20).astype(np.float32)
    forward_backward(net, x, LABELS)
    l_cur = msr_per_au(x.astype(np.float64), LABELS, IGNORE)[0]
    # No update yet: L_pre is this batch's L_cur, for this forward only.
    np.testing.assert_allclose(net.blobs["beta"].data, ad_msr_beta(l_cur, l_cur, 0.5, "RAW"),
                               rtol=1e-6)
    state, updates = admsr_state(net)
    assert not state.any() and updates == 0
    l_pre = np.array([0.9, 0.1, 2.0, 0.4, 0.7, 1.3], np.float32)
    set_admsr_state(net, l_pre, 5)
    forward_backward(net, x, LABELS)
    np.testing.assert_allclose(net.blobs["beta"].data, ad_msr_beta(l_cur, l_pre, 0.5, "RAW"),
                               rtol=1e-6)
    state, updates = admsr_state(net)
    np.testing.assert_array_equal(state, l_pre)
    assert updates == 5


@pytest.mark.parametrize("beta_mode", ["CLAMPED", "PAPER_ZERO", "RAW"])
def test_admsr_gradient_with_frozen_beta_matches_finite_differences(beta_mode):
    # Backward treats beta and L_S as constants; Forward recomputes them from x. So the finite
    # differences are those of sum_i beta_i(x0) L_cur^(i)(x), in TEST phase with a preset state
    # so that every Forward reads the same L_pre.
    net = loss_net("AdMSRLoss", {"ignore_label": IGNORE, "beta_mode": beta_mode}, phase="TEST",
                   tops=("loss", "beta", "l_cur"))
    set_admsr_state(net, [0.9, 0.1, 2.0, 0.4, 0.7, 1.3], 4)
    x = logits(30).astype(np.float64)
    diff = forward_backward(net, x, LABELS)
    beta = net.blobs["beta"].data.copy()
    assert (beta > 1).any() and (beta <= 1).any()      # AUs on both sides of L_S

    def frozen_beta_loss(z):
        net.blobs["x"].data[...] = z
        return float(beta @ net.forward()["l_cur"])
    numeric = central_differences(frozen_beta_loss, x, 1e-2)
    np.testing.assert_allclose(diff, numeric, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("bad, position, ignore_label", [
    (0.5, (2, 4), IGNORE), (2, (7, 5), IGNORE), (-1, (1, 0), IGNORE), (IGNORE, (0, 3), None)])
def test_bad_label_raises_naming_value_and_position(bad, position, ignore_label):
    y = np.where(LABELS == IGNORE, 0, LABELS)
    y[position] = bad
    net = loss_net("MSRLoss", {"ignore_label": ignore_label})
    net.blobs["x"].data[...] = logits(5)
    net.blobs["y"].data[...] = y
    with pytest.raises(ValueError, match=rf"MSRLoss: label {bad} at \(sample {position[0]}, "
                                         rf"AU {position[1]}\) is not 0"):
        net.forward()


@pytest.mark.parametrize("param_str, message", [
    ({"beta_mode": "HALF"}, "beta_mode 'HALF'"), ({"alpha": 1.5}, "alpha 1.5"),
    ({"alhpa": 0.5}, "unknown param_str keys")])
def test_admsr_bad_parameters_raise(param_str, message):
    with pytest.raises(Exception, match=message):
        loss_net("AdMSRLoss", param_str)
