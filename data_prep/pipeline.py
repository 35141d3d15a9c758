"""The build every builder shares: atomic output, parallel workers, LMDB writing, skip report,
manifest, summary (docs/data.md, "How every builder behaves").

A builder plans its tasks (one per source image, with its split and labels), and a worker function
turns a task's payload into an aligned 224 x 224 BGR image in a worker process. The build writes
into a hidden temporary directory beside the output and renames it into place when complete, so an
interrupted build never looks finished; the next run removes the leftovers and starts again.
"""
import argparse
import fcntl
import json
import multiprocessing
import os
import shlex
import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from data_prep.lmdb_io import ENCODINGS, PairWriter, check_split, image_datum, key
from dscmr.errors import InputError, RunError, SkipItem
from dscmr.files import dump_json
from dscmr.paper import IGNORE_LABEL

tqdm.monitor_interval = 0  # no monitor thread: the worker pool forks

SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1
CHUNK = 16          # tasks sent to a worker at once
WINDOW_PER_JOB = 3  # chunks in flight per worker: bounds the images held in memory


@dataclass
class Task:
    split: str
    payload: object      # what the worker function gets
    labels: np.ndarray   # float32, one per AU; IGNORE_LABEL where not annotated
    source: str          # where the image came from (a path, or a synthau sample name)


class Report:
    """The skip report: a TSV of skipped items and notes, each with the file (and line) at fault."""

    def __init__(self, path, strict):
        self.path, self.strict = path, strict
        self.skips = Counter()
        self.notes = 0
        self.file = open(path, "w", encoding="utf-8")
        self.file.write("kind\tsplit\twhere\treason\n")

    def _write(self, kind, split, where, reason):
        self.file.write(f"{kind}\t{split or '-'}\t{where}\t{' '.join(str(reason).split())}\n")

    def skip(self, split, where, reason):
        if self.strict:
            raise InputError(where, f"{reason} (--strict: any skipped item fails the build)")
        self._write("skipped", split, where, reason)
        self.skips[split or "-"] += 1

    def note(self, split, where, reason):
        """Something ignored that does not cost an item (e.g. a FACS AU outside --aus)."""
        self._write("note", split, where, reason)
        self.notes += 1

    def close(self):
        self.file.close()


