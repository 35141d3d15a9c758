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
