"""The OpenMP build (setup/patches/05-openmp-cpu-hot-paths.patch, the Region layer's loops) splits
work by element, channel or plane, never a sum: one forward and backward gives the same bits on 1
thread and on 2 (engine CAFFE: oneDNN, engine DNNL in docs/dnnl.md, splits its weight-gradient
sums by thread; tests/caffe_build/test_dnnl_engine.py checks it to float tolerance). And Caffe's OpenBLAS never
runs its generic kernels on a CPU with AVX2 (setup/openblas_coretype.py)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from helpers.caffe import REPO

from dscmr.caffe_home import caffe_home

# Every patched CPU path: im2col/col2im, BatchNorm's element-wise math, Scale, ReLU, max and
# average pooling, Eltwise, and the Region layer; every map above the 16384 values from which
# the loops run in parallel.
NET_SCRIPT = r"""
import sys
import numpy as np
import caffe
from caffe import layers as L, params as P
ns = caffe.NetSpec()
ns.data = L.Input(shape=dict(dim=[4, 16, 40, 40]))
ns.conv = L.Convolution(ns.data, num_output=16, kernel_size=3, pad=1, bias_term=False, weight_filler=dict(type="msra"),
                        engine=P.Convolution.CAFFE)
ns.bn = L.BatchNorm(ns.conv)
ns.scale = L.Scale(ns.bn, bias_term=True, filler=dict(type="gaussian", std=1), bias_filler=dict(type="gaussian", std=1))
ns.relu = L.ReLU(ns.scale)
ns.sum = L.Eltwise(ns.relu, ns.data)
ns.region = L.Region(ns.sum, region_param=dict(grid_h=2, grid_w=2, kernel_size=3, weight_filler=dict(type="msra"),
                                               engine=P.Region.CAFFE))
ns.pool = L.Pooling(ns.region, pool=P.Pooling.MAX, kernel_size=3, stride=2)
ns.ave = L.Pooling(ns.pool, pool=P.Pooling.AVE, kernel_size=2, stride=1)
ns.fc = L.InnerProduct(ns.ave, num_output=5, weight_filler=dict(type="xavier"))
net_param = ns.to_proto()
net_param.force_backward = True
with open(sys.argv[1] + ".prototxt", "w") as f:
    f.write(str(net_param))
caffe.set_random_seed(7)
net = caffe.Net(sys.argv[1] + ".prototxt", caffe.TRAIN)
net.blobs["data"].data[...] = np.random.default_rng(3).normal(0, 1, net.blobs["data"].data.shape)
net.forward()
net.blobs["fc"].diff[...] = np.random.default_rng(4).normal(0, 1, net.blobs["fc"].diff.shape)
net.backward()
out = {f"blob_{k}_{w}": getattr(b, w) for k, b in net.blobs.items() for w in ("data", "diff")}
out.update({f"param_{k}_{i}": p.diff for k, ps in net.params.items() for i, p in enumerate(ps)})
np.savez(sys.argv[1], **out)
"""


def run_net(tmp_path, threads):
    out = tmp_path / f"threads{threads}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", GLOG_minloglevel="2")
    subprocess.run([sys.executable, "-c", NET_SCRIPT, str(out)], env=env, check=True, cwd=REPO)
    return dict(np.load(f"{out}.npz"))


def test_one_and_two_threads_give_the_same_bits(tmp_path):
    one, two = run_net(tmp_path, 1), run_net(tmp_path, 2)
    assert one.keys() == two.keys()
    assert np.abs(one["blob_fc_data"]).sum() > 0 and np.abs(one["blob_data_diff"]).sum() > 0
    for key in one:
        assert np.array_equal(one[key], two[key]), f"{key} differs between 1 and 2 OpenMP threads"


def test_pycaffe_openblas_uses_this_cpus_kernels():
    flags = re.search(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M).group(1).split()
    code = ("import ctypes, re, subprocess, sys, caffe\n"
            f"ldd = subprocess.run(['ldd', '{caffe_home()}/lib/libcaffe.so'], capture_output=True, text=True).stdout\n"
            "lib = ctypes.CDLL(re.search(r'libopenblas\\S* => (\\S+)', ldd).group(1))\n"
            "lib.openblas_get_corename.restype = ctypes.c_char_p\n"
            "print(lib.openblas_get_corename().decode())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    core = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    if "avx2" in flags:
        assert core.stdout.strip() not in ("Prescott", "Core2", "Nehalem", "Sandybridge"), core.stdout
