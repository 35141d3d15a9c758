"""BLAS: the GEMMs Caffe runs for ResNet-18's convolutions (one per image and layer, M = filters,
N = output pixels, K = input channels x kernel area), in each BLAS this machine has: Debian's
OpenBLAS with the kernels it picks by itself, the same OpenBLAS with the kernels
setup/openblas_coretype.py names, and Intel MKL when the venv has it (pip install mkl; bench only).
Interleaved rounds, best of 5 per GEMM, median over rounds; 2 threads each.

  python bench/bench_blas.py --json /tmp/blas.json
"""
import os
import sys
from collections import Counter
from pathlib import Path

from bench.common import REPO, Build, bench_args, caffe_home, load_average, median, openblas_coretype, run_json, write_result


def resnet18_gemms():
    """Counter of (M, N, K) over ResNet-18's convolutions at 224 x 224."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe
    net = caffe.Net(str(REPO / "prototxt" / "resnet18_deploy.prototxt"), caffe.TEST)
    shapes = Counter()
    for name, layer in zip(net._layer_names, net.layers):
        if layer.type == "Convolution":
            w = layer.blobs[0].data.shape
            out = net.blobs[net.top_names[name][0]].data.shape
            shapes[(w[0], out[2] * out[3], w[1] * w[2] * w[3])] += 1
    return shapes


def options(ap):
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: 3; --quick: 1)")


def main(argv=None):
    opts = bench_args(__doc__, argv, options)
    rounds = 1 if opts.quick else opts.rounds
    coretype = openblas_coretype()
    own = coretype.detected_core(coretype.openblas_of(str(caffe_home() / "lib" / "libcaffe.so")))
    variants = {f"OpenBLAS, its own choice ({own})": ("openblas", {"OPENBLAS_CORETYPE": own}),
                "OpenBLAS, setup/openblas_coretype.py": ("openblas", {})}
    if (Path(sys.prefix) / "lib" / "libmkl_rt.so.3").exists():
        variants["Intel MKL (venv)"] = ("mkl", {})
    shapes = resnet18_gemms()
    args = [",".join(map(str, s)) for s in shapes]
    got = {v: [] for v in variants}
    names = {}
    loads = [load_average()]
    for _ in range(rounds):
        for v, (blas, env) in variants.items():
            out = run_json(["bench/gemm_worker.py", blas, *args], build=Build(v, caffe_home(), env))
            got[v].append(out["gflops"])
            names[v] = out["library"]
        loads.append(load_average())
    results, rows = {}, ["| BLAS | library says | " + " | ".join(f"{m}x{n}x{k}" for m, n, k in shapes)
                         + " | ResNet-18 conv GEMMs, ms / image |",
                         "|---|---|" + "---:|" * (len(shapes) + 1)]
    for v in variants:
        per_shape = [median([r[i] for r in got[v]]) for i in range(len(shapes))]
        ms = sum(c * 2 * m * n * k / (g * 1e9) * 1e3 for (m, n, k), c, g in zip(shapes, shapes.values(), per_shape))
        results[v] = {"library": names[v], "gflops": dict(zip(args, per_shape)), "resnet18_conv_ms_per_image": ms}
        rows.append(f"| {v} | {names[v]} | " + " | ".join(f"{g:.0f}" for g in per_shape) + f" | {ms:.1f} |")
    md = "\n".join([f"GFLOP/s per GEMM shape (M x N x K; row-major, no transposes), median of {rounds} rounds; "
                    f"the last column adds up the forward GEMMs of one image through ResNet-18. Load average "
                    f"(1 min): {', '.join(str(load[0]) for load in loads)}.", "", *rows])
    write_result(opts.json, "blas", "BLAS: GEMM throughput", md, {"variants": results, "load_average": loads})


if __name__ == "__main__":
    main()
