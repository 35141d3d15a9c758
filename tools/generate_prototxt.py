"""au-prototxt: writes every network and solver prototxt of the paper's comparison into prototxt/.

The one source of truth for prototxt/ (the nets themselves are built by tools/nets/prototxt.py):
tests/nets/test_prototxt.py fails when a committed file differs from what this writes. For each method M
it writes M_train_val.prototxt (two LMDBs read in lock-step: uint8 images and float labels),
M_deploy.prototxt (an Input blob, sigmoid probabilities out) and M_solver.prototxt (Sec. 3.1's SGD settings).

{methods}
Examples:
  au-prototxt                      # rewrite prototxt/ (the defaults)
  au-prototxt --out /tmp/ck --data data/ckplus --aus 1,2,4,5,6,7,9,12,15,17,20,23,24,25
  au-prototxt --only ldscmr --batch-size 8 --out /tmp/small
  au-prototxt --only alexnet_admsr --loss-scale mean --lr-policy once --out /tmp/mean-once   # other readings
"""

import argparse
import sys
from pathlib import Path

from dscmr import REPO, methods
from dscmr import readings as readings_
from dscmr.aus import parse_au_list
from dscmr.errors import cli
from dscmr.files import write_atomically
from tools.nets import prototxt
from tools.nets.prototxt import NetOptions

PROG = "au-prototxt"


def methods_table():
    rows = [("method", "paper", "loss")] + [
        (m.key, f"{m.paper_name} ({m.where})", m.loss + (", Python layers" if m.python_layers else ""))
        for m in methods.METHODS]
    return "\n".join(f"  {key:<15}{name:<40}{loss}" for key, name, loss in rows)


DEFAULTS = NetOptions()


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.format(methods=methods_table()),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "prototxt"), help="output directory (default: prototxt/)")
    ap.add_argument("--out-prefix", default=DEFAULTS.out_prefix,
                    help="how solvers name the directory of their nets, relative to where caffe runs "
                         "(default: %(default)s, i.e. run caffe from the repository root)")
    ap.add_argument("--data", default=DEFAULTS.data,
                    help="dataset directory with {train,val}/{images,labels} LMDBs (default: %(default)s)")
    ap.add_argument("--aus", type=parse_au_list, default=DEFAULTS.aus,
                    help="AUs, in label-column order (default: the 11 EmotioNet AUs)")
    ap.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="images per batch (default: %(default)s)")
    ap.add_argument("--mean", type=float, nargs=3, default=DEFAULTS.mean, metavar=("B", "G", "R"),
                    help="per-channel mean subtracted from the images (default: %s)" % " ".join(map(str, DEFAULTS.mean)))
    ap.add_argument("--test-iter", type=int, default=DEFAULTS.test_iter,
                    help="validation batches per test (default: %(default)s, i.e. 496 of synthau's 500 val faces)")
    ap.add_argument("--test-interval", type=int, default=DEFAULTS.test_interval,
                    help="iterations between tests (default: %(default)s)")
    ap.add_argument("--max-iter", type=int, default=DEFAULTS.max_iter, help="training iterations (default: %(default)s)")
    ap.add_argument("--snapshot", type=int, default=DEFAULTS.snapshot, help="iterations between snapshots (default: %(default)s)")
    ap.add_argument("--display", type=int, default=DEFAULTS.display,
                    help="iterations between logged train losses (default: %(default)s)")
    ap.add_argument("--snapshot-prefix", default=DEFAULTS.snapshot_prefix,
                    help="directory of the snapshots, relative to where caffe runs (default: %(default)s)")
    ap.add_argument("--solver-mode", choices=("CPU", "GPU"), default=DEFAULTS.solver_mode,
                    help="CPU, or GPU for a CUDA build of Caffe (make setup-gpu) (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=DEFAULTS.seed,
                    help="the solver's random_seed: weight initialisation and random mirroring (default: %(default)s)")
    readings_.add_options(ap)
    ap.add_argument("--only", type=lambda s: tuple(s.split(",")), default=methods.KEYS,
                    help=f"comma-separated methods (default: all: {','.join(methods.KEYS)})")
    opts = ap.parse_args(argv)
    unknown = set(opts.only) - set(methods.KEYS)
    if unknown:
        ap.error(f"unknown method(s) {sorted(unknown)}; known: {', '.join(methods.KEYS)}")
    return opts


def net_options(opts):
    """The NetOptions of parsed options."""
    return NetOptions(data=opts.data, aus=tuple(opts.aus), batch_size=opts.batch_size, mean=tuple(opts.mean),
                      test_iter=opts.test_iter, test_interval=opts.test_interval, max_iter=opts.max_iter,
                      snapshot=opts.snapshot, display=opts.display, out_prefix=opts.out_prefix,
                      snapshot_prefix=opts.snapshot_prefix, solver_mode=opts.solver_mode, seed=opts.seed,
                      readings=readings_.of_options(opts))


def generated(opts):
    """{file name: text} of what au-prototxt writes for parsed options."""
    return prototxt.generate([methods.get(k) for k in opts.only], net_options(opts))


@cli(PROG)
def main(argv=None):
    opts = parse_args(argv)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in generated(opts).items():
        write_atomically(out / name, text)
    print(f"wrote {len(opts.only) * 3} files for {len(opts.only)} methods into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
