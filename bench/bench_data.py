"""Data builders' throughput: the built-in synthau builder into a temporary directory, images
per second (source faces rendered, and LMDB entries written, mirrored copies included).

  python bench/bench_data.py --json /tmp/data.json
  python bench/bench_data.py --json /tmp/data.json --train 2000
"""
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, REPO, bench_args, load_average, thread_env, write_result


def options(ap):
    ap.add_argument("--train", type=int, default=1600, help="train faces, mirrored (default: 1600; --quick: 400)")
    ap.add_argument("--jobs", type=int, default=2, help="builder worker processes (default: 2)")


def build_synthau(train, jobs):
    """Builds synthau with `train` mirrored train faces and train/8 val and test; returns counts and times."""
    with tempfile.TemporaryDirectory(prefix="bench-synthau-") as tmp:
        out = Path(tmp) / "synthau"
        args = ["-m", "data_prep.build_synthau", "--out", out, "--train", train, "--val", train // 8,
                "--test", train // 8, "--mirror", "--jobs", jobs, "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.run([str(PYTHON), *map(str, args)], cwd=REPO, env=thread_env(1),
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"build_synthau exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        manifest = json.loads((out / "manifest.json").read_text())
    sources = train + 2 * (train // 8)
    written = sources + train
    reported = re.search(r"in ([\d.]+) s", proc.stdout + proc.stderr)
    shown = ["<tmp>" if a == out else str(a) for a in args[2:]]
    return {"command": "au-build-synthau " + " ".join(shown),
            "source_images": sources, "lmdb_images": written, "wall_s": seconds,
            "builder_reported_s": float(reported.group(1)) if reported else None,
            "source_images_per_s": sources / seconds, "lmdb_images_per_s": written / seconds,
            "encoding": manifest["image"]["encoding"]}


def main(argv=None):
    opts = bench_args(__doc__, argv, options)
    loads = [load_average()]
    r = build_synthau(400 if opts.quick else opts.train, opts.jobs)
    loads.append(load_average())
    r["load_average"] = loads
    md = (f"synthau ({r['encoding']}), {opts.jobs} worker processes, `{r['command']}`: {r['source_images']} faces "
          f"rendered, {r['lmdb_images']} LMDB images (mirrors included) in {r['wall_s']:.1f} s (process wall time): "
          f"**{r['lmdb_images_per_s']:.0f} LMDB images/s**, {r['source_images_per_s']:.0f} rendered faces/s. "
          f"Load average before and after: {loads[0][0]}, {loads[1][0]}.")
    write_result(opts.json, "data", "Data builders", md, {"synthau": r})


if __name__ == "__main__":
    main()
