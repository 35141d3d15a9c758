"""Gradient checks of the custom C++ layers against their Python reference layers.

For each layer it builds two one-layer nets in pycaffe, one with the C++ layer and one with the
Python layer (python_layers/), feeds both the same random inputs and parameters, and compares:
  cpp vs py     top data, bottom diffs and parameter diffs (relative to the blob's magnitude);
  cpp vs fd     the C++ layer's analytic gradients against central finite differences of its own
                forward (Caffe GradientChecker's step 1e-2, on a random sample of entries).
It prints one row per blob with the largest absolute and relative error, and exits 1 if any row
is over its tolerance.

Ad-MSR is checked in the TEST phase with a preset L_pre (the state must not move between the
finite-difference evaluations); Region in TRAIN (batch statistics) and in TEST (global statistics).
The finite differences need a forward whose gradient the backward claims, so they run at a state
moved away from two places where it does not: Ad-MSR's backward treats beta as a constant (eq. 11),
and beta is constant only where every L_cur < L_S, so L_pre is set to 1000 there; Region's shift is
set to 6 so that no ReLU input sits within a step of the ReLU's kink. The C++ vs Python comparison
runs at the unmoved state, with beta and the ReLU masks varying.

Examples:
  au-gradcheck                         # every layer
  au-gradcheck --layer region --shape 2,4,10,10 --seed 3
  au-gradcheck --layer admsr --shape 16,11
"""
import argparse
import os
import sys
import tempfile

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")
import caffe

from dscmr import paper
from dscmr.errors import cli

PROG = "au-gradcheck"

CPP_VS_PY_TOL = 1e-5
FD_STEP = 1e-2
FD_TOL = 1e-3

# name: (C++ layer text, Python module/layer/param_str, default shape, phases, number of params)
# FD_STATE: blob index -> value for the finite-difference run (see the docstring).
FD_STATE = {"msr": {}, "admsr": {0: 1000.0}, "region": {3: 6.0}}
LAYERS = {
    "msr": ('type: "MSRLoss" loss_param { ignore_label: 999 }',
            ("python_layers.msr_loss", "MSRLoss", '{"ignore_label": 999}'), (8, 5), ("TRAIN",), 0),
    "admsr": ('type: "AdMSRLoss" loss_param { ignore_label: 999 } msr_loss_param { alpha: 0.5 }',
              ("python_layers.msr_loss", "AdMSRLoss", '{"ignore_label": 999, "alpha": 0.5}'),
              (8, 5), ("TEST",), 2),
    "region": ('type: "Region" region_param { grid_h: 3 grid_w: 3 kernel_size: 3 '
               'weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.1 } '
               'scale_filler { type: "gaussian" mean: 1 std: 0.2 } shift_filler { type: "gaussian" std: 0.2 } }',
               ("python_layers.region", "Region", '{"grid_h": 3, "grid_w": 3, "kernel_size": 3}'),
               (2, 3, 7, 8), ("TRAIN", "TEST"), 7),
}


def net_text(layer, shape, is_loss, python=None, n_params=0):
    """A net of Input blobs x (and labels y for a loss) feeding one layer with top `out`."""
    dims = " ".join(f"dim: {d}" for d in shape)
    text = f'force_backward: true\nlayer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ {dims} }} }} }}\n'
    bottoms = 'bottom: "x"'
    if is_loss:
        text += f'layer {{ name: "y" type: "Input" top: "y" input_param {{ shape {{ {dims} }} }} }}\n'
        bottoms += ' bottom: "y"'
    if python:
        module, name, param_str = python
        params = " ".join("param { lr_mult: 0 decay_mult: 0 }" for _ in range(n_params))
        body = (f'type: "Python" {params} python_param {{ module: "{module}" layer: "{name}" '
                f"param_str: '{param_str}' }}" + (" loss_weight: 1" if is_loss else ""))
    else:
        body = layer
    return text + f'layer {{ name: "layer" {body} {bottoms} top: "out" }}\n'


def load(text, phase):
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text)
    try:
        return caffe.Net(f.name, getattr(caffe, phase))
    finally:
        os.unlink(f.name)


def objective_weights(net, rng, is_loss):
    """The top's diff: 1 for a loss, random weights otherwise (J = sum(w * top))."""
    top = net.blobs["out"]
    return np.ones(top.data.shape) if is_loss else rng.standard_normal(top.data.shape)


def forward_backward(net, w):
    net.forward()
    for layer in net.layers:
        for blob in layer.blobs:
            blob.diff[...] = 0
    net.blobs["x"].diff[...] = 0
    net.blobs["out"].diff[...] = w
    net._backward(len(net.layers) - 1, 0)
    return float(np.sum(net.blobs["out"].data * w))


def error_row(what, blob, a, b, tol, scale_floor):
    err = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0), scale_floor)
    rel = err.max(initial=0) / scale
    return {"check": what, "blob": blob, "abs": err.max(initial=0), "rel": rel, "ok": rel <= tol}


