"""Prints each network's learnable parameter count and multiply-adds per image at its input size.

Counts come from the deploy prototxts, instantiated in pycaffe:
  parameters    the blobs of Convolution, InnerProduct, Scale and Region layers that are learned
                (BatchNorm's running statistics and Region's blobs 4-6 are statistics, not counted);
  multiply-adds those of Convolution, InnerProduct and Region (its per-patch convolutions), the
                convention torchvision's numbers use (1.814 G for ResNet-18 at 224 x 224).

Examples:
  au-net-size                     # every method in prototxt/
  au-net-size --only ldscmr,dscmr
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
import caffe

from dscmr import REPO, methods
from dscmr.errors import InputError, cli
from tools.nets.caffe_files import check_loads

PROG = "au-net-size"

LEARNED_BLOBS = {"Convolution": None, "InnerProduct": None, "Scale": None, "Region": 4}


def net_size(deploy_prototxt):
    """(parameters, multiply-adds per image, input side) of a deploy net."""
    net = caffe.Net(str(deploy_prototxt), caffe.TEST)
    params = macs = 0
    for name, layer in zip(net._layer_names, net.layers):
        if layer.type not in LEARNED_BLOBS:
            continue
        blobs = list(layer.blobs)[:LEARNED_BLOBS[layer.type]]
        params += sum(b.count for b in blobs)
        if layer.type == "Scale":
            continue
        weights = blobs[0].data.shape
        top = net.top_names[name][0]
        out = net.blobs[top].data.shape
        if layer.type == "InnerProduct":
            macs += weights[0] * weights[1]
        elif layer.type == "Convolution":
            macs += int(out[1] * out[2] * out[3]) * int(weights[1] * weights[2] * weights[3])
        else:  # Region: P patches of C x C x K x K weights, each over its own pixels: H*W*C*C*K*K in all
            _, c, h, w = out
            macs += int(h * w) * int(c * weights[2] * weights[3] * weights[4])
    return params, macs, net.blobs["data"].data.shape[-1]


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prototxt-dir", default=str(REPO / "prototxt"), help="where the deploy prototxts are")
    ap.add_argument("--only", type=lambda s: s.split(","), default=list(methods.PAPER_KEYS),
                    help="comma-separated methods (default: every method without the _py twins)")
    opts = ap.parse_args(argv)
    print("| method | input | parameters | multiply-adds |\n|---|---|---:|---:|")
    for method in opts.only:
        path = Path(opts.prototxt_dir) / f"{method}_deploy.prototxt"
        if not path.exists():
            raise InputError(path, "not found; run au-prototxt first")
        check_loads(path)
        params, macs, size = net_size(path)
        print(f"| {method} | {size}x{size} | {params:,} | {macs / 1e9:.3f} G |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
