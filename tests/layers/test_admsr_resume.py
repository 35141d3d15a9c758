"""Resuming an Ad-MSR run from a snapshot continues the same trajectory: k + j iterations
straight and k iterations, snapshot, restore, j iterations give the same per-iteration losses
and the same final L_pre and update count, exactly.

The data is fed from fixed arrays indexed by the solver's iteration, so the only state that
matters is the net's (weights and Ad-MSR's L_pre and count) and the solver's (iteration,
momentum history): exactly what a snapshot holds. DummyData would draw from Caffe's RNG, which
snapshots do not save.
"""
import numpy as np
import pytest
from helpers.caffe import fed_steps, sgd_solver

N, D, AUS, K, J = 12, 5, 4, 4, 5

NET = """
layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: {n} dim: {d} }} }} }}
layer {{ name: "y" type: "Input" top: "y" input_param {{ shape {{ dim: {n} dim: {aus} }} }} }}
layer {{ name: "fc" type: "InnerProduct" bottom: "x" top: "fc"
        inner_product_param {{ num_output: {aus} weight_filler {{ type: "gaussian" std: 0.3 }}
                               bias_filler {{ type: "constant" value: 0.1 }} }} }}
{loss}
"""
LOSS = {
    "cpp": """layer { name: "loss" type: "AdMSRLoss" bottom: "fc" bottom: "y" top: "loss"
        loss_param { ignore_label: 999 } msr_loss_param { alpha: 0.4 beta_mode: RAW } }""",
    "python": """layer { name: "loss" type: "Python" bottom: "fc" bottom: "y" top: "loss"
        loss_weight: 1 param { lr_mult: 0 decay_mult: 0 } param { lr_mult: 0 decay_mult: 0 }
        python_param { module: "python_layers.msr_loss" layer: "AdMSRLoss"
                       param_str: '{"ignore_label": 999, "alpha": 0.4, "beta_mode": "RAW"}' } }""",
}


def data(iterations):
    rng = np.random.default_rng(42)
    x = rng.normal(0, 1, (iterations, N, D)).astype(np.float32)
    y = (rng.random((iterations, N, AUS)) < 0.3).astype(np.float32)
    y[rng.random(y.shape) < 0.1] = 999
    return x, y


def make_solver(tmp_path, impl):
    return sgd_solver(tmp_path, "net", NET.format(n=N, d=D, aus=AUS, loss=LOSS[impl]), 0.5, 0.01, 7)


@pytest.mark.parametrize("impl", ["cpp", "python"])
def test_resume_continues_the_same_trajectory(tmp_path, impl):
    x, y = data(K + J)
    straight = make_solver(tmp_path, impl)
    straight_losses = fed_steps(straight, x, y, K + J)
    straight_state = [b.data.copy() for b in straight.net.params["loss"]]

    first = make_solver(tmp_path, impl)
    losses = fed_steps(first, x, y, K)
    first.snapshot()
    resumed = make_solver(tmp_path, impl)
    resumed.restore(str(tmp_path / f"snap_net_iter_{K}.solverstate"))
    assert resumed.iter == K
    losses += fed_steps(resumed, x, y, J)

    assert losses == straight_losses
    l_pre, updates = [b.data for b in resumed.net.params["loss"]]
    np.testing.assert_array_equal(l_pre, straight_state[0])
    assert updates[0] == straight_state[1][0] == K + J
    np.testing.assert_array_equal(resumed.net.params["fc"][0].data,
                                  straight.net.params["fc"][0].data)

    # The comparison can fail: the same resume with Ad-MSR's state reset takes another path.
    forgetful = make_solver(tmp_path, impl)
    forgetful.restore(str(tmp_path / f"snap_net_iter_{K}.solverstate"))
    for b in forgetful.net.params["loss"]:
        b.data[...] = 0
    assert fed_steps(forgetful, x, y, J) != straight_losses[K:]
