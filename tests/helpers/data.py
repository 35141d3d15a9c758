"""Small inputs for the data-preparation tests: faces with known landmarks, a CK+ tree, builds."""
import json
from pathlib import Path

import cv2
import numpy as np

from data_prep import synthau, synthau_face
from data_prep.lmdb_io import PairWriter, image_datum, read_split


def face(seed, active=()):
    """(canvas BGR image, its 68 landmarks) of a synthau face."""
    rng = synthau.sample_rng(seed, 9, 0)
    idt = synthau_face.identity(synthau.identity_rng(seed, 0))
    return synthau.render(idt, synthau_face.intensities(set(active), rng), rng)


def write_landmarks(path, pts):
    """A CK+ Landmarks file: one '   x   y' line per point, in CK+'s number format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in pts))


def write_ckplus(root, sequences):
    """A CK+ tree. sequences: [(subject, seq, {AU: intensity}, seed)]; 3 frames each, the last
    labelled. Returns {image path of the labelled frame: (canvas, landmarks)}."""
    out = {}
    for subject, seq, aus, seed in sequences:
        frames = []
        for k in range(1, 4):
            img, lm = face(seed * 10 + k, tuple(aus) if k == 3 else ())
            name = f"{subject}_{seq}_{k:08d}"
            p = root / "cohn-kanade-images" / subject / seq / f"{name}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), img)
            write_landmarks(root / "Landmarks" / subject / seq / f"{name}_landmarks.txt", lm)
            frames.append((p, name, img, lm))
        p, name, img, lm = frames[-1]
        facs = root / "FACS" / subject / seq / f"{name}_facs.txt"
        facs.parent.mkdir(parents=True, exist_ok=True)
        facs.write_text("".join(f"   {a:.7e}   {v:.7e}\n" for a, v in aus.items()))
        out[str(p)] = (img, lm)
    return out


def load(out):
    """(manifest, {split: [(key, image, labels)]}) of a built dataset."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    return manifest, {s: read_split(out / s) for s in ("train", "val", "test")}


def report_rows(out):
    """The skip report's rows as dicts (kind, split, where, reason)."""
    lines = (Path(out) / "skipped.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"))) for line in lines[1:]]


def write_random_lmdbs(root, n_aus, n_images=4, size=224, splits=("train", "val")):
    """Tiny LMDB splits of random images and 0 / 1 / 999 labels, in the builders' format."""
    rng = np.random.default_rng(0)
    for split in splits:
        writer = PairWriter(root / split)
        for i in range(n_images):
            image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            writer.put(i, image_datum(image), rng.choice([0.0, 1.0, 999.0], n_aus))
        writer.close()

