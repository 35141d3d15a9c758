"""Networks, Caffe vs PyTorch: forward + backward ms per iteration at batch 16, on the same
threads, and the GFLOP/s each achieves against this CPU's fp32 peak.

Each (round, net, framework) runs in its own process (bench/time_net.py): Caffe's net comes from
the generator's layers with Input blobs (bench/caffe_nets.py), PyTorch's is its twin
(bench/torch_nets.py). Within a round every net runs in Caffe and then in PyTorch, so both see
the same machine load; the result is the median over all timed iterations of all rounds.
FLOPs per iteration are 3 x 2 x the forward multiply-adds (tools/net_size.py) x batch: the
backward pass costs two forward passes (input and weight gradients).

  python bench/bench_nets.py --json /tmp/nets.json
  python bench/bench_nets.py --json /tmp/nets.json --nets resnet18,dscmr --rounds 5
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_args, load_average, median, run_json, write_result  # noqa: E402

NETS = ("resnet18", "dscmr", "ldscmr", "alexnet", "drml")


def forward_macs(method):
    """Multiply-adds per image of the method's deploy net (tools/net_size.py)."""
    from tools.net_size import net_size
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
    times = {net: {"caffe": [], "torch": []} for net in opts.nets}
    loads = [load_average()]
    for r in range(rounds):
        for net in opts.nets:
            for fw in ("caffe", "torch"):
                out = run_json(["bench/time_net.py", fw, net, "--iters", opts.iters, "--batch", opts.batch])
                times[net][fw] += out["iter_ms"]
                print(f"[bench_nets] round {r + 1}/{rounds} {net:9s} {fw:5s} "
                      f"{' '.join(f'{t:.0f}' for t in out['iter_ms'])} ms", file=sys.stderr)
        loads.append(load_average())
    results = {"batch": opts.batch, "rounds": rounds, "iters_per_round": opts.iters, "load_average": loads,
               "nets": {}}
    rows = ["| net | GFLOP / iter | Caffe ms | PyTorch ms | Caffe / PyTorch | Caffe GFLOP/s | PyTorch GFLOP/s |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for net in opts.nets:
        gflop = 6 * forward_macs(net) * opts.batch / 1e9
        c, t = median(times[net]["caffe"]), median(times[net]["torch"])
        results["nets"][net] = {"gflop_per_iter": gflop, "caffe_ms": c, "torch_ms": t, "ratio": c / t,
                                "caffe_gflops": gflop / c * 1e3, "torch_gflops": gflop / t * 1e3,
                                "caffe_all_ms": times[net]["caffe"], "torch_all_ms": times[net]["torch"]}
        rows.append(f"| {net} | {gflop:.1f} | {c:.0f} | {t:.0f} | {c / t:.2f} | {gflop / c * 1e3:.1f} | "
                    f"{gflop / t * 1e3:.1f} |")
    md = "\n".join([f"Batch {opts.batch}, forward + backward, median of {rounds} interleaved rounds x "
                    f"{opts.iters} iterations; load average (1, 5, 15 min) over the rounds: "
                    + ", ".join(str(l[0]) for l in loads) + ".", "", *rows])
    write_result(opts.json, "nets", "Networks: Caffe vs PyTorch", md, results)


if __name__ == "__main__":
    main()
