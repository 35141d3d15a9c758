"""tools/nets/activations.py (au-activations): the share of each ReLU's positive outputs while a solver
steps, on a self-feeding net whose ReLUs are on, half on, or off by construction, and the loss's
gradient at the scores against sigmoid cross-entropy's by hand."""
import os

import numpy as np
import pytest

from dscmr.errors import InputError
from tools.nets import activations

# DummyData (gaussian x, constant labels) -> three 1x1 convolutions with ReLUs: `on` (bias 10, tiny
# weights: every output ~10), `half` (zero-mean weights, bias 0: about half of them positive) and
# `off` (bias -10) -> InnerProduct -> sigmoid cross-entropy.
NET = """
layer { name: "data" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 8 dim: 4 dim: 5 dim: 5 } shape { dim: 8 dim: 2 }
                     data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 } } }
layer { name: "on" type: "Convolution" bottom: "x" top: "on" convolution_param { num_output: 6 kernel_size: 1
  weight_filler { type: "gaussian" std: 0.001 } bias_filler { type: "constant" value: 10 } } }
layer { name: "relu_on" type: "ReLU" bottom: "on" top: "on" }
layer { name: "half" type: "Convolution" bottom: "x" top: "half" convolution_param { num_output: 64 kernel_size: 1
  weight_filler { type: "gaussian" std: 1 } } }
layer { name: "relu_half" type: "ReLU" bottom: "half" top: "half" }
layer { name: "off" type: "Convolution" bottom: "x" top: "off" convolution_param { num_output: 6 kernel_size: 1
  weight_filler { type: "gaussian" std: 0.001 } bias_filler { type: "constant" value: -10 } } }
layer { name: "relu_off" type: "ReLU" bottom: "off" top: "off" }
layer { name: "merge" type: "Concat" bottom: "on" bottom: "half" bottom: "off" top: "merge" }
layer { name: "fc" type: "InnerProduct" bottom: "merge" top: "fc" inner_product_param { num_output: 2
  weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "loss" type: "SigmoidCrossEntropyLoss" bottom: "fc" bottom: "y" top: "loss" }
"""


@pytest.fixture
def solver(tmp_path):
    (tmp_path / "net.prototxt").write_text(NET)
    path = tmp_path / "solver.prototxt"
    path.write_text(f'net: "{tmp_path / "net.prototxt"}"\nbase_lr: 0.001\nlr_policy: "fixed"\nmax_iter: 10\n'
                    f'test_iter: 1\ntest_interval: 1\nsnapshot: 1\nsnapshot_prefix: "{tmp_path / "snap"}"\n'
                    'random_seed: 1\nsolver_mode: CPU\n')
    return path


def test_shares_of_positive_outputs_per_relu(solver, tmp_path):
    before = sorted(os.listdir(tmp_path))
    rows = list(activations.step(solver, 5, 2))
    assert [it for it, _, _, _ in rows] == [2, 4, 5]
    for _, loss, _, shares in rows:
        assert list(shares) == ["on", "half", "off"]
        assert shares["on"][0] == 1.0 and shares["on"][1] == pytest.approx(10, abs=0.1)
        assert shares["off"] == (0.0, 0.0)
        assert 0.4 < shares["half"][0] < 0.6            # 8 x 64 x 25 outputs of zero-mean weights
        assert np.isfinite(loss) and loss > 0
    # no snapshot, no test net, nothing left behind, though the solver asks for both every iteration
    assert sorted(os.listdir(tmp_path)) == before
    only = list(activations.step(solver, 1, 1, blobs=["off"]))
    assert list(only[0][3]) == ["off"]


def test_the_iterations_are_those_of_the_solver_itself(solver, tmp_path):
    """Caffe's own solver, stepped the same way (its test phase at iteration 0 off: this net's test
    phase draws random data, which would move every later draw)."""
    import caffe
    caffe.set_mode_cpu()
    same = tmp_path / "same.prototxt"
    same.write_text(solver.read_text() + "test_initialization: false\n")
    ours = list(activations.step(same, 1, 1))
    own = caffe.get_solver(str(same))       # after ours: Caffe's random generator is one for the process
    own.step(1)
    assert ours[0][1] == float(own.net.blobs["loss"].data)
    assert ours[0][3]["half"][0] == float(np.mean(own.net.blobs["half"].data > 0))
    # Caffe's sigmoid cross-entropy divides by the batch (8 faces); every label is 1
    by_hand = (1 / (1 + np.exp(-own.net.blobs["fc"].data.astype(np.float64))) - 1) / 8
    assert ours[0][2] == pytest.approx(np.sqrt(np.mean(by_hand ** 2)), rel=1e-5)
    assert 0.01 < ours[0][2] < 1 / 8                     # |p - 1| / 8 with p in (0, 1), not saturated


def test_bad_input_is_named(solver, tmp_path, capsys):
    with pytest.raises(InputError, match="no ReLU writes fc; the ReLU'd blobs are on, half, off"):
        list(activations.step(solver, 1, 1, blobs=["fc"]))
    orphan = tmp_path / "orphan.prototxt"
    orphan.write_text('net: "missing/net.prototxt"\n')
    assert activations.main([str(orphan)]) == 2
    assert "orphan.prototxt: names the net missing/net.prototxt, which is not found" in capsys.readouterr().err
    garbage = tmp_path / "garbage.caffemodel"
    garbage.write_bytes(b"not a net")
    assert activations.main([str(solver), "--weights", str(garbage)]) == 2
    assert str(garbage) in capsys.readouterr().err
    with pytest.raises(SystemExit):
        activations.main([str(solver), "--iters", "0"])
    lossless = tmp_path / "lossless.prototxt"
    lossless.write_text(NET.replace('top: "loss"', 'top: "cost"'))
    solver.write_text(solver.read_text().replace(str(tmp_path / "net.prototxt"), str(lossless)))
    with pytest.raises(InputError, match="lossless.prototxt: no layer writes the blob `loss` in the TRAIN phase"):
        list(activations.step(solver, 1, 1))
