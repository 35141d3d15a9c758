"""Networks, Caffe vs PyTorch: forward + backward ms per iteration at batch 16, on the same
threads, and the GFLOP/s each achieves against this CPU's fp32 peak.

Each (round, net, framework) runs in its own process (bench/time_net.py): Caffe's net comes from
the generator's layers with Input blobs (bench/caffe_nets.py), PyTorch's is its twin
(bench/torch_nets.py). Within a round every net runs in Caffe and then in PyTorch, so both see
the same machine load; the result is the median over all timed iterations of all rounds.
FLOPs per iteration are 3 x 2 x the forward multiply-adds (tools/nets/net_size.py) x batch: the
backward pass costs two forward passes (input and weight gradients).

  python bench/bench_nets.py --json /tmp/nets.json
  python bench/bench_nets.py --json /tmp/nets.json --nets resnet18,dscmr --rounds 5
  python bench/bench_nets.py --json /tmp/nets.json --before ~/.cache/dscmr/caffe-<old>   # before/after
"""
import sys
from pathlib import Path

from bench.common import THREADS, bench_args, builds_under_test, load_average, median, run_json, write_result

NETS = ("resnet18", "dscmr", "ldscmr", "alexnet", "drml")


def forward_macs(method):
    """Multiply-adds per image of the method's deploy net (tools/nets/net_size.py)."""
    from tools.nets.net_size import net_size
    return net_size(Path(__file__).resolve().parent.parent / "prototxt" / f"{method}_deploy.prototxt")[1]


def options(ap):
    ap.add_argument("--nets", type=lambda s: tuple(s.split(",")), default=NETS,
                    help=f"comma-separated nets (default: {','.join(NETS)})")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3; --quick: 1)")
    ap.add_argument("--iters", type=int, default=2, help="timed iterations per process (default: 2)")
    ap.add_argument("--batch", type=int, default=16, help="batch size (default: 16)")


def main(argv=None):
    opts = bench_args(__doc__, argv, options)
    rounds = 1 if opts.quick else opts.rounds
    builds = builds_under_test(opts.before)
    # "engine CAFFE": the current build with im2col + GEMM convolutions (engine: CAFFE on Convolution and
    # Region) in place of DNNL.
    runs = ([(b.label, "caffe", b, []) for b in builds]
            + [("engine CAFFE", "caffe", builds[-1], ["--conv-engine", "CAFFE"]), ("torch", "torch", None, [])])
    times = {net: {label: [] for label, _, _, _ in runs} for net in opts.nets}
    loads = [load_average()]
    for r in range(rounds):
        for net in opts.nets:
            for label, fw, build, extra in runs:
                out = run_json(["bench/time_net.py", fw, net, "--iters", opts.iters, "--batch", opts.batch, *extra],
                               build=build)
                times[net][label] += out["iter_ms"]
                print(f"[bench_nets] round {r + 1}/{rounds} {net:9s} {label:6s} "
                      f"{' '.join(f'{t:.0f}' for t in out['iter_ms'])} ms", file=sys.stderr)
        loads.append(load_average())
    results = {"batch": opts.batch, "rounds": rounds, "iters_per_round": opts.iters, "load_average": loads,
               "builds": {b.label: {"home": str(b.home), "env": b.env} for b in builds}, "nets": {}}
    before = "before" in times[opts.nets[0]]
    rows = ["| net | GFLOP / iter | " + ("Caffe before ms | " if before else "")
            + "Caffe engine CAFFE ms | Caffe ms | PyTorch ms | " + ("Caffe/PyTorch before | " if before else "")
            + "**Caffe / PyTorch** | Caffe GFLOP/s | PyTorch GFLOP/s |",
            "|---|---:|" + ("---:|" if before else "") + "---:|---:|---:|" + ("---:|" if before else "")
            + "---:|---:|---:|"]
    for net in opts.nets:
        gflop = 6 * forward_macs(net) * opts.batch / 1e9
        c, t = median(times[net]["after"]), median(times[net]["torch"])
        r = {"gflop_per_iter": gflop, "caffe_ms": c, "torch_ms": t, "ratio": c / t,
             "caffe_gflops": gflop / c * 1e3, "torch_gflops": gflop / t * 1e3, "all_ms": times[net]}
        cells = [net, f"{gflop:.1f}"]
        if before:
            b = median(times[net]["before"])
            r.update(before_caffe_ms=b, before_ratio=b / t, speedup=b / c, before_gflops=gflop / b * 1e3)
            cells.append(f"{b:.0f}")
        e = median(times[net]["engine CAFFE"])
        r.update(engine_caffe_ms=e, dnnl_speedup=e / c)
        cells += [f"{e:.0f}", f"{c:.0f}", f"{t:.0f}"]
        if before:
            cells.append(f"{r['before_ratio']:.2f}")
        cells += [f"**{c / t:.2f}**", f"{gflop / c * 1e3:.1f}", f"{gflop / t * 1e3:.1f}"]
        results["nets"][net] = r
        rows.append("| " + " | ".join(cells) + " |")
    intro = (f"Batch {opts.batch}, forward + backward, median of {rounds} interleaved rounds x {opts.iters} "
             f"iterations (after 1 untimed), {THREADS} threads each; PyTorch runs in the same venv, so "
             "with the same runtime defaults (OMP_WAIT_POLICY=PASSIVE, see setup/install_launcher.sh). "
             + "'Caffe engine CAFFE' is this build with engine: CAFFE on every Convolution and Region (im2col "
             "+ GEMM); 'Caffe' runs engine DEFAULT (DNNL in CPU builds, docs/dnnl.md). "
             + ("'Caffe before' is the earlier build given with --before, run as it ran before this work "
                f"(OPENBLAS_CORETYPE={builds[0].env.get('OPENBLAS_CORETYPE')}, OpenBLAS's own choice on this CPU). "
                if before else "")
             + "Load average (1 min) at the start and after each round: " + ", ".join(str(load[0]) for load in loads) + ".")
    speed = ["| net | images/s, engine CAFFE | images/s, DNNL | paper schedule (6000 iterations), engine CAFFE | "
             "paper schedule, DNNL |", "|---|---:|---:|---:|---:|"]
    for net, r in results["nets"].items():
        speed.append(f"| {net} | {opts.batch / r['engine_caffe_ms'] * 1e3:.1f} | {opts.batch / r['caffe_ms'] * 1e3:.1f} | "
                     f"{6000 * r['engine_caffe_ms'] / 3.6e6:.1f} h | {6000 * r['caffe_ms'] / 3.6e6:.1f} h |")
    training = ("Training speed from the same times (batch / fwd+bwd time; the schedule's hours leave out data "
                "loading and the test phases, a few per cent):")
    write_result(opts.json, "nets", "Networks: Caffe vs PyTorch", "\n".join([intro, "", *rows, "", training, "", *speed]),
                 results)


if __name__ == "__main__":
    main()
