"""Builds a dataset from any labelled image list: a CSV of paths, AU labels and optional landmarks.

  au-build-csv --csv my_faces.csv --out data/my_faces
"""
import argparse
import re
import sys
from pathlib import Path

import numpy as np

from data_prep import tables
from data_prep.faces import worker
from data_prep.pipeline import SPLITS, Build, add_common_args, parse_split_fractions, split_of
from data_prep.tables import Row, RowError
from dscmr.aus import au_number, parse_au_list
from dscmr.errors import InputError, cli
from dscmr.paper import IGNORE_LABEL

PROG = "au-build-csv"
LANDMARK = re.compile(r"^([xy])(\d+)$")


def parser():
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__ + f"""
The CSV has a header row. Columns (any order):
  path              the image file, absolute or relative to --root (default: the CSV's directory)
  AU<k>             one per AU: 0, 1 or {IGNORE_LABEL} (not annotated: the nets ignore it)
  x0..x4, y0..y4    optional: 5 landmarks in pixels: eye centre (image left), eye centre (image
                    right), nose tip, mouth corner (image left), mouth corner (image right)
  x0..x67, y0..y67  optional instead: the 68 iBUG landmarks (CK+'s and dlib's order)
  split             optional: train, val or test
  subject           optional: rows of one subject go to the same split
Rows without landmarks are detected and aligned by dlib. Without a split column the split is a
seeded hash of the subject (or of the path): the fractions are met on average.
Bad rows are listed in <out>/skipped.tsv with the file and line (--strict makes them fatal).

example:
  path,subject,AU1,AU2,AU12
  faces/a.jpg,s01,1,0,999
  faces/b.jpg,s02,0,0,1""")
    p.add_argument("--csv", type=Path, required=True, help="the CSV file")
    p.add_argument("--root", type=Path, default=None, help="directory relative paths start from (default: the CSV's)")
    p.add_argument("--aus", type=parse_au_list, default=None,
                   help="AUs to keep, in this order (default: every AU column, in the CSV's order)")
    p.add_argument("--split", type=parse_split_fractions, default=(0.8, 0.1, 0.1),
                   help="train,val,test fractions when there is no split column (default: 80,10,10)")
    p.add_argument("--name", default=None, help="dataset name in the manifest (default: --out's name)")
    worker.add_detector_args(p)
    add_common_args(p, "data/custom")
    return p


class Header:
    """Column positions of a generic CSV's header (line 1)."""

    def __init__(self, path, fields, wanted_aus):
        col = {name.lower(): i for i, name in enumerate(fields)}
        if "path" not in col:
            raise InputError(path, "the header has no 'path' column", line=1)
        self.path, self.n = col["path"], len(fields)
        self.split, self.subject = col.get("split"), col.get("subject")
        au_cols, xs, ys = {}, {}, {}
        for i, name in enumerate(fields):
            m = LANDMARK.match(name.lower())
            if m:
                (xs if m.group(1) == "x" else ys)[int(m.group(2))] = i
            elif name.upper().startswith("AU") and au_number(name) is not None:
                au_cols[au_number(name)] = i
        if not au_cols:
            raise InputError(path, "the header has no AU columns (named like AU12)", line=1)
        self.aus = tuple(wanted_aus) if wanted_aus else tuple(au_cols)
        missing = [a for a in self.aus if a not in au_cols]
        if missing:
            raise InputError(path, f"the header has no column for AU{', AU'.join(map(str, missing))}", line=1)
        self.au_cols = [au_cols[a] for a in self.aus]
        self.landmarks = None
        if xs or ys:
            n = len(xs)
            if sorted(xs) != list(range(n)) or sorted(ys) != list(range(len(ys))) or len(ys) != n:
                raise InputError(path, f"landmark columns must be x0..x(n-1) and y0..y(n-1); got "
                                       f"{len(xs)} x and {len(ys)} y columns", line=1)
            if n not in (5, 68):
                raise InputError(path, f"{n} landmark columns per axis; expected 5 (eyes, nose tip, "
                                       f"mouth corners) or 68 (iBUG)", line=1)
            self.landmarks = [(xs[k], ys[k]) for k in range(n)]


def make_parser(args, h, root):
    def parse(fields):
        if len(fields) != h.n:
            raise RowError(f"has {len(fields)} fields, the header has {h.n}")
        rel = fields[h.path]
        if not rel:
            raise RowError("empty path")
        image = Path(rel) if Path(rel).is_absolute() else root / rel
        labels = np.array([tables.parse_label(fields[i], f"AU{a}") for a, i in zip(h.aus, h.au_cols)], np.float32)
        landmarks = None
        if h.landmarks:
            values = [(fields[i], fields[j]) for i, j in h.landmarks]
            given = sum(bool(x) and bool(y) for x, y in values)
            if given == 0:
                landmarks = None
            elif given != len(values):
                raise RowError(f"has {given} of {len(values)} landmarks; give all or none")
            else:
                try:
                    landmarks = np.array([[float(x), float(y)] for x, y in values])
                except ValueError:
                    raise RowError("a landmark coordinate is not a number")
        if h.split is not None:
            split = fields[h.split].lower()
            if split not in SPLITS:
                raise RowError(f"split is {fields[h.split]!r}; expected train, val or test")
        else:
            group = fields[h.subject] if h.subject is not None else str(image)
            split = split_of(args.seed, group, args.split)
        return Row(split, str(image), labels, landmarks)
    return parse


@cli(PROG)
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    if not args.csv.is_file():
        raise InputError(args.csv, "CSV file not found")
    delimiter = tables.sniff_delimiter(args.csv)
    first = next(tables.read_rows(args.csv, delimiter), None)
    if first is None:
        raise InputError(args.csv, "the CSV is empty")
    if first[0] != 1:
        raise InputError(args.csv, "the header must be on line 1", line=first[0])
    h = Header(args.csv, first[1], args.aus)
    root = args.root or args.csv.parent
    name = args.name or args.out.name
    config = {"builder": "csv", "csv": str(args.csv.resolve()), "root": str(root.resolve()), "aus": h.aus,
              "split": args.split, "seed": args.seed, "landmarker": args.landmarker, "upsample": args.upsample,
              "encode": args.encode, "jpeg_quality": args.jpeg_quality, "mirror": args.mirror, "name": name}
    with Build(args, name, config, PROG, argv) as build:
        if build.up_to_date:
            print(f"{name}: {args.out} is up to date (same configuration; --force rebuilds)")
            return 0
        parse = make_parser(args, h, root)
        counts, bad = tables.plan(args.csv, delimiter, 2, parse, build.report)
        build.write(h.aus, dict(counts), tables.tasks(args.csv, delimiter, 2, parse, bad),
                    worker.load_face, worker.init, (args.landmarker, args.upsample),
                    source=f"CSV: {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
