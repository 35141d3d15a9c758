"""Prints the OpenBLAS kernel set to force on this CPU (OPENBLAS_CORETYPE), or nothing.

  python setup/openblas_coretype.py LIBCAFFE

Debian 12's OpenBLAS 0.3.21 does not recognise CPUs newer than itself (e.g. Xeon family 6 model
207, which has AVX-512 and AMX) and falls back to its generic Prescott (SSE3) kernels: sgemm then
runs at about a fifth of the speed. When the OpenBLAS that LIBCAFFE links reports Prescott, this
names the newest kernel set the CPU's flags allow: Cooperlake (AVX-512 BF16), SkylakeX (AVX-512)
or Haswell (AVX2). setup/install_launcher.sh puts it into the caffe launcher and pycaffe's .pth.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

# (kernel set, CPU flags it needs), newest first.
KERNELS = (("Cooperlake", {"avx512f", "avx512_bf16"}), ("SkylakeX", {"avx512f"}), ("Haswell", {"avx2", "fma"}))


def openblas_of(library):
    """The path of the libopenblas that `library` resolves to, or None."""
    ldd = subprocess.run(["ldd", library], capture_output=True, text=True).stdout
    m = re.search(r"libopenblas\S* => (\S+)", ldd)
    return m.group(1) if m else None


def detected_core(openblas):
    """The kernel set OpenBLAS picks by itself (OPENBLAS_CORETYPE unset), in a clean process."""
    code = ("import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
            "lib.openblas_get_corename.restype = ctypes.c_char_p; print(lib.openblas_get_corename().decode())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    # -S: without site, so no .pth of an earlier install sets OPENBLAS_CORETYPE behind our back.
    return subprocess.run([sys.executable, "-S", "-c", code, openblas], capture_output=True, text=True,
                          env=env).stdout.strip()


def main():
    openblas = openblas_of(sys.argv[1])
    if not openblas or detected_core(openblas) != "Prescott":
        return
    flags = set(re.search(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M).group(1).split())
    for kernel, needs in KERNELS:
        if needs <= flags:
            print(kernel)
            return


if __name__ == "__main__":
    main()
