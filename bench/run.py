"""make bench: runs every bench/bench_*.py, then writes bench/results.json and bench/results.md.

Each bench/bench_NAME.py is a script that takes `--json PATH` (where it writes
{"name", "title", "markdown", "results"}, see common.write_result) and `--quick`; a new one is
picked up by its file name alone. ORDER runs the known ones first (the build last: it loads both
cores for minutes), then any others in name order. The machine, the BLAS and the commit go on
top. --before PRODUCT (an earlier build in the cache) makes the benches that time Caffe time it
too, interleaved with the current build. Both outputs are written to temporary files and renamed.
A run of some benches (--only) keeps the other benches' sections of the results it replaces, each
marked with the run it came from, so a partial run never leaves less than there was.

  au-bench                   # everything but a cold build (about 15-20 min on 2 cores)
  au-bench --cold-build      # and a cold Caffe build into an empty cache
  au-bench --quick           # one round each (a few minutes)
  au-bench --only nets,layers
  au-bench --before ~/.cache/dscmr/caffe-<old build>    # before/after in one run
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import PYTHON, REPO, caffe_home, check_product, load_average, machine
from dscmr.errors import InputError, cli
from dscmr.files import write_atomically

PROG = "au-bench"

BENCH = Path(__file__).resolve().parent
ORDER = ("blas", "nets", "layers", "data", "predict", "build")
TIMES_CAFFE = ("nets", "layers")  # the benches that take --before
ROUNDS = ("blas", "nets", "layers")  # the benches that take --rounds


def bench_names():
    found = sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py"))
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def run_bench(name, quick, before, cold, rounds):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        args = [str(PYTHON), str(BENCH / f"bench_{name}.py"), "--json", str(out)] + (["--quick"] if quick else [])
        if before and name in TIMES_CAFFE:
            args += ["--before", str(before)]
        if rounds and name in ROUNDS:
            args += ["--rounds", str(rounds)]
        if cold and name == "build":
            args.append("--cold")
        print(f"[bench] {name}: {' '.join(args[1:])}", file=sys.stderr, flush=True)
        subprocess.run(args, cwd=REPO, check=True)
        return json.loads(out.read_text())


def git_commit():
    return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()


def render(report):
    m = report["machine"]
    lines = ["# Benchmarks", "",
             f"Written by `make bench` (bench/run.py) on {report['date']}, commit {report['commit']}"
             f"{' (--quick)' if report['quick'] else ''}. Raw numbers: `bench/results.json`.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores at {m['mhz']:.0f} MHz ({', '.join(m['isa'])}), "
             f"{m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}. fp32 peak "
             f"{m['peak_fp32_gflops']} GFLOP/s ({m['peak_note']}). Every run uses {m['threads']} threads.", "",
             f"Caffe build: `{m['caffe']['build']}`, BLAS {m['caffe']['blas']} (libcaffe links "
             f"{', '.join(m['caffe']['linked'])}); BLAS libraries loaded with pycaffe (threadpoolctl: "
             f"API, kernels, version): {m['blas_runtime']}.", "",
             "The machine is shared with other work: the load averages next to each result say how "
             "busy it was, and the times are medians.", ""]
    rows = targets(report)
    if rows:
        lines += ["## Targets (issues #7, #13 and #35)", "", "| target | wanted | measured | met |", "|---|---|---|---|",
                  *(f"| {what} | {want} | {got} | {'yes' if met else '**no**'} |" for what, want, got, met in rows),
                  ""]
        if not all(met for *_, met in rows):
            lines += ["What limits the missed targets, from per-layer profiles: docs/dnnl.md (\"Speed, and what "
                      "limits the missed targets\").", ""]
    for section in report["benches"].values():
        kept = section.get("kept_from")
        lines += [f"## {section['title']}", ""]
        if kept:
            on = kept.get("machine")
            where = f", on {on['cpu']} (fp32 peak {on['peak_fp32_gflops']} GFLOP/s)" if on else ""
            lines += [f"*From an earlier run: {kept['date']}, commit {kept['commit']}{where}; not re-run since.*", ""]
        lines += [section["markdown"], ""]
    return "\n".join(lines)


def _get(report, *keys):
    x = report["benches"]
    for k in keys:
        if not isinstance(x, dict) or k not in x:
            return None
        x = x[k]
    return x


def targets(report):
    """Issues #7, #13 and #35's targets: (what, target, measured, met) for those this report measured."""
    rows = []
    # a section kept from an earlier run is measured against the peak of the machine it ran on
    nets_machine = (_get(report, "nets", "kept_from") or {}).get("machine") or report["machine"]
    peak = nets_machine["peak_fp32_gflops"]
    for net in ("resnet18", "dscmr", "ldscmr", "alexnet", "drml"):
        r = _get(report, "nets", "results", "nets", net)
        if r:
            rows.append((f"Caffe/PyTorch time, fwd+bwd, {net}", "<= 1.0", f"{r['ratio']:.2f}", r["ratio"] <= 1.0))
    for net, want in (("resnet18", 0.60), ("dscmr", 0.60), ("ldscmr", 0.45)):
        r = _get(report, "nets", "results", "nets", net)
        if r:
            share = r["caffe_gflops"] / peak
            rows.append((f"Caffe {net}, share of the fp32 peak", f">= {100 * want:.0f} %", f"{100 * share:.0f} %",
                         share >= want))
    rc = _get(report, "layers", "results", "after", "region_vs_conv")
    if rc:
        rows.append(("Region vs dense 3 x 3 conv, same input and output", "<= 1.2x", f"{rc['ratio']:.2f}x",
                     rc["ratio"] <= 1.2))
    shares = _get(report, "layers", "results", "after", "loss_share")
    if shares:
        worst = max(sh["share"] for sh in shares.values())
        rows.append(("MSR/Ad-MSR share of an iteration (largest)", "< 1 %", f"{100 * worst:.3f} %", worst < 0.01))
    data = _get(report, "data", "results", "synthau")
    if data:
        rows.append(("synthau LMDB build, 2 cores", ">= 200 images/s", f"{data['lmdb_images_per_s']:.0f} images/s",
                     data["lmdb_images_per_s"] >= 200))
    predict = _get(report, "predict", "results")
    if predict and predict.get("method") == "dscmr" and predict.get("frames") == 48:
        rows.append((f"au-predict, DSCMR, 48 frames, --detect-every {predict['detect_every']}, end to end",
                     ">= 10 frames/s", f"{predict['frames_per_s']:.2f} frames/s", predict["frames_per_s"] >= 10))
    return rows


