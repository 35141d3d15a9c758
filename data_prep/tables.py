"""Label tables (EmotioNet's label file, the generic CSV): reading, label values, two-pass planning.

Pass 1 parses every row, reports the bad ones (file:line) and counts the good ones per split; pass 2
streams the same rows again as tasks, so memory stays bounded for about 10^6 rows (only a 64-bit
hash per image path is kept, to find duplicates).
"""
import csv
import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from data_prep.pipeline import Task
from dscmr.errors import InputError
from dscmr.paper import IGNORE_LABEL


class RowError(Exception):
    """A bad row; the message says what is wrong (the caller adds file:line)."""


@dataclass
class Row:
    split: str
    image: str                 # the path the worker opens
    labels: np.ndarray         # float32 0 / 1 / IGNORE_LABEL
    landmarks: object = None   # (k, 2) float array, or None to detect


def parse_label(text, column):
    """0, 1 or 999 (not annotated, the ignore label) from a cell."""
    try:
        v = float(text)
    except ValueError:
        v = None
    if v not in (0.0, 1.0, float(IGNORE_LABEL)):
        raise RowError(f"{column} is {text.strip()!r}; labels must be 0, 1 or {IGNORE_LABEL} (not annotated)")
    return v


def sniff_delimiter(path):
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline()
    except UnicodeDecodeError:
        raise InputError(path, "is not a text table (not UTF-8 text on line 1)", 1) from None
    return "\t" if "\t" in first else ","


def read_rows(path, delimiter):
    """(line number, fields) of each non-blank row."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = enumerate(csv.reader(f, delimiter=delimiter), start=1)
        i = 0
        while True:
            try:
                i, fields = next(rows)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise InputError(path, "is not a text table (not UTF-8 text)", i + 1) from None
            if fields and any(x.strip() for x in fields):
                yield i, [x.strip() for x in fields]


def _hash(text):
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def plan(path, delimiter, first_data_line, parse, report):
    """Pass 1: (tasks per split, the set of bad line numbers). parse(fields) -> Row or RowError."""
    counts, bad, seen = Counter(), set(), {}
    for line, fields in read_rows(path, delimiter):
        if line < first_data_line:
            continue
        try:
            row = parse(fields)
        except RowError as e:
            report.skip(None, f"{path}:{line}", e)
            bad.add(line)
            continue
        h = _hash(row.image)
        if h in seen:
            report.skip(row.split, f"{path}:{line}", f"duplicate path {row.image!r}: already on line {seen[h]}")
            bad.add(line)
            continue
        seen[h] = line
        counts[row.split] += 1
    return counts, bad


def tasks(path, delimiter, first_data_line, parse, bad):
    """Pass 2: the good rows as Tasks, in file order."""
    for line, fields in read_rows(path, delimiter):
        if line < first_data_line or line in bad:
            continue
        row = parse(fields)
        yield Task(row.split, (row.image, row.landmarks), row.labels, f"{row.image} ({path}:{line})")
