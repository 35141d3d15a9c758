"""Builds a CK+ dataset: the labelled peak frame of each sequence, aligned from CK+'s own landmarks.

  au-build-ckplus --root /path/to/CK+

CK+ cannot ship (its licence); bring your copy in the official layout under --root:
  cohn-kanade-images/S005/001/S005_001_00000011.png
  FACS/S005/001/S005_001_00000011_facs.txt             lines "AU intensity" (floats)
  Landmarks/S005/001/S005_001_00000011_landmarks.txt   68 lines "x y" (iBUG order)
"""
import argparse
import math
import sys
from pathlib import Path

import numpy as np

from data_prep.faces import worker
from data_prep.pipeline import SPLITS, Build, Task, add_common_args, parse_split_fractions
from dscmr.aus import parse_au_list
from dscmr.errors import InputError, cli
from dscmr.paper import CKPLUS_AUS

PROG = "au-build-ckplus"


def parser():
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__ + """
Sec. 3.1: "The last frame of each image sequence is labeled with AU": each FACS file names that
frame; an AU listed in it is 1 (whatever its intensity; CK+ writes 0 for an unknown intensity),
an AU of --aus not listed is 0. AUs outside --aus are ignored, each noted (file and line) in
<out>/skipped.tsv. Subjects are split between train, val and test with --seed, so no subject is
in two splits. Missing or malformed files are skipped and listed with the file and line
(--strict makes them fatal).""",
        epilog=f"default AUs (Table 5): {', '.join(map(str, CKPLUS_AUS))}.")
    p.add_argument("--root", type=Path, required=True, help="the CK+ directory (holding cohn-kanade-images, FACS, Landmarks)")
    p.add_argument("--aus", type=parse_au_list, default=CKPLUS_AUS, help="AUs to label, in this order (default: Table 5's 14)")
    p.add_argument("--split", type=parse_split_fractions, default=(0.7, 0.15, 0.15),
                   help="train,val,test fractions of the subjects (default: 70,15,15)")
    p.add_argument("--detect", action="store_true",
                   help="find landmarks with dlib instead of reading CK+'s Landmarks files")
    worker.add_detector_args(p)
    add_common_args(p, "data/ckplus")
    return p


class BadFile(Exception):
    """A bad CK+ file: where (file:line) and why."""

    def __init__(self, where, why):
        self.where, self.why = where, why
        super().__init__(f"{where}: {why}")


def read_facs(path, aus, report):
    """{AU: intensity} of a FACS file; AUs outside aus are noted in the report and left out."""
    found = {}
    lines = path.read_text(errors="replace").splitlines()
    for i, text in enumerate(lines, start=1):
        parts = text.split()
        if not parts:
            continue
        try:
            au, intensity = (float(x) for x in parts) if len(parts) == 2 else (None, None)
        except ValueError:
            au = None
        if au is None:
            raise BadFile(f"{path}:{i}", f"expected 'AU intensity' (two numbers), got {text.strip()!r}")
        if au != int(au) or not 1 <= au <= 99:
            raise BadFile(f"{path}:{i}", f"{parts[0]} is not a FACS AU code")
        if int(au) not in aus:
            report.note(None, f"{path}:{i}", f"AU{int(au)} is not in --aus ({','.join(map(str, aus))}); ignored")
            continue
        found[int(au)] = intensity
    return found


def read_landmarks(path):
    """(68, 2) landmarks of a CK+ Landmarks file."""
    pts = []
    for i, text in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        parts = text.split()
        if not parts:
            continue
        if len(pts) == 68:
            raise BadFile(f"{path}:{i}", "more than 68 landmark lines; CK+ landmarks are 68 'x y' lines")
        try:
            if len(parts) != 2:
                raise ValueError
            pts.append([float(parts[0]), float(parts[1])])
        except ValueError:
            raise BadFile(f"{path}:{i}", f"expected 'x y', got {text.strip()!r}")
    if len(pts) != 68:
        raise BadFile(f"{path}:{len(pts)}", f"{len(pts)} landmark lines; CK+ landmarks are 68 'x y' lines")
    return np.array(pts)


