"""Derived datasets: a subset of an existing dataset's samples and AU columns, as new LMDB pairs.

The paper's experiments train on parts of one database (Sec. 3.2): AU1 alone at N:P 5 to 30 with
a balanced test set (Fig. 5), the first 3, 5, 8 or 11 AUs (Tables 2-3), or all of them (Tables 4-5).
tools/experiments/reproduce.py builds those from any data_prep dataset (synthau, CK+, EmotioNet) with the
functions here. Image Datums are copied byte for byte, labels keep only the chosen columns, and
samples keep their source order (the source's seeded shuffle). A derived dataset is written into a
temporary directory and renamed into place; its manifest records the source and the selection, so
an existing one is reused only if it was derived the same way.
"""
import fcntl
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from data_prep.lmdb_io import PairWriter, check_split, decode_labels, open_readonly
from data_prep.pipeline import SPLITS
from dscmr.dataset import fingerprint, read_manifest
from dscmr.errors import InputError
from dscmr.paper import IGNORE_LABEL


def read_labels(split_dir):
    """(keys, labels N x n) of a split, in key order (the order Caffe reads)."""
    path = Path(split_dir) / "labels"
    if not path.is_dir():
        raise InputError(path, "not found (expected a label LMDB written by data_prep)")
    keys, rows = [], []
    with open_readonly(path) as env, env.begin() as txn:
        for k, v in txn.cursor():
            keys.append(k)
            rows.append(decode_labels(v))
    if not rows:
        raise InputError(path, "holds no samples")
    return keys, np.stack(rows)


def first(count, cap):
    """The first min(count, cap) positions; cap None keeps all."""
    return list(range(count if cap is None else min(count, cap)))


def with_ratio(column, ratio, positives, seed=1):
    """Positions of `positives` positive and ratio x positives negative samples of one AU column
    (the first of each in source order; ignored labels are never chosen), in a seeded shuffle:
    Caffe reads in order, so every stretch of the set, not only the whole, has the ratio."""
    pos = np.flatnonzero(column == 1)[:positives]
    neg = np.flatnonzero(column == 0)[:int(round(ratio * positives))]
    if len(pos) < positives or len(neg) < round(ratio * positives):
        raise ValueError(f"wants {positives} positives and {round(ratio * positives)} negatives, "
                         f"the split has {int(np.sum(column == 1))} and {int(np.sum(column == 0))}")
    return np.random.default_rng(seed).permutation(np.concatenate([pos, neg])).tolist()


def balanced(column, cap):
    """Positions of equally many positive and negative samples of one AU column (at most cap in all)."""
    per_class = min(int(np.sum(column == 1)), int(np.sum(column == 0)))
    if cap is not None:
        per_class = min(per_class, cap // 2)
    if per_class == 0:
        raise ValueError("a balanced set needs positive and negative samples; the split lacks one class")
    return sorted(np.concatenate([np.flatnonzero(column == 1)[:per_class],
                                  np.flatnonzero(column == 0)[:per_class]]).tolist())


def split_counts(labels, aus):
    return {"count": len(labels),
            "positives": {f"AU{a}": int(np.sum(labels[:, i] == 1)) for i, a in enumerate(aus)},
            "negatives": {f"AU{a}": int(np.sum(labels[:, i] == 0)) for i, a in enumerate(aus)}}


def derivation_of(source, manifest, aus, description):
    """What a derived manifest records of how it was derived."""
    return {"source": str(source), "source_command": manifest.get("command"), "aus": list(aus),
            "selection": description}


def derive(source, out, aus, select, description):
    """Writes `out`: the samples select(split, labels restricted to aus) of each split of `source`,
    with the label columns of `aus`. Reuses `out` when it was derived alike. Returns out's manifest."""
    source, out = Path(source).resolve(), Path(out)
    manifest = read_manifest(source)
    missing = [a for a in aus if a not in manifest["aus"]]
    if missing:
        raise InputError(source, f"has AUs {manifest['aus']}, not AU{', AU'.join(map(str, missing))}")
    derivation = derivation_of(source, manifest, aus, description)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Runs of one experiment trained side by side (au-reproduce --only, one process each) derive the
    # same datasets: the second waits for the first and reuses its output instead of replacing it
    # under a running caffe.
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "manifest.json").is_file() and read_manifest(out).get("derivation") == derivation:
            for split in SPLITS:      # reused: whole, before a caffe maps it
                check_split(out / split)
            return read_manifest(out)
        return write_derived(source, out, manifest, aus, select, derivation)


def chosen_samples(source, manifest, aus, select):
    """{split: (keys, labels of aus, the positions select chooses)} of a source dataset."""
    columns = [manifest["aus"].index(a) for a in aus]
    chosen = {}
    for split in SPLITS:
        keys, labels = read_labels(source / split)
        labels = labels[:, columns]
        chosen[split] = (keys, labels, select(split, labels))
    return chosen


def derived_manifest(manifest, aus, chosen, derivation):
    """The manifest of the dataset derived from manifest's samples chosen (chosen_samples)."""
    splits = {split: split_counts(labels[positions], aus) for split, (_, labels, positions) in chosen.items()}
    return dict(manifest, aus=list(aus), labels=[f"AU{a}" for a in aus], splits=splits, ignore_label=IGNORE_LABEL,
                derivation=derivation)


def fingerprint_of(source, aus, select, description):
    """The fingerprint (dscmr.dataset.fingerprint) of the dataset derive() would write, from the source's
    labels alone, writing nothing: whether a run recorded as trained on a derived dataset was trained on
    this source's."""
    source = Path(source).resolve()
    manifest = read_manifest(source)
    derivation = derivation_of(source, manifest, aus, description)
    return fingerprint(derived_manifest(manifest, aus, chosen_samples(source, manifest, aus, select), derivation))


def write_derived(source, out, manifest, aus, select, derivation):
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        chosen = chosen_samples(source, manifest, aus, select)
        for split, (keys, labels, positions) in chosen.items():
            writer = PairWriter(tmp / split)
            with open_readonly(source / split / "images") as env, env.begin() as txn:
                for index, position in enumerate(positions):
                    raw = txn.get(keys[position])
                    if raw is None:
                        raise InputError(f"{source / split}/images", f"lacks key {keys[position].decode()} "
                                         f"that its labels LMDB holds")
                    writer.put(index, raw, labels[position])
            writer.close()
        derived = derived_manifest(manifest, aus, chosen, derivation)
        (tmp / "manifest.json").write_text(json.dumps(derived, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return derived
