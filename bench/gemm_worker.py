"""Times single-precision GEMMs of one BLAS library in this process; prints JSON (bench_blas.py's
worker: the BLAS and its kernel choice are fixed when the library loads, so one process each).

  python bench/gemm_worker.py openblas 256,3136,576 64,12544,147
  OPENBLAS_CORETYPE=Cooperlake python bench/gemm_worker.py openblas 256,3136,576
  python bench/gemm_worker.py mkl 256,3136,576
"""
import ctypes
import json
import sys
import time
from pathlib import Path

import numpy as np

ROW_MAJOR, NO_TRANS = 101, 111


def load(blas):
    """(library, its own description) of 'openblas' (the one libcaffe links) or 'mkl' (the venv's)."""
    if blas == "openblas":
        from bench.common import caffe_home, openblas_coretype
        lib = ctypes.CDLL(openblas_coretype().openblas_of(str(caffe_home() / "lib" / "libcaffe.so")))
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib, f"OpenBLAS, {lib.openblas_get_corename().decode()} kernels"
    lib = ctypes.CDLL(str(Path(sys.prefix) / "lib" / "libmkl_rt.so.3"))
    lib.MKL_Get_Version_String.argtypes = [ctypes.c_char_p, ctypes.c_int]
    buf = ctypes.create_string_buffer(200)
    lib.MKL_Get_Version_String(buf, 200)
    return lib, buf.value.decode().strip()


def gflops(lib, m, n, k, reps=5):
    """Best of `reps` of C = A B, A m x k, B k x n, row-major: the GEMM Caffe runs per image."""
    a, b = np.random.rand(m, k).astype(np.float32), np.random.rand(k, n).astype(np.float32)
    c = np.zeros((m, n), np.float32)
    ptr = ctypes.POINTER(ctypes.c_float)
    args = (ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, ctypes.c_float(1), a.ctypes.data_as(ptr), k,
            b.ctypes.data_as(ptr), n, ctypes.c_float(0), c.ctypes.data_as(ptr), n)
    lib.cblas_sgemm(*args)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        lib.cblas_sgemm(*args)
        best = min(best, time.perf_counter() - t0)
    return 2 * m * n * k / best / 1e9


def main():
    lib, name = load(sys.argv[1])
    shapes = [tuple(int(x) for x in s.split(",")) for s in sys.argv[2:]]
    print(json.dumps({"library": name, "gflops": [gflops(lib, *s) for s in shapes]}))


if __name__ == "__main__":
    main()
