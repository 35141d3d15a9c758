"""The model card: what a trained net needs besides its weights to be used on new faces.

`make train` writes it before training starts, beside the snapshots: a solver whose snapshot_prefix
is runs/ldscmr gets runs/ldscmr.model.json, and au-predict finds it from any of that run's
snapshots (runs/ldscmr_iter_6000.caffemodel). It records the AU list (from the dataset's
manifest.json), the alignment template (data_prep/faces/align.py), the preprocessing of the net's input
(the TEST-phase transform_param of its train_val: mean, scale, crop), the deploy prototxt, and the
training data (docs/predict.md, "The model card").

For a net trained by hand (`caffe train -solver S`), write its card the same way:
  au-model-card prototxt/dscmr_solver.prototxt
  au-model-card my_solver.prototxt --deploy my_deploy.prototxt
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from data_prep.faces.align import template
from dscmr.caffe_home import caffe_pb2
from dscmr.dataset import read_manifest
from dscmr.errors import InputError, cli
from dscmr.files import dump_json, write_atomically
from tools.nets.caffe_files import read_net, read_solver

PROG = "au-model-card"

FORMAT = 1
SUFFIX = ".model.json"


class CardError(InputError):
    """A model card cannot be written, found or trusted; the message says why and what to do."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.where = None


def input_blob(deploy):
    """(name, shape) of a deploy net's one input (an Input layer, or the old input/input_shape)."""
    inputs = [(top, list(layer.input_param.shape[0].dim)) for layer in deploy.layer
              if layer.type == "Input" for top in layer.top]
    inputs += [(name, list(shape.dim)) for name, shape in zip(deploy.input, deploy.input_shape)]
    if len(inputs) != 1:
        raise CardError(f"expected a deploy net with one input blob, found {[n for n, _ in inputs] or 'none'}")
    return inputs[0]


def _in_phase(layer, phase):
    return any(rule.phase == phase for rule in layer.include) or not layer.include


def data_layer(train_val, top, phase):
    """The Data layer of the given phase (caffe_pb2.TRAIN or TEST) that feeds blob `top`."""
    layers = [layer for layer in train_val.layer
              if layer.type == "Data" and top in layer.top and _in_phase(layer, phase)]
    if len(layers) != 1:
        raise CardError(f"expected one Data layer with top {top!r} in that phase, found {len(layers)}")
    return layers[0]


def preprocess(layer, aligned_size):
    """The input transform of a Data layer in the TEST phase (Caffe's DataTransformer: centre crop,
    then (pixel - mean) * scale), as a card's "preprocess"."""
    tp = layer.transform_param
    if tp.HasField("mean_file"):
        raise CardError(f"layer {layer.name!r} subtracts a mean_file; the model card supports mean_value only")
    mean = list(tp.mean_value)
    if len(mean) == 1:
        mean *= 3
    if len(mean) not in (0, 3):
        raise CardError(f"layer {layer.name!r} has {len(mean)} mean_values; expected 1 or 3")
    return {"order": "BGR", "aligned_size": aligned_size, "crop": tp.crop_size or None,
            "mean_bgr": mean or [0.0, 0.0, 0.0], "scale": tp.scale}


def deploy_for(train_val_path):
    """The generator's naming: prototxt/M_train_val.prototxt -> prototxt/M_deploy.prototxt."""
    p = Path(train_val_path)
    if "_train_val" not in p.name:
        raise CardError(f"cannot name the deploy net of {p} (not *_train_val*): give --deploy")
    return str(p.with_name(p.name.replace("_train_val", "_deploy")))


def dataset_of(source):
    """The dataset directory of an LMDB source: data/synthau/train/images -> data/synthau."""
    return Path(source).parent.parent


