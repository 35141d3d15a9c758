"""Steps a solver a few iterations and reports each ReLU's share of positive outputs: whether a net
at chance has switched its ReLUs off (results/synthau/table4-5/FINDINGS.md: DRML's conv5 at Sec. 3.1's lr).

It trains as `caffe train -solver SOLVER` would (the solver's net, data, lr schedule and
random_seed), in pycaffe, and writes nothing: no snapshot, no log, and no test phase. The
iterations are caffe train's own wherever its test phase draws no random numbers, as in the nets
au-prototxt writes (their TEST phase has no dropout and reads its data in order). Run it where
`caffe train` would run (the repository root for prototxt/): the solver's paths are read from the
current directory, as Caffe does.

Every --every iterations it prints the training loss, the root mean square of the loss's gradient
at the net's scores (the blob the loss layer reads: how hard that loss pushes the net, which is what
differs between two losses on the same net, batch and weights) and, for each blob a ReLU writes, the
share of that batch's outputs above 0 and their mean. A share of 0 means the layer passes nothing on: every
face then gets the same output from there up. A blob that a Dropout layer also rewrites in place
(fc6 and fc7 of AlexNet and DRML) counts dropout's zeros too: about half of it is 0 in training.

Examples:
  au-activations prototxt/drml_solver.prototxt --iters 200 --every 10
  au-activations prototxt/alexnet_solver.prototxt --blobs conv5,fc7
  au-activations prototxt/alexnet_admsr_solver.prototxt --iters 1 --blobs conv5
  au-activations runs/ldscmr_solver.prototxt --weights runs/ldscmr_iter_1000.caffemodel --iters 20
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from dscmr.caffe_home import caffe_pb2
from dscmr.errors import InputError, cli
from tools.nets.caffe_files import check_loads, read_net, read_solver

PROG = "au-activations"


def relu_blobs(net_param):
    """The blobs ReLU layers write, in the net's order, skipping layers only the TEST phase has."""
    def in_train(layer):
        return not any(rule.phase == caffe_pb2().TEST for rule in layer.include)
    return list(dict.fromkeys(layer.top[0] for layer in net_param.layer if layer.type == "ReLU" and in_train(layer)))


def scores_blob(net_path, net_param):
    """The blob the TRAIN phase's loss layer (the one writing `loss`) reads first: the net's scores."""
    for layer in net_param.layer:
        if "loss" in layer.top and not any(rule.phase == caffe_pb2().TEST for rule in layer.include):
            return layer.bottom[0]
    raise InputError(net_path, "no layer writes the blob `loss` in the TRAIN phase (au-activations reports it)")


def training_solver(solver_path, folder):
    """A copy of the solver in folder that never runs a test phase or snapshots (the net is its own
    path), the net's path and the solver mode."""
    solver = read_solver(solver_path)
    net = Path(solver.net or solver.train_net)
    if not net.is_file():
        raise InputError(solver_path, f"names the net {net}, which is not found from {Path.cwd()} (Caffe reads a "
                                      "solver's paths from the current directory: run where caffe train would)")
    # The test nets are still built, as caffe train builds them: building one draws from Caffe's random
    # generator, and without it the dropout masks and mirror flips of the steps would be others.
    solver.test_interval, solver.test_initialization = 2**31 - 1, False    # Caffe wants an interval with them
    solver.snapshot, solver.display = 0, 0
    solver.snapshot_after_train = False
    copy = Path(folder) / "solver.prototxt"
    copy.write_text(str(solver))
    return copy, net, solver.solver_mode


def step(solver_path, iters, every, blobs=None, weights=None):
    """Yields (iteration, loss, root mean square of the loss's gradient at the scores,
    {blob: (share of outputs > 0, mean)}) every `every` iterations."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe

    with tempfile.TemporaryDirectory(prefix="au-activations-") as folder:
        copy, net_path, mode = training_solver(solver_path, folder)
        check_loads(net_path, weights, phase="TRAIN")
        net_param = read_net(net_path)
        known, scores = relu_blobs(net_param), scores_blob(net_path, net_param)
        blobs = blobs or known
        unknown = [b for b in blobs if b not in known]
        if unknown:
            raise InputError(net_path, f"no ReLU writes {', '.join(unknown)}; the ReLU'd blobs are {', '.join(known)}")
        if mode == caffe_pb2().SolverParameter.GPU:
            caffe.set_mode_gpu()
        else:
            caffe.set_mode_cpu()
        solver = caffe.get_solver(str(copy))
        if weights is not None:
            solver.net.copy_from(str(weights))
        for it in range(1, iters + 1):
            solver.step(1)
            if it % every == 0 or it == iters:
                data = {b: solver.net.blobs[b].data for b in blobs}
                grad = float(np.sqrt(np.mean(np.square(solver.net.blobs[scores].diff, dtype=np.float64))))
                yield it, float(solver.net.blobs["loss"].data), grad, {b: (float(np.mean(d > 0)), float(d.mean()))
                                                                 for b, d in data.items()}


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("solver", type=Path, help="a solver prototxt, as caffe train -solver takes")
    ap.add_argument("--iters", type=int, default=100, help="iterations to step (default: 100)")
    ap.add_argument("--every", type=int, default=10, help="print every N iterations (default: 10)")
    ap.add_argument("--blobs", type=lambda s: s.split(","),
                    help="comma-separated ReLU'd blobs to report (default: every blob a ReLU writes)")
    ap.add_argument("--weights", type=Path, help="start from these weights (.caffemodel) instead of the fillers")
    opts = ap.parse_args(argv)
    if opts.iters < 1 or opts.every < 1:
        ap.error(f"--iters and --every must be at least 1 (got {opts.iters} and {opts.every})")
    header = False
    for it, loss, grad, shares in step(opts.solver, opts.iters, opts.every, opts.blobs, opts.weights):
        if not header:
            print("share of outputs > 0 (mean) per ReLU'd blob, on the training batch of that iteration")
            print("| iteration | loss | loss gradient at the scores (RMS) | " + " | ".join(shares) + " |")
            print("|---:|---:|---:|" + "---:|" * len(shares))
            header = True
        cells = " | ".join(f"{share:.3f} ({mean:.3g})" for share, mean in shares.values())
        print(f"| {it} | {loss:.3f} | {grad:.3g} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
