"""Nets and parameters shared by the Region layer's tests (Python and C++ layers)."""
import json

import numpy as np

from helpers.caffe import net_from_text
from python_layers.region import BLOB_NAMES

# Blobs 0-3 learn; 4-6 are BatchNorm statistics. The C++ layer forces this itself; a Python
# layer cannot, so its prototxt says it.
PARAM_SPECS = "param { } " * 4 + "param { lr_mult: 0 decay_mult: 0 } " * 3


def input_layer(top, shape):
    dims = " ".join(f"dim: {d}" for d in shape)
    return f'layer {{ name: "{top}" type: "Input" top: "{top}" input_param {{ shape {{ {dims} }} }} }}\n'


def python_region(name, bottom, top, params):
    """A Python Region layer; `params` is the param_str dictionary."""
    return (f'layer {{ name: "{name}" type: "Python" bottom: "{bottom}" top: "{top}" {PARAM_SPECS}\n'
            f'  python_param {{ module: "python_layers.region" layer: "Region" '
            f"param_str: '{json.dumps(params)}' }} }}\n")


def cpp_region(name, bottom, top, params):
    """A C++ Region layer with the same parameters, as region_param fields."""
    fields = " ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                      for k, v in params.items())
    return f'layer {{ name: "{name}" type: "Region" bottom: "{bottom}" top: "{top}" region_param {{ {fields} }} }}\n'


def net(layers, phase):
    """A net of the given layer texts that back-propagates to its inputs."""
    return net_from_text("force_backward: true\n" + "".join(layers), phase)


def random_blobs(rng, n_patches, channels, kernel, scale_factor):
    """Random values for the seven blobs, statistics included (running variance positive)."""
    pc = (n_patches, channels)
    return {"weights": rng.normal(0, 0.3, (n_patches, channels, channels, kernel, kernel)),
            "bias": rng.normal(0, 0.5, pc), "gamma": rng.uniform(0.5, 1.5, pc),
            "beta": rng.normal(0, 0.5, pc), "running_mean": rng.normal(0, 1, pc) * scale_factor,
            "running_var": rng.uniform(0.5, 2, pc) * scale_factor,
            "scale_factor": np.array([scale_factor])}


def set_blobs(net, layer, blobs):
    for i, name in enumerate(BLOB_NAMES):
        net.params[layer][i].data[...] = blobs[name]


def get_blobs(net, layer):
    """float64 copies of a layer's seven blobs, as region_forward takes them."""
    return {name: net.params[layer][i].data.astype(np.float64) for i, name in enumerate(BLOB_NAMES)}
