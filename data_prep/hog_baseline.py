"""How hard is a dataset? A linear baseline: per-AU F1 of logistic regression on HOG features.

  au-hog-baseline data/synthau

Trains one classifier per AU (balanced class weights; ignore-labelled samples left out) on the
train split and scores F1 on the test split. It is a floor for the nets, not the paper's method.
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from data_prep.lmdb_io import read_split
from dscmr.dataset import read_manifest
from dscmr.errors import cli
from dscmr.paper import IGNORE_LABEL

PROG = "au-hog-baseline"


def features(image_bgr):
    """HOG (9 orientations, 16 x 16 cells, 2 x 2 blocks) of the 112 x 112 grey image."""
    from skimage.feature import hog
    grey = cv2.cvtColor(cv2.resize(image_bgr, (112, 112), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    return hog(grey, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2)).astype(np.float32)


def split_features(split_dir):
    rows = read_split(split_dir)
    return np.array([features(img) for _, img, _ in rows]), np.array([lab for _, _, lab in rows])


def f1_per_au(train, test, c=0.05):
    """[F1 or None] per AU column: None where train or test lacks a positive or a negative."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    (xtr, ytr), (xte, yte) = train, test
    out = []
    for j in range(ytr.shape[1]):
        tr, te = ytr[:, j] != IGNORE_LABEL, yte[:, j] != IGNORE_LABEL
        if len(set(ytr[tr, j])) < 2 or len(set(yte[te, j])) < 2:
            out.append(None)
            continue
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=500).fit(xtr[tr], ytr[tr, j])
        out.append(float(f1_score(yte[te, j], clf.predict(xte[te]))))
    return out


@cli(PROG)
def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", type=Path, help="a dataset directory (with manifest.json)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    manifest = read_manifest(args.dataset)
    scores = f1_per_au(split_features(args.dataset / "train"), split_features(args.dataset / "test"))
    for name, f in zip(manifest["labels"], scores):
        print(f"{name:>5}  F1 {'-' if f is None else format(100 * f, '5.1f')}")
    known = [f for f in scores if f is not None]
    print(f" mean  F1 {100 * np.mean(known):5.1f}" if known else " mean  F1 -")
    return 0


if __name__ == "__main__":
    sys.exit(main())