def subject_splits(subjects, fractions, seed):
    """{subject: split}: the subjects shuffled with the seed and cut by the fractions."""
    order = [subjects[i] for i in np.random.default_rng([seed, 0xC4]).permutation(len(subjects))]
    n = len(order)
    n_train = math.floor(fractions[0] * n + 0.5)
    n_val = math.floor(fractions[1] * n + 0.5)
    n_val = min(n_val, n - n_train)
    cut = {s: "train" for s in order[:n_train]}
    cut.update({s: "val" for s in order[n_train:n_train + n_val]})
    cut.update({s: "test" for s in order[n_train + n_val:]})
    return cut


def check_layout(root, need_landmarks):
    if not root.is_dir():
        raise InputError(root, "CK+ directory not found")
    names = ["cohn-kanade-images", "FACS"] + (["Landmarks"] if need_landmarks else [])
    for name in names:
        d = root / name
        if not d.is_dir():
            raise InputError(d, f"missing; expected the CK+ layout ({', '.join(names)} under --root)")
        if not any(d.iterdir()):
            raise InputError(d, "the directory is empty")


def plan(args, report):
    """[(subject, split-less Task fields)] of the labelled sequences, bad ones reported."""
    facs_files = sorted((args.root / "FACS").glob("*/*/*_facs.txt"))
    if not facs_files:
        raise InputError(args.root / "FACS", "no FACS files (*/*/*_facs.txt) in this directory")
    items = []
    for facs in facs_files:
        subject, seq = facs.parent.parent.name, facs.parent.name
        frame = facs.name[:-len("_facs.txt")]
        seq_dir = args.root / "cohn-kanade-images" / subject / seq
        image = seq_dir / f"{frame}.png"
        try:
            found = read_facs(facs, args.aus, report)
            if not seq_dir.is_dir() or not any(seq_dir.iterdir()):
                raise BadFile(str(seq_dir), "the sequence's image directory is missing or empty")
            frames = sorted(p.name for p in seq_dir.glob("*.png"))
            if image.name not in frames:
                raise BadFile(str(image), f"the labelled frame named by {facs} is missing")
            if frames[-1] != image.name:
                report.note(None, str(facs), f"labels {image.name}, not the last frame {frames[-1]}; using the labelled one")
            landmarks = None
            if not args.detect:
                lm = args.root / "Landmarks" / subject / seq / f"{frame}_landmarks.txt"
                if not lm.is_file():
                    raise BadFile(str(lm), "landmark file missing")
                landmarks = read_landmarks(lm)
        except BadFile as e:
            report.skip(None, e.where, e.why)
            continue
        labels = np.array([1.0 if a in found else 0.0 for a in args.aus], np.float32)
        items.append((subject, (str(image), landmarks), labels, f"{image}"))
    return items


@cli(PROG)
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    check_layout(args.root, not args.detect)
    config = {"builder": "ckplus", "root": str(args.root.resolve()), "aus": args.aus, "split": args.split,
              "seed": args.seed, "detect": args.detect, "landmarker": args.landmarker,
              "upsample": args.upsample, "encode": args.encode, "jpeg_quality": args.jpeg_quality,
              "mirror": args.mirror}
    with Build(args, "ckplus", config, PROG, argv) as build:
        if build.up_to_date:
            print(f"ckplus: {args.out} is up to date (same configuration; --force rebuilds)")
            return 0
        items = plan(args, build.report)
        split = subject_splits(sorted({it[0] for it in items}), args.split, args.seed)
        tasks = [Task(split[subj], payload, labels, src) for subj, payload, labels, src in items]
        counts = {s: sum(t.split == s for t in tasks) for s in SPLITS}
        subjects = {s: sorted(k for k, v in split.items() if v == s) for s in SPLITS}
        build.write(args.aus, counts, tasks, worker.load_face, worker.init, (args.landmarker, args.upsample),
                    source=f"CK+: {args.root}", extra={"subjects": subjects})
    return 0


if __name__ == "__main__":
    sys.exit(main())
