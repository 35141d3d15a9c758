"""Evaluates a trained net with the paper's metrics (Sec. 3.1): per-AU F1 and AUC, their means, and
the N:P of each AU. Labels equal to 999 are left out of their AU's metrics.

--model is either
  a train_val prototxt: run in the TEST phase with its Data layers pointed at --data's --split, so
    images are transformed exactly as in training's tests (mean, crop); the logits are the loss
    layer's first bottom, and probabilities their sigmoid; or
  a deploy prototxt (an Input blob, probabilities out): fed --data's --split, or the aligned faces
    of an --images list, minus --mean and centre-cropped to its input size.
An --images list has one face a line: a path (relative to the list), then one label per AU of --aus
(0, 1 or 999), separated by spaces or commas; '#' starts a comment.

Writes <out>.md (a table in the paper's layout), <out>.csv, <out>.json and <out>.npz
(probabilities and labels, which --predictions reads back without Caffe).

Examples:
  au-evaluate --model prototxt/ldscmr_train_val.prototxt \\
      --weights runs/ldscmr_iter_6000.caffemodel --data data/synthau --split test --out runs/ldscmr_test
  au-evaluate --model prototxt/ldscmr_deploy.prototxt \\
      --weights runs/ldscmr_iter_6000.caffemodel --images faces.txt --aus 1,2,4 --out runs/ldscmr_faces
  au-evaluate --predictions runs/ldscmr_test.npz --threshold 0.4 --out runs/ldscmr_t04
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from data_prep.lmdb_io import check_split, iter_split, open_readonly
from dscmr.aus import parse_au_list
from dscmr.caffe_home import caffe_pb2
from dscmr.dataset import read_manifest
from dscmr.errors import InputError, RunError, cli
from dscmr.files import replacing, write_atomically
from dscmr.methods import DEFAULT_MEAN_BGR
from dscmr.paper import IGNORE_LABEL
from tools.evaluation.metrics import mean_metrics, per_au_metrics
from tools.nets.caffe_files import load_net, read_net, without_random_init, written

PROG = "au-evaluate"
# py-lmdb refuses to open an environment a second time in one process, as two threads evaluating
# snapshots of one run would (tools/experiments/training_run.py, GPU_EVALUATIONS_AT_ONCE).
LMDB_OPEN = threading.Lock()


def split_size(split_dir):
    """The samples of a split, once both its LMDBs are whole (lmdb_io.check_split): Caffe maps them next."""
    labels = Path(split_dir) / "labels"
    if not labels.is_dir():
        raise InputError(labels, "not found (expected an LMDB split written by data_prep)")
    check_split(split_dir)
    with LMDB_OPEN, open_readonly(labels) as env:
        return env.stat()["entries"]


def is_deploy(net_param):
    return not any(layer.type == "Data" for layer in net_param.layer)


def split_net(model, split_dir, batch_size):
    """(NetParameter, logits blob, label blob): a train_val net whose TEST-phase Data layers read
    split_dir in batches of batch_size; the logits are the first bottom of its layer named 'loss'."""
    net_param = read_net(model)
    for layer in net_param.layer:
        if layer.type == "Data" and any(rule.phase == caffe_pb2().TEST for rule in layer.include):
            kind = Path(layer.data_param.source).name  # images or labels
            layer.data_param.source = str(Path(split_dir) / kind)
            layer.data_param.batch_size = batch_size
    loss = [layer for layer in net_param.layer if layer.name == "loss"]
    if not loss:
        raise InputError(model, "has no layer named 'loss' whose first bottom is the logits")
    return net_param, loss[0].bottom[0], loss[0].bottom[1]


def predict(model, weights, split_dir, batch_size, probe=True):
    """(probabilities, labels), N x n, of every sample of the split, in LMDB order, through a
    train_val net's TEST phase; probe as caffe_files.load_net's."""
    return predict_splits(model, weights, [split_dir], batch_size, probe)[0]


def predict_splits(model, weights, split_dirs, batch_size, probe=True):
    """[predict's (probabilities, labels)] of each split. The weights are read once: the nets of the
    other splits share the first one's (reading AlexNet's 227 MB again took 0.6 s a split)."""
    results, first = [], None
    for split_dir in split_dirs:
        n = split_size(split_dir)    # the split is whole before Caffe maps it
        net_param, logits_blob, label_blob = split_net(model, split_dir, batch_size)
        if first is None:
            net = first = load_net(net_param, weights, shown_as=model, probe=probe)
        else:
            net = load_net(net_param, shown_as=model, probe=False, shares=first)
        probs, labels = [], []
        for _ in range(-(-n // batch_size)):
            net.forward()
            probs.append(1 / (1 + np.exp(-net.blobs[logits_blob].data.astype(np.float64))))
            labels.append(net.blobs[label_blob].data.copy())
        results.append((np.concatenate(probs)[:n], np.concatenate(labels)[:n]))
    return results


# `caffe test` logs every element of the net's outputs, batch by batch ("Batch 3, name = value"):
# with the logits and labels made outputs, that log is the predictions, and no pycaffe is needed (a
# machine where only the caffe binary runs: docs/gpu.md).
OUTPUT_ELEMENT = re.compile(r"\] Batch (\d+), (\w+) = (\S+)$")
LOGITS_OUT, LABELS_OUT = "evaluated_logits", "evaluated_labels"


def predict_by_caffe_test(model, weights, split_dir, batch_size, caffe, gpu=None):
    """predict's (probabilities, labels) through the `caffe` binary's test command (on GPU `gpu` if
    given). glog prints 6 significant digits: the logits are read to that precision, the labels exactly."""
    net_param, logits_blob, label_blob = split_net(model, split_dir, batch_size)
    for blob, out in ((logits_blob, LOGITS_OUT), (label_blob, LABELS_OUT)):
        copy = net_param.layer.add()   # the loss consumes both blobs; an identity Power layer outputs them
        copy.name, copy.type = out, "Power"
        copy.bottom.append(blob)
        copy.top.append(out)
    n = split_size(split_dir)
    path = written(without_random_init(net_param))
    cmd = [str(caffe), "test", "-model", path, "-weights", str(weights), "-iterations", str(-(-n // batch_size))]
    try:
        done = subprocess.run(cmd + (["-gpu", str(gpu)] if gpu is not None else []), capture_output=True,
                              text=True, errors="replace", env=dict(os.environ, GLOG_minloglevel="0", GLOG_logtostderr="1"))
    finally:
        os.unlink(path)
    values = {LOGITS_OUT: [], LABELS_OUT: []}
    for line in done.stderr.splitlines():
        if (m := OUTPUT_ELEMENT.search(line)) and m.group(2) in values:
            values[m.group(2)].append(float(m.group(3)))
    if done.returncode != 0 or not values[LOGITS_OUT]:
        tail = "\n".join(done.stderr.splitlines()[-5:])
        raise RunError(f"caffe test of {weights} on {split_dir} exited with status {done.returncode}:\n{tail}")
    logits = np.array(values[LOGITS_OUT]).reshape(-(-n // batch_size) * batch_size, -1)
    labels = np.array(values[LABELS_OUT], np.float32).reshape(logits.shape)
    return (1 / (1 + np.exp(-logits)))[:n], labels[:n]


def split_samples(split_dir):
    """(image, labels) of every sample of an LMDB split, in key order, one at a time."""
    split_size(split_dir)
    try:
        for _, image, labels in iter_split(Path(split_dir)):
            yield image, labels
    except ValueError as e:
        raise InputError(split_dir, str(e)) from None


def list_samples(path, n_aus):
    """(image, labels) of every line of an image list (see --help), in order."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "not found (expected a list of aligned faces and their labels)")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise InputError(path, "is a binary file, not a list of aligned faces and their labels") from None
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#")[0].replace(",", " ").split()
        if not fields:
            continue
        if len(fields) != 1 + n_aus:
            raise InputError(path, f"wants a path and {n_aus} labels (one per --aus), got {len(fields) - 1}", number)
        try:
            labels = np.array([float(v) for v in fields[1:]], np.float32)
        except ValueError:
            raise InputError(path, f"labels must be numbers, got {' '.join(fields[1:])!r}", number) from None
        bad = [v for v in labels if v not in (0, 1, IGNORE_LABEL)]
        if bad:
            raise InputError(path, f"label {bad[0]:g} is not 0, 1 or {IGNORE_LABEL}", number)
        image_path = (path.parent / fields[0])
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(path, f"cannot read the image {image_path}", number)
        yield image, labels


