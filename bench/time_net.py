"""Times forward + backward of one net in one framework, in this process; prints JSON.

A worker of bench_nets.py, which runs it once per (round, net, framework) so that Caffe and
PyTorch never share a process (their thread pools would compete) and their runs interleave.
Thread counts come from the environment (OPENBLAS/OMP/MKL_NUM_THREADS), torch's from --threads.

  python bench/time_net.py caffe ldscmr --iters 2
  python bench/time_net.py torch resnet18 --iters 5 --threads 2
  python bench/time_net.py caffe dscmr --layers     # also each layer's forward and backward ms
  python bench/time_net.py caffe dscmr --conv-engine CAFFE   # im2col + GEMM convolutions (no oneDNN)
"""
import argparse
import json
import time


def time_caffe(method, batch, iters, warmup, per_layer, conv_engine):
    from bench.caffe_nets import LAYER_NETS, fill_inputs, layer_net_param, load_net, train_net_param
    from dscmr import methods
    net_param = layer_net_param(method, batch) if method in LAYER_NETS else train_net_param(methods.get(method), batch)
    for layer in net_param.layer:
        if layer.type == "Convolution":
            layer.convolution_param.engine = layer.convolution_param.Engine.Value(conv_engine)
        elif layer.type == "Region":
            layer.region_param.engine = layer.region_param.Engine.Value(conv_engine)
    net = load_net(net_param)
    fill_inputs(net)
    out = {"iter_ms": []}
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        net.forward()
        net.backward()
        if i >= warmup:
            out["iter_ms"].append((time.perf_counter() - t0) * 1e3)
    if per_layer:
        out["layers"] = time_caffe_layers(net, iters)
    return out


def time_caffe_layers(net, iters):
    """{layer name: [type, forward ms, backward ms]}, medians over `iters` passes, layer by layer."""
    import numpy as np
    names, n = list(net._layer_names), len(net.layers)
    fwd, bwd = np.zeros((iters, n)), np.zeros((iters, n))
    for it in range(iters):
        for i in range(n):
            t0 = time.perf_counter()
            net._forward(i, i)
            fwd[it, i] = time.perf_counter() - t0
        for i in reversed(range(n)):
            t0 = time.perf_counter()
            net._backward(i, i)
            bwd[it, i] = time.perf_counter() - t0
    return {names[i]: [net.layers[i].type, float(np.median(fwd[:, i]) * 1e3), float(np.median(bwd[:, i]) * 1e3)]
            for i in range(n)}


def time_torch(method, batch, iters, warmup, threads):
    import torch

    from bench.torch_nets import inputs, model_and_loss
    torch.set_num_threads(threads)
    from dscmr import methods
    model, loss_fn = model_and_loss(methods.get(method))
    model.train()
    x, y = inputs(methods.get(method), batch)
    out = {"iter_ms": []}
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
        if i >= warmup:
            out["iter_ms"].append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("framework", choices=("caffe", "torch"))
    ap.add_argument("method", help="resnet18, dscmr, ldscmr, alexnet, drml (Caffe: any generator method, "
                                   "or region / conv3x3: one layer on L-DSCMR's 32 x 214 x 214 map)")
    ap.add_argument("--batch", type=int, default=16, help="batch size (default: 16)")
    ap.add_argument("--iters", type=int, default=3, help="timed iterations (default: 3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default: 1)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default: 2)")
    ap.add_argument("--layers", action="store_true", help="Caffe: also time every layer alone")
    ap.add_argument("--conv-engine", default="DEFAULT", choices=("DEFAULT", "CAFFE", "DNNL"),
                    help="Caffe: the engine of every Convolution and Region (default: DEFAULT, DNNL in CPU builds)")
    opts = ap.parse_args(argv)
    if opts.framework == "caffe":
        out = time_caffe(opts.method, opts.batch, opts.iters, opts.warmup, opts.layers, opts.conv_engine)
    else:
        out = time_torch(opts.method, opts.batch, opts.iters, opts.warmup, opts.threads)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
