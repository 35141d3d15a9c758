"""The bench's Caffe nets: each method's generated layer graph with in-memory inputs.

The layers come from tools/nets/prototxt.py's NetBuilder, the generator of every committed
prototxt; only the input differs: two Input blobs (data N x 3 x S x S, label N x n) in place of
the LMDB Data layers, so that a timed iteration is the net's forward and backward alone.
"""
import os
import tempfile

os.environ.setdefault("GLOG_minloglevel", "2")
import caffe
import numpy as np
from caffe import layers as L

from dscmr import paper
from tools.nets.prototxt import NetBuilder

N_AUS = len(paper.EMOTIONET_AUS)
LAYER_NETS = ("region", "conv3x3")


def train_net_param(method, batch, n_aus=N_AUS):
    """NetParameter of a dscmr.methods.Method in its TRAIN form, fed by Input blobs `data` and `label`."""
    ns = caffe.NetSpec()
    size = method.input_size
    ns.data = L.Input(shape=dict(dim=[batch, 3, size, size]))
    ns.label = L.Input(shape=dict(dim=[batch, n_aus]))
    builder = NetBuilder(ns, n_aus, method.python_layers)
    builder.add_loss(method, builder.logits(method, ns.data), ns.label)
    net = ns.to_proto()
    net.name = f"{method.key}_bench"
    return net


def load_net(net_param, phase=caffe.TRAIN):
    """A caffe.Net from a NetParameter (through a temporary file)."""
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(str(net_param))
    try:
        return caffe.Net(f.name, phase)
    finally:
        os.unlink(f.name)


def fill_inputs(net, seed=0):
    """Random images around zero and 0/1 labels with about 30 % positives."""
    rng = np.random.default_rng(seed)
    net.blobs["data"].data[...] = rng.normal(0, 50, net.blobs["data"].data.shape)
    if "label" in net.blobs:
        net.blobs["label"].data[...] = rng.random(net.blobs["label"].data.shape) < 0.3


def layer_net_param(kind, batch=16, channels=32, size=paper.REGION_MAP_SIZE):
    """A one-layer net on L-DSCMR's Region input (batch x 32 x 214 x 214), with bottom gradients:
    kind 'region' is the generator's Region layer, 'conv3x3' a dense 3 x 3 Convolution with the
    same input and output (32 -> 32, pad 1, bias)."""
    ns = caffe.NetSpec()
    ns.data = L.Input(shape=dict(dim=[batch, channels, size, size]))
    if kind == "region":
        NetBuilder(ns, N_AUS, python_layers=False).region(ns.data, "region")
    elif kind == "conv3x3":
        ns.conv = L.Convolution(ns.data, num_output=channels, kernel_size=3, pad=1,
                                weight_filler=dict(type="msra"))
    else:
        raise ValueError(f"unknown layer net {kind!r}; known: region, conv3x3")
    net = ns.to_proto()
    net.name = f"{kind}_bench"
    net.force_backward = True
    return net