def predict_deploy(model, weights, samples, mean, batch_size):
    """(probabilities, labels) of (image, labels) samples through a deploy net: BGR, minus mean,
    centre-cropped to the net's input size; its first output is taken as the probabilities."""
    net = load_net(model, weights)
    data, out = net.inputs[0], net.outputs[0]
    size = net.blobs[data].data.shape[2:]
    probs, labels, batch = [], [], []

    def flush():
        net.blobs[data].reshape(len(batch), 3, *size)
        net.blobs[data].data[...] = np.stack(batch)
        probs.append(net.forward()[out].reshape(len(batch), -1).astype(np.float64))
        batch.clear()

    for image, label in samples:
        h, w = image.shape[:2]
        if h < size[0] or w < size[1]:
            raise InputError(f"face {len(labels) + 1}", f"is {w} x {h}, smaller than the net's input "
                             f"{size[1]} x {size[0]}; align faces with data_prep first")
        top, left = (h - size[0]) // 2, (w - size[1]) // 2
        crop = image[top:top + size[0], left:left + size[1]].astype(np.float32)
        batch.append(crop.transpose(2, 0, 1) - np.asarray(mean, np.float32)[:, None, None])
        labels.append(label)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not labels:
        raise InputError(model, "no face to evaluate")
    return np.concatenate(probs), np.stack(labels)


