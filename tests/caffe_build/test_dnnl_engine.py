"""The DNNL convolution engine (docs/dnnl.md) against BVLC's (engine: CAFFE), in training:

- a snapshot written by one engine resumes under the other and continues the same trajectory;
- `caffe train` of the generator's DSCMR gives the same loss curve under both engines;
- the DNNL engine gives the same bits when run again on the same threads.

Both engines compute the same sums in different orders, so losses agree to float tolerance, not
bit for bit; each comparison is checked to be able to fail (a perturbed run leaves the tolerance).
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers.caffe import REPO, fed_steps, run_caffe, sgd_solver

N, CLASSES, K, J = 4, 3, 3, 3

# Every convolution feature the nets use: bias, none, stride 2, padding, group 2, dilation.
NET = """
layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: {n} dim: 3 dim: 12 dim: 12 }} }} }}
layer {{ name: "y" type: "Input" top: "y" input_param {{ shape {{ dim: {n} dim: {classes} }} }} }}
layer {{ name: "conv1" type: "Convolution" bottom: "x" top: "conv1"
  convolution_param {{ num_output: 8 kernel_size: 3 stride: 2 pad: 1 engine: {engine}
    weight_filler {{ type: "msra" }} bias_filler {{ type: "constant" value: 0.1 }} }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }}
layer {{ name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
  convolution_param {{ num_output: 8 kernel_size: 3 pad: 2 dilation: 2 group: 2 bias_term: false
    engine: {engine} weight_filler {{ type: "msra" }} }} }}
layer {{ name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }}
layer {{ name: "fc" type: "InnerProduct" bottom: "conv2" top: "fc"
  inner_product_param {{ num_output: {classes} weight_filler {{ type: "gaussian" std: 0.1 }} }} }}
layer {{ name: "loss" type: "SigmoidCrossEntropyLoss" bottom: "fc" bottom: "y" top: "loss" }}
"""


def data(iterations):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (iterations, N, 3, 12, 12)).astype(np.float32)
    y = (rng.random((iterations, N, CLASSES)) < 0.4).astype(np.float32)
    return x, y


def make_solver(tmp_path, engine):
    return sgd_solver(tmp_path, engine, NET.format(n=N, classes=CLASSES, engine=engine), 0.1, 0.001, 5)


@pytest.mark.parametrize("first,second", [("CAFFE", "DNNL"), ("DNNL", "CAFFE")])
def test_snapshot_resumes_under_the_other_engine(tmp_path, first, second):
    x, y = data(K + J)
    straight = make_solver(tmp_path, first)
    straight_losses = fed_steps(straight, x, y, K + J)

    before = make_solver(tmp_path, first)
    losses = fed_steps(before, x, y, K)
    before.snapshot()
    resumed = make_solver(tmp_path, second)
    resumed.restore(str(tmp_path / f"snap_{first}_iter_{K}.solverstate"))
    assert resumed.iter == K
    losses += fed_steps(resumed, x, y, J)

    np.testing.assert_allclose(losses, straight_losses, rtol=1e-5)
    for name in ("conv1", "conv2", "fc"):
        for got, want in zip(resumed.net.params[name], straight.net.params[name]):
            np.testing.assert_allclose(got.data, want.data, rtol=1e-4, atol=1e-6)
    # The tolerance can fail: resuming with conv1's weights 1 % off takes another path.
    perturbed = make_solver(tmp_path, second)
    perturbed.restore(str(tmp_path / f"snap_{first}_iter_{K}.solverstate"))
    perturbed.net.params["conv1"][0].data[...] *= 1.01
    assert not np.allclose(fed_steps(perturbed, x, y, J), straight_losses[K:], rtol=1e-5)


def dscmr_train_files(tmp_path, engine, iters, base_lr):
    """Solver and net of the generator's DSCMR, batch 2, fed by DummyData (drawn from the solver's
    random_seed, so both engines see the same images, labels and initial weights)."""
    import caffe
    from caffe import layers as L

    from dscmr import methods, paper
    from tools.nets.prototxt import NetBuilder
    ns = caffe.NetSpec()
    size, n_aus = methods.get("dscmr").input_size, len(paper.EMOTIONET_AUS)
    ns.data = L.DummyData(shape=dict(dim=[2, 3, size, size]), data_filler=dict(type="gaussian", std=50))
    ns.u = L.DummyData(shape=dict(dim=[2, n_aus]), data_filler=dict(type="uniform", min=0, max=1))
    ns.label = L.Threshold(ns.u, threshold=0.7)
    builder = NetBuilder(ns, n_aus, python_layers=False)
    dscmr = methods.get("dscmr")
    builder.add_loss(dscmr, builder.logits(dscmr, ns.data), ns.label)
    net_param = ns.to_proto()
    convs = [layer for layer in net_param.layer if layer.type == "Convolution"]
    assert len(convs) >= 20
    for layer in convs:
        layer.convolution_param.engine = layer.convolution_param.Engine.Value(engine)
    net = tmp_path / f"dscmr_{engine}_{base_lr}.prototxt"
    net.write_text(str(net_param))
    solver = tmp_path / f"dscmr_{engine}_{base_lr}_solver.prototxt"
    solver.write_text(f"""net: "{net}"