def add_common_args(parser, default_out, default_encoding="png"):
    """The options every builder has."""
    g = parser.add_argument_group("output (common to all builders)")
    g.add_argument("--out", type=Path, default=Path(default_out),
                   help="dataset directory to write (default: %(default)s); it appears only when complete")
    g.add_argument("--seed", type=int, default=1,
                   help="seed of the split, of the shuffle and of synthau's faces (default: %(default)s)")
    g.add_argument("--encode", choices=ENCODINGS, default=default_encoding,
                   help="store images raw, or as PNG (lossless) or JPEG bytes that Caffe decodes (default: %(default)s)")
    g.add_argument("--jpeg-quality", type=int, default=95, metavar="Q",
                   help="JPEG quality with --encode jpg (default: %(default)s)")
    g.add_argument("--mirror", action="store_true",
                   help="add a horizontally mirrored copy of every train image (Sec. 3.1: \"Each face was "
                        "horizontally mirrored for data augmentation\"); val and test are never mirrored")
    g.add_argument("--strict", action="store_true", help="fail on the first item that would be skipped")
    g.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                   help="worker processes for alignment/rendering (default: the CPUs available, %(default)s)")
    g.add_argument("--force", action="store_true", help="rebuild even if --out is up to date")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_split_fractions(text):
    """'0.8,0.1,0.1' (or '80,10,10') -> train, val, test fractions summing to 1."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--split wants three numbers like 80,10,10, got {text!r}")
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise argparse.ArgumentTypeError(f"--split wants three non-negative numbers like 80,10,10, got {text!r}")
    return tuple(p / sum(parts) for p in parts)


def split_of(seed, group, fractions):
    """The split of a group (a path or a subject) by a seeded hash: stable, streaming, no state;
    the fractions are met on average."""
    import hashlib
    h = hashlib.blake2b(f"{seed}\0{group}".encode(), digest_size=8).digest()
    u = int.from_bytes(h, "little") / 2.0 ** 64
    edges = np.cumsum(fractions)
    return SPLITS[min(int(np.searchsorted(edges, u, side="right")), 2)]


def _np_ratio(neg, pos):
    return round(neg / pos, 4) if pos else None


class SplitStats:
    def __init__(self, n_aus):
        self.count = 0
        self.sources = 0
        self.pos = np.zeros(n_aus, np.int64)
        self.neg = np.zeros(n_aus, np.int64)
        self.ign = np.zeros(n_aus, np.int64)
        self.channel_sum = np.zeros(3, np.float64)

    def add(self, channel_mean, labels, copies):
        self.sources += 1
        self.count += copies
        self.pos += copies * (labels == 1)
        self.neg += copies * (labels == 0)
        self.ign += copies * (labels == IGNORE_LABEL)
        self.channel_sum += copies * channel_mean

    def summary(self, aus):
        names = [f"AU{a}" for a in aus]
        return {"count": int(self.count), "sources": int(self.sources),
                "positives": dict(zip(names, map(int, self.pos))),
                "negatives": dict(zip(names, map(int, self.neg))),
                "ignored": dict(zip(names, map(int, self.ign))),
                "np_ratio": {n: _np_ratio(int(a), int(b)) for n, a, b in zip(names, self.neg, self.pos)}}


_WORKER = {}


def _worker_init(fn, init, init_args, encoding, jpeg_quality):
    _WORKER.update(fn=fn, encoding=encoding, jpeg_quality=jpeg_quality)
    if init is not None:
        init(*init_args)


def _run_chunk(chunk):
    """In a worker: each (payload, mirror) -> ('ok', (image Datums, channel means)) or ('skip', why).
    The Datums (the image, then its mirror image if asked) are serialized here, off the writer."""
    fn, enc, q = _WORKER["fn"], _WORKER["encoding"], _WORKER["jpeg_quality"]
    out = []
    for payload, mirror in chunk:
        try:
            image = fn(payload)
        except SkipItem as e:
            out.append(("skip", str(e)))
            continue
        datums = [image_datum(image, enc, q)]
        if mirror:
            datums.append(image_datum(np.ascontiguousarray(image[:, ::-1]), enc, q))
        out.append(("ok", (datums, np.array(cv2.mean(image)[:3]))))
    return out


def _chunks(tasks, size):
    buf = []
    for t in tasks:
        buf.append(t)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def _ordered_results(tasks, fn, init, init_args, jobs, encoding, jpeg_quality, mirror_train):
    """(task, ('ok', (datums, channel means)) | ('skip', reason)) in task order, with at most
    jobs * WINDOW_PER_JOB chunks in flight, so memory stays bounded however many tasks stream in."""
    initargs = (fn, init, init_args, encoding, jpeg_quality)

    def work(chunk):
        return [(t.payload, mirror_train and t.split == "train") for t in chunk]
    if jobs <= 1:
        _worker_init(*initargs)
        for chunk in _chunks(tasks, CHUNK):
            yield from zip(chunk, _run_chunk(work(chunk)))
        return
    ctx = multiprocessing.get_context("fork")
    # Single-threaded OpenCV in the workers: the processes already fill the cores, and OpenCV's
    # threads on top of them only compete (13 % slower on 2 cores); the pixels are the same. Set
    # in this process before the fork (a forked child must not reconfigure OpenCV's thread pool:
    # it hangs) and restored afterwards.
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield from _ordered_pool_results(ctx, jobs, initargs, tasks, work)
    finally:
        cv2.setNumThreads(cv_threads)


def _ordered_pool_results(ctx, jobs, initargs, tasks, work):
    with ctx.Pool(jobs, initializer=_worker_init, initargs=initargs) as pool:
        pending = deque()
        for chunk in _chunks(tasks, CHUNK):
            pending.append((chunk, pool.map_async(_run_chunk, [work(chunk)])))
            if len(pending) >= jobs * WINDOW_PER_JOB:
                done, res = pending.popleft()
                yield from zip(done, res.get()[0])
        while pending:
            done, res = pending.popleft()
            yield from zip(done, res.get()[0])


class Build:
    """One dataset build: `with Build(args, name, config, prog, argv) as b:` then b.write(...).

    Holds a lock beside the output, says "up to date" when the output's manifest has the same
    config (unless --force), writes into a temporary directory, renames it into place on success
    and removes it on failure.
    """

    def __init__(self, args, name, config, prog, argv):
        self.args, self.name = args, name
        self.out = Path(args.out)
        self.config = json.loads(json.dumps(config))
        self.command = " ".join(shlex.quote(str(a)) for a in [prog, *argv])
        self.up_to_date = False

    def __enter__(self):
        parent = self.out.parent
        parent.mkdir(parents=True, exist_ok=True)
        self.lock = open(parent / f".{self.out.name}.lock", "w")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock.close()
            raise RunError(f"another build of {self.out} is running (lock: {self.lock.name})")
        manifest = self.out / "manifest.json"
        if not self.args.force and manifest.is_file():
            try:
                self.up_to_date = json.loads(manifest.read_text()).get("config") == self.config
            except json.JSONDecodeError:
                self.up_to_date = False
        if self.up_to_date:
            try:
                for split in SPLITS:
                    check_split(self.out / split)
                return self
            except InputError as e:     # built, then cut short (a partial copy, a full disk): built again
                print(f"{e}; building {self.out} again", file=sys.stderr)
                self.up_to_date = False
        for stale in parent.glob(f".{self.out.name}.partial-*"):
            shutil.rmtree(stale)
        self.tmp = parent / f".{self.out.name}.partial-{os.getpid()}"
        self.tmp.mkdir()
        self.report = Report(self.tmp / "skipped.tsv", self.args.strict)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if not self.up_to_date:
                self.report.close()
                failed_report = self.out.parent / f"{self.out.name}.skipped.tsv"
                if exc_type is None:
                    old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
                    if self.out.exists():
                        self.out.rename(old)
                    self.tmp.rename(self.out)
                    shutil.rmtree(old, ignore_errors=True)
                    failed_report.unlink(missing_ok=True)
                else:
                    if sum(self.report.skips.values()) or self.report.notes:
                        shutil.move(self.report.path, failed_report)
                    shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            self.lock.close()
        return False

    def write(self, aus, counts, tasks, worker, init=None, init_args=(), source="", extra=None):
        """Runs the workers over tasks (an iterable of Task, streamed) and writes the splits.

        counts: the number of tasks each split will get (it sizes that split's key permutation).
        """
        args, t0 = self.args, time.time()
        mirror_train = args.mirror
        rng = np.random.default_rng([args.seed, 0x5EED])
        slots, perms, writers, stats, index = {}, {}, {}, {}, {}
        for s in SPLITS:
            copies = 2 if (mirror_train and s == "train") else 1
            perms[s] = rng.permutation(max(counts.get(s, 0), 0) * copies)
            slots[s] = 0
            writers[s] = PairWriter(self.tmp / s)
            stats[s] = SplitStats(len(aus))
            index[s] = open(self.tmp / s / "index.tsv", "w", encoding="utf-8")
            index[s].write("key\tsource\t" + "\t".join(f"AU{a}" for a in aus) + "\n")
        total = sum(counts.values())
        bar = tqdm(total=total, unit="img", desc=self.name, disable=args.no_progress,
                   mininterval=0.5, dynamic_ncols=True)
        try:
            results = _ordered_results(tasks, worker, init, init_args, args.jobs, args.encode,
                                       args.jpeg_quality, mirror_train)
            for task, (status, value) in results:
                s = task.split
                bar.update(1)
                copies = 2 if (mirror_train and s == "train") else 1
                slot = slots[s]
                slots[s] += 1
                if status == "skip":
                    self.report.skip(s, task.source, value)
                    bar.set_postfix(skipped=sum(self.report.skips.values()), refresh=False)
                    continue
                datums, channel_mean = value
                labels = "\t".join(f"{v:g}" for v in task.labels)
                for c, datum in enumerate(datums):
                    k = int(perms[s][slot * copies + c])
                    writers[s].put(k, datum, task.labels)
                    index[s].write(f"{key(k).decode()}\t{task.source}{' (mirrored)' * c}\t{labels}\n")
                stats[s].add(channel_mean, task.labels, copies)
        finally:
            bar.close()
            for w in writers.values():
                w.close()
            for f in index.values():
                f.close()
        for s in SPLITS:
            if slots[s] != counts.get(s, 0):
                raise RuntimeError(f"{self.name}: split {s} planned {counts.get(s, 0)} tasks but got {slots[s]}")
        if stats["train"].count == 0:
            raise InputError(self.name, "no usable train image; the skipped items are listed in "
                                        f"{self.out.parent / (self.out.name + '.skipped.tsv')}")
        manifest = self._manifest(aus, stats, source, extra or {})
        (self.tmp / "manifest.json").write_text(dump_json(manifest))
        self._print_summary(aus, manifest, time.time() - t0, total)
        return manifest

    def _manifest(self, aus, stats, source, extra):
        args = self.args
        train = stats["train"]
        mean = train.channel_sum / train.count
        return {"format": FORMAT_VERSION, "dataset": self.name,
                "aus": list(aus), "labels": [f"AU{a}" for a in aus], "ignore_label": IGNORE_LABEL,
                "image": {"channels": 3, "height": 224, "width": 224, "order": "BGR",
                          "encoding": args.encode},
                "layout": {s: {"images": f"{s}/images", "labels": f"{s}/labels"} for s in SPLITS},
                "splits": {s: stats[s].summary(aus) for s in SPLITS},
                "mirrored_train": bool(args.mirror),
                "mean_bgr": [round(float(m), 4) for m in mean],
                "source": source, "seed": args.seed, "command": self.command,
                "skipped": dict(self.report.skips), "notes": self.report.notes,
                "config": self.config, **extra}

    def _print_summary(self, aus, manifest, seconds, total):
        out = [f"{self.name}: {total} source images in {seconds:.1f} s "
               f"({total / max(seconds, 1e-9):.1f}/s, {self.args.jobs} jobs) -> {self.out}"]
        out.append("  split   images  skipped  " + " ".join(f"{'AU%d' % a:>7}" for a in aus))
        for s in SPLITS:
            sp = manifest["splits"][s]
            ratios = " ".join(f"{'-' if r is None else format(r, '.2f'):>7}" for r in sp["np_ratio"].values())
            out.append(f"  {s:<6} {sp['count']:>7} {self.report.skips.get(s, 0):>8}  {ratios}   (N:P per AU)")
        out.append(f"  mean BGR of train: {manifest['mean_bgr']}")
        n_skip = sum(self.report.skips.values())
        if n_skip or self.report.notes:
            out.append(f"  {n_skip} skipped, {self.report.notes} notes: see {self.out / 'skipped.tsv'}")
        print("\n".join(out), flush=True)