def earlier_benches(path, rerun):
    """The sections of an earlier results.json that this run does not replace, each marked with
    the run it came from."""
    if not path.is_file():
        return {}
    try:
        old = json.loads(path.read_text())
        kept = {name: section for name, section in old["benches"].items() if name not in rerun}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise InputError(path, "is not a results.json that bench/run.py wrote; move it away or give --out") from None
    for section in kept.values():
        section.setdefault("kept_from", {"date": old.get("date"), "commit": old.get("commit"),
                                         "machine": old.get("machine")})
    return kept


@cli(PROG)
def main(argv=None):
    names = bench_names()
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="each bench's --quick: one round, smaller runs")
    ap.add_argument("--only", type=lambda s: s.split(","), default=names,
                    help=f"comma-separated benches (default: all: {','.join(names)})")
    ap.add_argument("--rounds", type=int, help="interleaved rounds of blas, nets and layers (default: theirs, 3)")
    ap.add_argument("--cold-build", action="store_true",
                    help="also time a cold Caffe build into an empty cache (adds 4-15 min)")
    ap.add_argument("--before", type=Path, metavar="PRODUCT",
                    help="an earlier Caffe build (a caffe-* directory of the cache) to time beside the current one")
    ap.add_argument("--out", type=Path, default=BENCH, help="directory for results.{json,md} (default: bench/)")
    opts = ap.parse_args(argv)
    unknown = set(opts.only) - set(names)
    if unknown:
        ap.error(f"unknown bench(es) {sorted(unknown)}; known: {', '.join(names)}")
    if opts.before:
        check_product(opts.before)
    earlier = earlier_benches(opts.out / "results.json", opts.only)
    os.environ["BENCH_CAFFE_HOME"] = str(caffe_home())
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": git_commit(),
              "quick": opts.quick, "machine": machine(), "load_average_start": load_average(), "benches": {}}
    for name in opts.only:
        report["benches"][name] = run_bench(name, opts.quick, opts.before, opts.cold_build, opts.rounds)
    report["load_average_end"] = load_average()
    report["benches"] = {name: report["benches"].get(name) or earlier[name] for name in names
                         if name in report["benches"] or name in earlier}
    opts.out.mkdir(parents=True, exist_ok=True)
    write_atomically(opts.out / "results.json", json.dumps(report, indent=1) + "\n")
    write_atomically(opts.out / "results.md", render(report))
    print(f"[bench] wrote {opts.out / 'results.md'} and results.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