def finite_differences(net, w, blob_arrays, rng, samples=20):
    """(analytic, numeric) for a random sample of entries of each (name, data, diff) array."""
    out = []
    for name, data, diff in blob_arrays:
        flat_idx = rng.choice(data.size, size=min(samples, data.size), replace=False)
        analytic = diff.flat[flat_idx].copy()
        numeric = []
        for k in flat_idx:
            orig = data.flat[k]
            data.flat[k] = orig + FD_STEP
            net.forward()
            plus = float(np.sum(net.blobs["out"].data * w))
            data.flat[k] = orig - FD_STEP
            net.forward()
            minus = float(np.sum(net.blobs["out"].data * w))
            data.flat[k] = orig
            numeric.append((plus - minus) / (2 * FD_STEP))
        out.append((name, analytic, np.array(numeric)))
    return out


def check_layer(name, shape, seed):
    cpp_text, python, _, phases, n_params = LAYERS[name]
    is_loss = name != "region"
    rows = []
    for phase in phases:
        rng = np.random.default_rng(seed)
        cpp = load(net_text(cpp_text, shape, is_loss), phase)
        py = load(net_text(cpp_text, shape, is_loss, python, n_params), phase)
        x = rng.standard_normal(shape) * (2 if is_loss else 1)
        for net in (cpp, py):
            net.blobs["x"].data[...] = x
        if is_loss:
            y = (rng.random(shape) < 0.3).astype(np.float32)
            y[rng.random(shape) < 0.15] = paper.IGNORE_LABEL
            cpp.blobs["y"].data[...] = y
            py.blobs["y"].data[...] = y
        if name == "admsr":  # a preset state: the previous iteration's L_pre, one update done
            state = [rng.random(shape[1]) + 0.2, np.ones(1)]
        elif name == "region":  # running statistics for TEST; random learned blobs
            state = [b.data.copy() for b in cpp.layers[-1].blobs]
            state[5] = rng.random(state[5].shape) + 1.0
            state[4] = rng.standard_normal(state[4].shape) * 0.3
            state[6] = np.array([1.0])
        else:
            state = []
        for b_cpp, b_py, value in zip(cpp.layers[-1].blobs, py.layers[-1].blobs, state):
            b_cpp.data[...] = value
            b_py.data[...] = value
        w = objective_weights(cpp, rng, is_loss)
        label = f"{name}/{phase}"
        forward_backward(cpp, w)
        forward_backward(py, w)
        rows.append(error_row(f"{label} cpp vs py", "top", cpp.blobs["out"].data, py.blobs["out"].data,
                              CPP_VS_PY_TOL, 1e-8))
        rows.append(error_row(f"{label} cpp vs py", "x diff", cpp.blobs["x"].diff, py.blobs["x"].diff,
                              CPP_VS_PY_TOL, 1e-8))
        learned = list(zip(cpp.layers[-1].blobs, py.layers[-1].blobs))[:4 if name == "region" else 0]
        for i, (b_cpp, b_py) in enumerate(learned):
            rows.append(error_row(f"{label} cpp vs py", f"blob {i} diff", b_cpp.diff, b_py.diff,
                                  CPP_VS_PY_TOL, 1e-8))
        if phase == "TRAIN" and name == "region":
            for i in (4, 5, 6):
                rows.append(error_row(f"{label} cpp vs py", f"blob {i} data", cpp.layers[-1].blobs[i].data,
                                      py.layers[-1].blobs[i].data, CPP_VS_PY_TOL, 1e-8))
        for i, value in FD_STATE[name].items():
            cpp.layers[-1].blobs[i].data[...] = value
        forward_backward(cpp, w)
        arrays = [("x diff", cpp.blobs["x"].data, cpp.blobs["x"].diff)]
        arrays += [(f"blob {i} diff", b.data, b.diff) for i, (b, _) in enumerate(learned)]
        for blob, analytic, numeric in finite_differences(cpp, w, arrays, rng):
            rows.append(error_row(f"{label} cpp vs fd", blob, analytic, numeric, FD_TOL, 1.0))
    return rows


def parse_shape(text):
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shape wants comma-separated integers like 8,5; got {text!r}")


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layer", choices=[*LAYERS, "all"], default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shape", type=parse_shape,
                    help="N,n for msr/admsr; N,C,H,W for region (default: 8,5 and 2,3,7,8)")
    opts = ap.parse_args(argv)
    names = list(LAYERS) if opts.layer == "all" else [opts.layer]
    caffe.set_mode_cpu()
    caffe.set_random_seed(opts.seed)
    rows = []
    for name in names:
        shape = opts.shape or LAYERS[name][2]
        if len(shape) != len(LAYERS[name][2]):
            ap.error(f"--shape for {name} needs {len(LAYERS[name][2])} dimensions, got {shape}")
        rows += check_layer(name, shape, opts.seed)
    print(f"{'check':<28} {'blob':<13} {'max abs err':>12} {'max rel err':>12}  result")
    for r in rows:
        print(f"{r['check']:<28} {r['blob']:<13} {r['abs']:>12.3e} {r['rel']:>12.3e}  {'ok' if r['ok'] else 'MISMATCH'}")
    bad = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