base_lr: {base_lr} lr_policy: "fixed" momentum: 0.9 weight_decay: 0.0005
max_iter: {iters} display: 1 snapshot: 0 random_seed: 11 solver_mode: CPU
""")
    return solver


def caffe_train_losses(solver):
    log = run_caffe("train", "-solver", solver).stderr
    return [float(v) for v in re.findall(r"Iteration \d+ \(.*?\), loss = ([-+\d.e]+)", log)]


@pytest.mark.slow
def test_caffe_train_dscmr_same_loss_curve(tmp_path):
    iters = 5
    curves = {engine: caffe_train_losses(dscmr_train_files(tmp_path, engine, iters, 0.001))
              for engine in ("CAFFE", "DNNL")}
    assert len(curves["CAFFE"]) == iters
    # Here they differ by 5e-6 at most (the log prints 6 digits).
    np.testing.assert_allclose(curves["DNNL"], curves["CAFFE"], rtol=1e-4)
    # The curve moves: SGD changes the loss, so equal curves are not just the first loss repeated.
    assert abs(curves["CAFFE"][-1] - curves["CAFFE"][0]) > 1e-3 * abs(curves["CAFFE"][0])


PASS_SCRIPT = r"""
import sys
import numpy as np
import caffe
caffe.set_random_seed(3)
net = caffe.Net(sys.argv[1], caffe.TRAIN)
rng = np.random.default_rng(4)
net.blobs["x"].data[...] = rng.normal(0, 1, net.blobs["x"].data.shape)
net.blobs["y"].data[...] = rng.random(net.blobs["y"].data.shape) < 0.4
net.forward()
net.backward()
out = {f"{k}_{i}": p.diff for k, ps in net.params.items() for i, p in enumerate(ps)}
out.update({f"blob_{k}": b.data for k, b in net.blobs.items()})
np.savez(sys.argv[2], **out)
"""


def test_dnnl_reruns_give_the_same_bits(tmp_path):
    """oneDNN splits its weight-gradient sums by thread (docs/dnnl.md), so 1 and 2 threads may
    differ in the last bits; two runs on the same 2 threads may not."""
    net = tmp_path / "net.prototxt"
    net.write_text(NET.format(n=N, classes=CLASSES, engine="DNNL"))
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}.npz"
        env = dict(os.environ, OMP_NUM_THREADS="2", GLOG_minloglevel="2")
        subprocess.run([sys.executable, "-c", PASS_SCRIPT, str(net), str(out)], env=env, check=True, cwd=REPO)
        runs.append(dict(np.load(out)))
    assert runs[0].keys() == runs[1].keys() and np.abs(runs[0]["conv1_0"]).sum() > 0
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)
