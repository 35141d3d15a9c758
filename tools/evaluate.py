"""Evaluates a trained net on an LMDB split with the paper's metrics (Sec. 3.1): per-AU F1 and AUC.

It runs the net's own train_val prototxt in the TEST phase, with its Data layers pointed at the
split to evaluate, so images are transformed exactly as in training's tests (mean, crop). The
logits are the loss layer's first bottom; probabilities are their sigmoid. Labels equal to 999
are left out of their AU's metrics. Writes <out>.md (a table in the paper's layout), <out>.csv,
<out>.json and <out>.npz (probabilities and labels, which --predictions reads back without Caffe).

Examples:
  python tools/evaluate.py --model prototxt/ldscmr_train_val.prototxt \\
      --weights runs/ldscmr_iter_6000.caffemodel --data data/synthau --split test --out runs/ldscmr_test
  python tools/evaluate.py --predictions runs/ldscmr_test.npz --threshold 0.4 --out runs/ldscmr_t04
"""
import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools.metrics import mean_metrics, per_au_metrics  # noqa: E402


def split_size(split_dir):
    import lmdb
    labels = Path(split_dir) / "labels"
    if not labels.is_dir():
        sys.exit(f"evaluate: {labels} does not exist (expected an LMDB written by data_prep)")
    with lmdb.open(str(labels), readonly=True, lock=False) as env:
        return env.stat()["entries"]


def predict(model, weights, split_dir, batch_size):
    """(probabilities, labels), N x n, of every sample of the split, in LMDB order."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe
    from google.protobuf import text_format

    net_param = caffe.proto.caffe_pb2.NetParameter()
    text_format.Merge(Path(model).read_text(), net_param)
    for layer in net_param.layer:
        if layer.type == "Data" and any(rule.phase == caffe.TEST for rule in layer.include):
            kind = Path(layer.data_param.source).name  # images or labels
            layer.data_param.source = str(Path(split_dir) / kind)
            layer.data_param.batch_size = batch_size
    loss = [layer for layer in net_param.layer if layer.name == "loss"]
    if not loss:
        sys.exit(f"evaluate: {model} has no layer named 'loss' whose first bottom is the logits")
    logits_blob, label_blob = loss[0].bottom[0], loss[0].bottom[1]
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text_format.MessageToString(net_param))
    try:
        net = caffe.Net(f.name, str(weights), caffe.TEST)
    finally:
        os.unlink(f.name)
    n = split_size(split_dir)
    probs, labels = [], []
    for _ in range(-(-n // batch_size)):
        net.forward()
        probs.append(1 / (1 + np.exp(-net.blobs[logits_blob].data.astype(np.float64))))
        labels.append(net.blobs[label_blob].data.copy())
    return np.concatenate(probs)[:n], np.concatenate(labels)[:n]


def markdown(rows, means, title):
    lines = [f"### {title}", "", "| AU | F1-score (%) | AUC (%) | accuracy (%) | test N:P |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['au']} | {r['f1']:.2f} | {r['auc']:.2f} | {r['accuracy']:.2f} | {r['np_ratio']:.2f} |")
    lines.append(f"| mean | {means['f1']:.2f} | {means['auc']:.2f} | {means['accuracy']:.2f} | |")
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="the method's train_val prototxt")
    ap.add_argument("--weights", help="a .caffemodel")
    ap.add_argument("--data", help="a dataset directory written by data_prep (holds manifest.json)")
    ap.add_argument("--split", default="test", help="which split to evaluate (default: test)")
    ap.add_argument("--predictions", help="an .npz this tool wrote: recompute the metrics without Caffe")
    ap.add_argument("--threshold", type=float, default=0.5, help="F1 decision threshold on the sigmoid (default: 0.5)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", required=True, help="output prefix: writes .md, .csv, .json and .npz")
    opts = ap.parse_args(argv)

    if opts.predictions:
        saved = np.load(opts.predictions)
        probs, labels, aus = saved["probs"], saved["labels"], tuple(int(a) for a in saved["aus"])
        title = f"{opts.predictions}"
    else:
        missing = [name for name in ("model", "weights", "data") if not getattr(opts, name)]
        if missing:
            ap.error(f"without --predictions, give --{', --'.join(missing)}")
        for path in (opts.model, opts.weights):
            if not Path(path).is_file():
                sys.exit(f"evaluate: {path} does not exist")
        manifest = Path(opts.data) / "manifest.json"
        if not manifest.is_file():
            sys.exit(f"evaluate: {manifest} does not exist (is {opts.data} a data_prep dataset?)")
        aus = tuple(json.loads(manifest.read_text())["aus"])
        probs, labels = predict(opts.model, opts.weights, Path(opts.data) / opts.split, opts.batch_size)
        title = f"{Path(opts.model).stem} ({Path(opts.weights).name}) on {opts.data}/{opts.split}"
    rows = per_au_metrics(probs, labels, aus, threshold=opts.threshold)
    means = mean_metrics(rows)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, means, title)
    write_atomically(out.with_suffix(".md"), table)
    write_atomically(out.with_suffix(".json"), json.dumps(
        {"source": title, "threshold": opts.threshold, "per_au": rows, "mean": means}, indent=1, default=float))
    with open(str(out) + ".csv.tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    Path(str(out) + ".csv.tmp").replace(out.with_suffix(".csv"))
    if not opts.predictions:
        tmp = Path(str(out) + ".tmp.npz")
        np.savez(tmp, probs=probs, labels=labels, aus=np.array(aus))
        tmp.replace(out.with_suffix(".npz"))
    print(table)


if __name__ == "__main__":
    main()
