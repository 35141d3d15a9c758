"""Builds an EmotioNet dataset: detect, align and store the faces of a label file's images.

  au-build-emotionet --labels emotionet_labels.csv --images emotionet_images/

EmotioNet cannot ship (its licence); bring your copy: a label file and a directory of the images.
"""
import argparse
import os
import sys
import urllib.parse
from pathlib import Path

import numpy as np

from data_prep import tables
from data_prep.faces import worker
from data_prep.pipeline import Build, add_common_args, parse_split_fractions, split_of
from data_prep.tables import Row, RowError
from dscmr.aus import au_number, parse_au_list
from dscmr.errors import InputError, cli
from dscmr.paper import EMOTIONET_AUS, IGNORE_LABEL

PROG = "au-build-emotionet"


def parser():
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__ + f"""
The label file (comma- or tab-separated): one row per image, the image's name or URL first, then
AU columns holding 0 (absent), 1 (present) or {IGNORE_LABEL} (not annotated: the nets ignore it).
With a header row (AU columns named AU1 or 1, ...) the columns are found by name; without one,
--columns gives the AUs of the columns after the first (default: the paper's 11 AUs in order).
A URL maps to the file named by its last path component inside --images.

Each image goes to dlib's HOG detector; the largest face's landmarks give the similarity alignment
to the 224 x 224 template. Missing, unreadable and faceless images, bad label values and duplicate
rows are listed in <out>/skipped.tsv with the file and line (--strict makes any of them fatal).
The split is by a seeded hash of the image name (the fractions are met on average).""",
        epilog=f"AUs (Sec. 3.1): {', '.join(map(str, EMOTIONET_AUS))}.")
    p.add_argument("--labels", type=Path, required=True, help="the label file")
    p.add_argument("--images", type=Path, required=True, help="directory holding the images")
    p.add_argument("--aus", type=parse_au_list, default=EMOTIONET_AUS,
                   help="AUs to keep, in this order (default: the paper's 11)")
    p.add_argument("--columns", type=parse_au_list, default=None,
                   help="AUs of the columns after the first, for a label file without a header "
                        "(default: the paper's 11 in order)")
    p.add_argument("--split", type=parse_split_fractions, default=(0.8, 0.1, 0.1),
                   help="train,val,test fractions (default: 80,10,10)")
    worker.add_detector_args(p)
    add_common_args(p, "data/emotionet")
    return p


def image_name(field):
    """The file name of an image given by name, relative path or URL."""
    if "://" in field:
        return urllib.parse.unquote(os.path.basename(urllib.parse.urlparse(field).path))
    return field


def header_columns(path, delimiter, args):
    """(first data line, {AU: column index}, fields per row) from the header, or from --columns
    without one."""
    first = next(tables.read_rows(path, delimiter), None)
    if first is None:
        raise InputError(path, "the label file is empty")
    line, fields = first
    values = fields[1:]
    is_header = sum(_not_number(v) for v in values) * 2 >= len(values)
    if is_header:
        cols = {}
        for i, name in enumerate(values, start=1):
            au = au_number(name)
            if au is None:
                raise InputError(path, f"header column {i + 1} {name!r} is not an AU name (like AU12)", line)
            cols[au] = i
        missing = [a for a in args.aus if a not in cols]
        if missing:
            raise InputError(path, f"the header has no column for AU{', AU'.join(map(str, missing))}", line)
        return line + 1, {a: cols[a] for a in args.aus}, len(fields)
    columns = args.columns or EMOTIONET_AUS
    missing = [a for a in args.aus if a not in columns]
    if missing:
        raise InputError(path, f"no header, and --columns ({','.join(map(str, columns))}) lacks "
                               f"AU{', AU'.join(map(str, missing))}", line)
    return line, {a: columns.index(a) + 1 for a in args.aus}, len(columns) + 1


def _not_number(text):
    try:
        float(text)
        return False
    except ValueError:
        return True


def make_parser(args, cols, n_fields):
    def parse(fields):
        if len(fields) != n_fields:
            raise RowError(f"has {len(fields)} fields, expected {n_fields}")
        name = image_name(fields[0])
        if not name:
            raise RowError(f"no image name in {fields[0]!r}")
        labels = np.array([tables.parse_label(fields[i], f"AU{a}") for a, i in cols.items()], np.float32)
        return Row(split_of(args.seed, name, args.split), str(args.images / name), labels)
    return parse


@cli(PROG)
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    if not args.labels.is_file():
        raise InputError(args.labels, "label file not found")
    if not args.images.is_dir():
        raise InputError(args.images, "image directory not found")
    if next(os.scandir(args.images), None) is None:
        raise InputError(args.images, "the image directory is empty")
    delimiter = tables.sniff_delimiter(args.labels)
    first, cols, n_fields = header_columns(args.labels, delimiter, args)
    config = {"builder": "emotionet", "labels": str(args.labels.resolve()), "images": str(args.images.resolve()),
              "aus": args.aus, "columns": args.columns, "split": args.split, "seed": args.seed,
              "landmarker": args.landmarker, "upsample": args.upsample, "encode": args.encode,
              "jpeg_quality": args.jpeg_quality, "mirror": args.mirror}
    with Build(args, "emotionet", config, PROG, argv) as build:
        if build.up_to_date:
            print(f"emotionet: {args.out} is up to date (same configuration; --force rebuilds)")
            return 0
        parse = make_parser(args, cols, n_fields)
        counts, bad = tables.plan(args.labels, delimiter, first, parse, build.report)
        build.write(args.aus, dict(counts), tables.tasks(args.labels, delimiter, first, parse, bad),
                    worker.load_face, worker.init, (args.landmarker, args.upsample),
                    source=f"EmotioNet: {args.labels} with images in {args.images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