def build(solver_path, deploy_path=None, root=None):
    """The card (a dict) of a solver; relative paths are taken from root (where caffe runs)."""
    root = Path(root or os.getcwd()).resolve()

    def at(path):
        return root / path
    solver = read_solver(at(solver_path))
    if not solver.net:
        raise CardError(f"{solver_path} names no net (net: ...); train_net/test_net solvers are not supported")
    if not solver.snapshot_prefix:
        raise CardError(f"{solver_path} has no snapshot_prefix, so its snapshots have no place for a card")
    deploy_path = deploy_path or deploy_for(solver.net)
    for path in (solver.net, deploy_path):
        if not at(path).is_file():
            raise CardError(f"{at(path)} does not exist")
    pb2 = caffe_pb2()
    train_val, deploy = read_net(at(solver.net)), read_net(at(deploy_path))
    top, shape = input_blob(deploy)
    test_layer = data_layer(train_val, top, pb2.TEST)
    train_layer = data_layer(train_val, top, pb2.TRAIN)
    dataset = dataset_of(test_layer.data_param.source)
    manifest = read_manifest(at(dataset))
    outputs = [layer for layer in deploy.layer if layer.type == "Sigmoid"]
    if not outputs:
        raise CardError(f"{deploy_path} has no Sigmoid layer: au-predict wants probabilities out")
    align = template()
    align["landmarker"] = manifest.get("config", {}).get("landmarker", "dlib68")
    return {
        "format": FORMAT,
        "model": train_val.name,
        "aus": list(manifest["aus"]),
        "labels": [f"AU{a}" for a in manifest["aus"]],
        "root": str(root),
        "solver": str(solver_path),
        "train_val": solver.net,
        "deploy": str(deploy_path),
        "snapshot_prefix": solver.snapshot_prefix,
        "dataset": {"path": str(dataset), "name": manifest.get("dataset"),
                    "train_images": train_layer.data_param.source, "mean_bgr": manifest.get("mean_bgr"),
                    "command": manifest.get("command")},
        "input": {"blob": top, "size": shape[-1]},
        "preprocess": preprocess(test_layer, manifest.get("image", {}).get("height", align["size"])),
        "alignment": align,
        "output": {"blob": outputs[-1].top[0], "activation": "sigmoid"},
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def path_for_prefix(root, snapshot_prefix):
    return Path(root) / (snapshot_prefix + SUFFIX)


def path_for_weights(weights):
    """runs/ldscmr_iter_6000.caffemodel -> runs/ldscmr.model.json (Caffe names snapshots
    <snapshot_prefix>_iter_<N>.caffemodel)."""
    w = Path(weights)
    return w.with_name(re.sub(r"_iter_\d+$", "", w.name.removesuffix(".caffemodel")) + SUFFIX)


def write(solver_path, deploy_path=None, root=None):
    """Writes the solver's card atomically beside its snapshots; returns its path."""
    card = build(solver_path, deploy_path, root)
    out = path_for_prefix(card["root"], card["snapshot_prefix"])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, dump_json(card))
    return out


def load(path):
    path = Path(path)
    if not path.is_file():
        raise CardError(f"no model card {path}: `make train` writes one beside the snapshots; for a net "
                        "trained by hand, run `au-model-card SOLVER`, or give --model-card")
    try:
        card = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CardError(f"{path} is not a model card (not JSON); give the .model.json written by training") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        card = card if isinstance(card, dict) else {}
        raise CardError(f"{path}: model card format {card.get('format')!r}, this code reads format {FORMAT}")
    return card


def resolve(card, path):
    """A path the card records, relative to where training ran (or, if the tree moved, to here)."""
    p = Path(path)
    if p.is_absolute():
        return p
    recorded = Path(card["root"]) / p
    return recorded if recorded.exists() else p


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("solver", help="the solver prototxt training uses (paths in it relative to where caffe runs)")
    ap.add_argument("--deploy", help="the deploy prototxt (default: the solver's net with _train_val -> _deploy)")
    opts = ap.parse_args(argv)
    out = write(opts.solver, opts.deploy)
    card = json.loads(out.read_text())
    print(f"wrote model card {out}: {card['model']}, AUs {','.join(map(str, card['aus']))}, "
          f"data {card['dataset']['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
