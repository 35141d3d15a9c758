"""The project's own layers: the Region layer against a dense 3 x 3 Convolution over the same map,
and the MSR / Ad-MSR losses' share of one training iteration.

Region vs conv: L-DSCMR's Region input, 16 x 32 x 214 x 214; Region (8 x 8 patches, each with
its BatchNorm, Scale, ReLU, 3 x 3 conv and identity) against one Caffe Convolution 32 -> 32,
3 x 3, pad 1: forward + backward (bottom and parameter gradients), interleaved rounds, medians.
Loss share: every layer of the net timed alone (bench/time_net.py --layers), the loss layer's
forward + backward over the sum of all layers'.

  python bench/bench_layers.py --json /tmp/layers.json
"""

from bench.common import bench_args, builds_under_test, load_average, median, run_json, write_result  # noqa: E501
from dscmr import methods

# Nets whose loss layer is one of ours (MSRLoss, AdMSRLoss): its share of the iteration.
LOSS_NETS = ("dscmr", "alexnet_admsr", "alexnet_msr")


def options(ap):
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3; --quick: 1)")
    ap.add_argument("--iters", type=int, default=2, help="timed iterations per process (default: 2)")


def region_vs_conv(rounds, iters, build):
    times = {"region": [], "conv3x3": []}
    for _ in range(rounds):
        for kind in times:
            times[kind] += run_json(["bench/time_net.py", "caffe", kind, "--iters", iters], build=build)["iter_ms"]
    region, conv = median(times["region"]), median(times["conv3x3"])
    return {"region_ms": region, "conv3x3_ms": conv, "ratio": region / conv,
            "region_all_ms": times["region"], "conv3x3_all_ms": times["conv3x3"]}


def loss_shares(iters, build):
    shares = {}
    for net in LOSS_NETS:
        loss_type = methods.get(net).loss
        layers = run_json(["bench/time_net.py", "caffe", net, "--iters", iters, "--layers"], build=build)["layers"]
        total = sum(f + b for _, f, b in layers.values())
        loss = sum(f + b for t, f, b in layers.values() if t == loss_type)
        shares[net] = {"loss_type": loss_type, "loss_ms": loss, "iteration_ms": total, "share": loss / total}
    return shares


def main(argv=None):
    opts = bench_args(__doc__, argv, options)
    rounds = 1 if opts.quick else opts.rounds
    loads, results, md = [load_average()], {}, []
    for build in builds_under_test(opts.before):
        rc = region_vs_conv(rounds, opts.iters, build)
        loads.append(load_average())
        shares = loss_shares(1 if opts.quick else opts.iters, build)
        loads.append(load_average())
        results[build.label] = {"region_vs_conv": rc, "loss_share": shares}
        md += [f"### {build.label}: `{build.home.name}`", "",
               f"Region vs a dense 3 x 3 Convolution, 16 x 32 x 214 x 214, forward + backward, median of "
               f"{rounds} rounds x {opts.iters} iterations: Region {rc['region_ms']:.0f} ms, Convolution "
               f"{rc['conv3x3_ms']:.0f} ms, ratio **{rc['ratio']:.2f}x**.", "",
               "| net | loss layer | loss fwd+bwd ms | iteration ms (sum of layers) | share |",
               "|---|---|---:|---:|---:|"]
        for net, sh in shares.items():
            md.append(f"| {net} | {sh['loss_type']} | {sh['loss_ms']:.3f} | {sh['iteration_ms']:.0f} | "
                      f"{100 * sh['share']:.4f} % |")
        md.append("")
    md.append("Load average (1 min) over the runs: " + ", ".join(str(load[0]) for load in loads) + ".")
    results["load_average"] = loads
    write_result(opts.json, "layers", "The project's layers: Region vs conv, loss share", "\n".join(md), results)


if __name__ == "__main__":
    main()
