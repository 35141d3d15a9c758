"""Caffe build times: cached (the finished product found: seconds) and, with --cold, cold (an
empty cache: source fetch, patch, configure, compile; 4-15 min on 2 cores). The cold build goes
into a temporary cache that is removed afterwards; the cached run then points .venv back at the
usual cache's build.

  python bench/bench_build.py --json /tmp/build.json           # cached only
  python bench/bench_build.py --json /tmp/build.json --cold    # cold, then cached
"""
import os
import shutil
import subprocess
import tempfile
import time

from bench.common import REPO, bench_args, load_average, write_result


def timed_build(env):
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", "setup/build_caffe.sh"], cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"setup/build_caffe.sh exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr.strip().splitlines()[-1]


def main(argv=None):
    opts = bench_args(__doc__, argv, lambda ap: ap.add_argument(
        "--cold", action="store_true", help="also a cold build into an empty temporary cache"))
    results, loads = {"jobs": os.cpu_count()}, [load_average()]
    if opts.cold and not opts.quick:
        cold_cache = tempfile.mkdtemp(prefix="bench-cold-cache-")
        try:
            results["cold_s"], _ = timed_build(dict(os.environ, DSCMR_CACHE=cold_cache))
        finally:
            shutil.rmtree(cold_cache)
        loads.append(load_average())
    results["cached_s"], results["cached_says"] = timed_build(dict(os.environ))
    loads.append(load_average())
    results["load_average"] = loads
    cold = f"cold {results['cold_s']:.0f} s (empty cache, source fetch included), " if "cold_s" in results else ""
    md = (f"`setup/build_caffe.sh` with {results['jobs']} jobs: {cold}cached {results['cached_s']:.1f} s. "
          f"Load average: {', '.join(str(load[0]) for load in loads)}.")
    write_result(opts.json, "build", "Caffe build times", md, results)


if __name__ == "__main__":
    main()
