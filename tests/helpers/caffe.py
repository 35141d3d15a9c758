"""Helpers the tests share: load a net from prototxt text, run the `caffe` launcher."""
import os
import subprocess
import tempfile

from dscmr import REPO

VENV = REPO / ".venv"
CAFFE = VENV / "bin" / "caffe"


def net_from_text(text, phase="TRAIN", weights=None):
    """A caffe.Net from prototxt text (written to a temporary file that is then removed)."""
    import caffe
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text)
    try:
        args = [f.name, getattr(caffe, phase)]
        if weights:
            args.insert(1, str(weights))
        return caffe.Net(*args)
    finally:
        os.unlink(f.name)


def run_caffe(*args, cwd=None, check=True):
    """Runs `.venv/bin/caffe ARGS` (glog to stderr); returns the CompletedProcess."""
    env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="0")
    proc = subprocess.run([str(CAFFE), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"caffe {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def dummy_multilabel_net(loss_layer, n_aus=3, positive_fraction=0.3):
    """Prototxt text of a self-feeding net for loss layers: 8 samples of Gaussian features x, an
    InnerProduct to n_aus logits, and 0/1 labels y from thresholded uniform noise; `loss_layer`
    is the text of a layer with bottoms "logits" and "y"."""
    return f"""
layer {{ name: "x" type: "DummyData" top: "x"
  dummy_data_param {{ shape {{ dim: 8 dim: 5 }} data_filler {{ type: "gaussian" std: 1 }} }} }}
layer {{ name: "u" type: "DummyData" top: "u"
  dummy_data_param {{ shape {{ dim: 8 dim: {n_aus} }} data_filler {{ type: "uniform" min: 0 max: 1 }} }} }}
layer {{ name: "y" type: "Threshold" bottom: "u" top: "y" threshold_param {{ threshold: {1 - positive_fraction} }} }}
layer {{ name: "logits" type: "InnerProduct" bottom: "x" top: "logits"
  inner_product_param {{ num_output: {n_aus} weight_filler {{ type: "gaussian" std: 0.5 }} }} }}
{loss_layer}
"""


def sgd_solver(folder, name, net_text, base_lr, weight_decay, seed):
    """A pycaffe SGDSolver (fixed rate, momentum 0.9, no snapshots) of net_text, its files in folder."""
    import caffe
    net = folder / f"{name}.prototxt"
    net.write_text(net_text)
    solver = folder / f"{name}_solver.prototxt"
    solver.write_text(f"""net: "{net}"
base_lr: {base_lr} lr_policy: "fixed" momentum: 0.9 weight_decay: {weight_decay}
max_iter: 1000 display: 0 snapshot: 0 snapshot_prefix: "{folder}/snap_{name}" random_seed: {seed}
""")
    caffe.set_mode_cpu()
    return caffe.SGDSolver(str(solver))


def fed_steps(solver, x, y, iterations):
    """Steps a solver whose net reads Input blobs x and y `iterations` times, feeding batch `solver.iter`;
    returns the losses."""
    losses = []
    for _ in range(iterations):
        solver.net.blobs["x"].data[...] = x[solver.iter]
        solver.net.blobs["y"].data[...] = y[solver.iter]
        solver.step(1)
        losses.append(float(solver.net.blobs["loss"].data))
    return losses