def load_predictions(path):
    """(probabilities, labels, aus) of an .npz this tool wrote, checked."""
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "not found (expected an .npz written by au-evaluate)")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in ("probs", "labels", "aus") if k in saved.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise InputError(path, "is not an .npz written by au-evaluate") from None
    missing = [k for k in ("probs", "labels", "aus") if k not in arrays]
    if missing:
        raise InputError(path, f"lacks the array(s) {', '.join(missing)}: not an .npz written by au-evaluate")
    aus = tuple(int(a) for a in arrays["aus"].ravel())
    try:
        per_au_metrics(arrays["probs"], arrays["labels"], aus)
    except ValueError as e:
        raise InputError(path, str(e)) from None
    return arrays["probs"], arrays["labels"], aus


def markdown(rows, means, title):
    lines = [f"### {title}", "", "| AU | F1-score (%) | AUC (%) | accuracy (%) | test N:P |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['au']} | {r['f1']:.2f} | {r['auc']:.2f} | {r['accuracy']:.2f} | {r['np_ratio']:.2f} |")
    lines.append(f"| mean | {means['f1']:.2f} | {means['auc']:.2f} | {means['accuracy']:.2f} | |")
    return "\n".join(lines) + "\n"


@cli(PROG)
def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="the method's train_val or deploy prototxt")
    ap.add_argument("--weights", help="a .caffemodel")
    ap.add_argument("--data", help="a dataset directory written by data_prep (holds manifest.json)")
    ap.add_argument("--split", default="test", help="which split to evaluate (default: test)")
    ap.add_argument("--images", help="with a deploy --model: a list of aligned faces and their labels (see above)")
    ap.add_argument("--aus", type=parse_au_list, help="with --images: the AUs of its label columns, e.g. 1,2,4")
    ap.add_argument("--mean", type=float, nargs=3, default=DEFAULT_MEAN_BGR, metavar=("B", "G", "R"),
                    help="with a deploy --model: the mean the net was trained with (default: 104 117 123)")
    ap.add_argument("--predictions", help="an .npz this tool wrote: recompute the metrics without Caffe")
    ap.add_argument("--threshold", type=float, default=0.5, help="F1 decision threshold on the sigmoid (default: 0.5)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", required=True, help="output prefix: writes .md, .csv, .json and .npz")
    opts = ap.parse_args(argv)

    if opts.predictions:
        probs, labels, aus = load_predictions(opts.predictions)
        title = f"{opts.predictions}"
    else:
        missing = [name for name in ("model", "weights") if not getattr(opts, name)]
        if missing or bool(opts.data) == bool(opts.images):
            ap.error("without --predictions, give --model, --weights and one of --data or --images")
        deploy = is_deploy(read_net(opts.model))
        if opts.images:
            if not deploy or not opts.aus:
                ap.error("--images needs a deploy --model and --aus")
            aus, samples, source = opts.aus, list_samples(opts.images, len(opts.aus)), opts.images
        else:
            aus = tuple(read_manifest(opts.data)["aus"])
            samples, source = split_samples(Path(opts.data) / opts.split), f"{opts.data}/{opts.split}"
        if deploy:
            probs, labels = predict_deploy(opts.model, opts.weights, samples, opts.mean, opts.batch_size)
        else:
            probs, labels = predict(opts.model, opts.weights, Path(opts.data) / opts.split, opts.batch_size)
        if probs.shape[1] != len(aus):
            raise InputError(opts.model, f"gives {probs.shape[1]} outputs, but {source} has {len(aus)} AUs")
        title = f"{Path(opts.model).stem} ({Path(opts.weights).name}) on {source}"
    rows = per_au_metrics(probs, labels, aus, threshold=opts.threshold)
    means = mean_metrics(rows)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, means, title)
    write_atomically(out.with_suffix(".md"), table)
    write_atomically(out.with_suffix(".json"), json.dumps(
        {"source": title, "threshold": opts.threshold, "per_au": rows, "mean": means}, indent=1, default=float))
    with replacing(out.with_suffix(".csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if not opts.predictions:
        with replacing(out.with_suffix(".npz")) as tmp:
            np.savez(tmp, probs=probs, labels=labels, aus=np.array(aus))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
