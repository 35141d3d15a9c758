"""Builds synthau, the built-in dataset: procedural faces with known AU labels at the paper's imbalance.

  au-build-synthau                      # the default: data/synthau
  au-build-synthau --aus 1 --imbalance 10 --out data/synthau_au1_np10   # Fig. 5
"""
import argparse
import math
import sys

from data_prep import synthau, synthau_labels
from data_prep.pipeline import SPLITS, Build, Task, add_common_args
from dscmr.aus import parse_au_list
from dscmr.errors import cli
from dscmr.paper import EMOTIONET_AUS, FIG5_TRAIN_NP, TABLE2_TRAIN_NP, TABLE4_TEST_NP, TABLE4_VAL_NP

PROG = "au-build-synthau"
GENERATOR_VERSION = 1
SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
IDENTITY_BLOCK = 10_000_000   # identity ids of split s are SPLIT_CODE[s] * IDENTITY_BLOCK + j


def parse_aus(text):
    aus = parse_au_list(text)
    if any(a not in EMOTIONET_AUS for a in aus):
        raise argparse.ArgumentTypeError(
            f"--aus: synthau renders the 11 EmotioNet AUs {','.join(map(str, EMOTIONET_AUS))}, once each; got {text!r}")
    return tuple(a for a in EMOTIONET_AUS if a in aus)


def parse_imbalance(text):
    if text in ("paper", "balanced"):
        return text
    try:
        r = float(text)
    except ValueError:
        r = -1.0
    if not r > 0 or math.isinf(r):
        raise argparse.ArgumentTypeError(f"--imbalance wants paper, balanced or a positive N:P ratio; got {text!r}")
    return r


def split_ratios(imbalance, aus):
    """N:P per AU for each split."""
    if imbalance == "paper":
        tables = {"train": TABLE2_TRAIN_NP, "val": TABLE4_VAL_NP, "test": TABLE4_TEST_NP}
        return {s: {a: tables[s][a] for a in aus} for s in SPLITS}
    if imbalance == "balanced":
        return {s: {a: 1.0 for a in aus} for s in SPLITS}
    return {"train": {a: imbalance for a in aus}, "val": {a: 1.0 for a in aus}, "test": {a: 1.0 for a in aus}}


def parser():
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__ + """
Each image is a procedurally drawn face whose geometry follows its labels (AU1 raises the inner
brows, AU12 pulls the lip corners up and out, ...; docs/data.md lists all 11). Identities (face
shape, skin, hair, accessories) are disjoint between train, val and test; pose, lighting, blur,
noise and background vary per image. The faces emit 68 landmarks and are aligned exactly like real
data. The same seed gives the same dataset, byte for byte, whatever --jobs.

Imbalance (N:P = negatives per positive, per AU; the positive count is exact):
  paper     train at Table 2's N:P ({lo:g} for AU{lo_au} ... {hi:g} for AU{hi_au}); val and test
            at Table 4's validation and test columns
  balanced  N:P 1 everywhere
  R         train at N:P R for every AU; val and test balanced (Fig. 5's protocol: "the number of
            positive samples is the same as the number of negative samples in testing sets")
""".format(lo=min(TABLE2_TRAIN_NP.values()), lo_au=min(TABLE2_TRAIN_NP, key=TABLE2_TRAIN_NP.get),
           hi=max(TABLE2_TRAIN_NP.values()), hi_au=max(TABLE2_TRAIN_NP, key=TABLE2_TRAIN_NP.get)),
        epilog=f"""output: <out>/manifest.json; <out>/<split>/images and /labels (LMDB), index.tsv
(key, source, labels), and <out>/skipped.tsv. Fig. 5's ratios are {', '.join(map(str, FIG5_TRAIN_NP))}.""")
    p.add_argument("--aus", type=parse_aus, default=EMOTIONET_AUS,
                   help="AUs to label, a subset of the 11 EmotioNet AUs (default: all 11)")
    p.add_argument("--imbalance", type=parse_imbalance, default="paper",
                   help="paper | balanced | a N:P ratio for train (default: paper)")
    p.add_argument("--train", type=int, default=4000, help="train images before --mirror (default: %(default)s)")
    p.add_argument("--val", type=int, default=500, help="val images (default: %(default)s)")
    p.add_argument("--test", type=int, default=1000, help="test images (default: %(default)s)")
    p.add_argument("--images-per-identity", type=int, default=8, metavar="K",
                   help="images per identity, on average (default: %(default)s)")
    add_common_args(p, "data/synthau")
    return p


def tasks(args, labels, ratios):
    for s in SPLITS:
        n = labels[s].shape[0]
        n_ids = max(1, math.ceil(n / args.images_per_identity))
        for i in range(n):
            ident = SPLIT_CODE[s] * IDENTITY_BLOCK + i % n_ids
            active = tuple(a for a, v in zip(args.aus, labels[s][i]) if v == 1)
            yield Task(s, (args.seed, SPLIT_CODE[s], i, ident, active), labels[s][i],
                       f"synthau:{s}:{i}:identity{ident}")


@cli(PROG)
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    sizes = {"train": args.train, "val": args.val, "test": args.test}
    for s, n in sizes.items():
        if n < 1 or n >= IDENTITY_BLOCK:
            parser().error(f"--{s} must be between 1 and {IDENTITY_BLOCK - 1}")
    if args.images_per_identity < 1:
        parser().error("--images-per-identity must be at least 1")
    config = {"builder": "synthau", "generator": GENERATOR_VERSION, "aus": args.aus,
              "imbalance": args.imbalance, "sizes": sizes, "images_per_identity": args.images_per_identity,
              "seed": args.seed, "encode": args.encode, "jpeg_quality": args.jpeg_quality, "mirror": args.mirror}
    with Build(args, "synthau", config, PROG, argv) as build:
        if build.up_to_date:
            print(f"synthau: {args.out} is up to date (same configuration; --force rebuilds)")
            return 0
        import numpy as np
        ratios = split_ratios(args.imbalance, args.aus)
        labels = {s: synthau_labels.sample_labels(sizes[s], args.aus, ratios[s],
                                                  np.random.default_rng([args.seed, SPLIT_CODE[s], 0x1AB]))
                  for s in SPLITS}
        requested = {s: {f"AU{a}": r for a, r in ratios[s].items()} for s in SPLITS}
        build.write(args.aus, sizes, tasks(args, labels, ratios), synthau.render_sample,
                    source="synthau: procedural faces (data_prep/synthau.py), generator version "
                           f"{GENERATOR_VERSION}", extra={"requested_np_ratio": requested})
    return 0


if __name__ == "__main__":
    sys.exit(main())
