"""What the bench scripts share: the machine and BLAS they ran on, worker processes with a fixed
thread count, medians, and the result format every bench/bench_*.py writes (see run.py)."""
import json
import os
import platform
import re
import statistics
import subprocess
from pathlib import Path

from dscmr import REPO
from dscmr.caffe_home import caffe_home as dscmr_caffe_home
from dscmr.machine import cpuinfo

PYTHON = REPO / ".venv" / "bin" / "python"
THREADS = 2


def fp32_flops_per_cycle(cpu):
    """(flops per core per cycle, why) of a dscmr.machine.cpuinfo(): FMA units x floats per vector
    x 2 (multiply and add). AMD's family 25 (Zen 3 and Zen 4) has two 256-bit FMA pipes and runs
    AVX-512 on them in two halves; family 26 (Zen 5) and Intel's AVX-512 Xeons have two 512-bit FMA
    units."""
    flags = cpu["flags"]
    if cpu["vendor"] == "AuthenticAMD" and int(cpu["family"]) < 26 or "avx512f" not in flags:
        halves = ", AVX-512 run in two halves" if "avx512f" in flags else ""
        return 32, f"2 FMA units x 8 floats x 2 (256-bit FMA pipes{halves})"
    return 64, "2 FMA units x 16 floats x 2 (512-bit FMA)"


def thread_env(threads=THREADS, build=None):
    """The environment for a worker: every BLAS/OpenMP runtime limited to `threads` threads, and
    pycaffe from `build` (a Build), by default the one that was current when the bench started
    (a rebuild meanwhile does not switch it)."""
    build = build or Build("after", caffe_home())
    env = dict(os.environ, GLOG_minloglevel="2", BENCH_CAFFE_HOME=str(build.home), **build.env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(build.home / "python"), env.get("PYTHONPATH")]))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


class Build:
    """A Caffe build to time: `label`, its product directory, and environment it runs with."""

    def __init__(self, label, home, env=None):
        self.label, self.home, self.env = label, Path(home), dict(env or {})


def openblas_coretype():
    """setup/openblas_coretype.py, the set-up's own detection of OpenBLAS's kernels, as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("openblas_coretype", REPO / "setup" / "openblas_coretype.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def builds_under_test(before=None):
    """The current build ("after"), and with --before PRODUCT an earlier one ("before"), run as
    it ran before setup/openblas_coretype.py: with the OpenBLAS kernels OpenBLAS picks by itself."""
    builds = [Build("after", caffe_home())]
    if before:
        coretype = openblas_coretype()
        core = coretype.detected_core(coretype.openblas_of(str(Path(before) / "lib" / "libcaffe.so")))
        builds.insert(0, Build("before", before, {"OPENBLAS_CORETYPE": core}))
    return builds


def run_json(args, threads=THREADS, timeout=1800, build=None):
    """Runs `python ARGS` from the repository root with `threads` threads and pycaffe from `build`;
    returns its JSON stdout."""
    proc = subprocess.run([str(PYTHON), *map(str, args)], cwd=REPO, env=thread_env(threads, build),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values):
    return float(statistics.median(values))


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


def caffe_home():
    """The Caffe build under test: BENCH_CAFFE_HOME, or the one .venv points at."""
    return Path(os.environ["BENCH_CAFFE_HOME"]) if os.environ.get("BENCH_CAFFE_HOME") else dscmr_caffe_home()


def caffe_blas():
    """The BLAS library libcaffe.so resolves to, and the build's BUILD_INFO 'blas:' line."""
    lib = caffe_home() / "lib" / "libcaffe.so"
    ldd = subprocess.run(["ldd", str(next(caffe_home().glob("lib/libcaffe.so*")) if not lib.exists() else lib)],
                         capture_output=True, text=True).stdout
    libs = sorted({m.group(1) for m in re.finditer(r"^\s*(\S*(?:blas|mkl|gomp|iomp)\S*) => (\S+)", ldd, re.M)})
    info = (caffe_home() / "BUILD_INFO").read_text()
    blas = re.search(r"^blas: (.*)$", info, re.M)
    return {"build": caffe_home().name, "blas": blas.group(1) if blas else "unknown", "linked": libs}


def openblas_core():
    """OpenBLAS's kernel set (e.g. Cooperlake), or None when Caffe does not use OpenBLAS."""
    code = ("import ctypes, ctypes.util, sys\n"
            "from threadpoolctl import threadpool_info\n"
            "import caffe\n"
            "print([(i['internal_api'], i.get('architecture'), i.get('version')) for i in threadpool_info()])")
    proc = subprocess.run([str(PYTHON), "-c", code], cwd=REPO, env=thread_env(), capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr.strip()[-300:]


def machine():
    """CPU, cores, clock, peak fp32 GFLOP/s, memory, and the software the numbers depend on."""
    cpu = cpuinfo()
    mhz = float(cpu["mhz"])
    cores = os.cpu_count()
    mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
    per_cycle, why = fp32_flops_per_cycle(cpu)
    return {
        "cpu": cpu["model"], "cores": cores, "mhz": mhz,
        "isa": sorted(f for f in cpu["flags"] if f in {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
        "peak_fp32_gflops": round(cores * mhz * 1e-3 * per_cycle, 1),
        "peak_note": f"{cores} cores x {mhz / 1e3:.2f} GHz x {per_cycle} flops/cycle ({why}; nominal clock)",
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "threads": THREADS, "caffe": caffe_blas(), "blas_runtime": openblas_core(),
    }


def write_result(path, name, title, markdown, results):
    """The format run.py collects: a title, a Markdown section and the raw numbers."""
    Path(path).write_text(json.dumps({"name": name, "title": title, "markdown": markdown,
                                      "results": results}, indent=1))


def check_product(path):
    """An earlier Caffe build given with --before: a caffe-* directory of the cache with bin/caffe."""
    from dscmr.errors import InputError
    if not (Path(path) / "bin" / "caffe").is_file():
        raise InputError(path, "is not a Caffe build (no bin/caffe); give a caffe-* directory of the cache "
                               "(ls ~/.cache/dscmr)")
    return Path(path)


def bench_args(description, argv=None, extra=None):
    """The options every bench/bench_*.py takes: --json PATH, --quick and --before PRODUCT."""
    import argparse
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True, help="where to write this bench's result (run.py collects it)")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run in a few minutes")
    ap.add_argument("--before", metavar="PRODUCT",
                    help="also time this earlier Caffe build (a caffe-* directory of the cache), interleaved")
    if extra:
        extra(ap)
    opts = ap.parse_args(argv)
    if opts.before and not (Path(opts.before) / "bin" / "caffe").is_file():
        ap.error(f"--before {opts.before} is not a Caffe build (no bin/caffe)")
    return opts
