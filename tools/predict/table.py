"""The per-face CSV (docs/predict.md, "The CSV"): OpenFace-like columns, written atomically.

One row per face per frame, and one row with success 0 for a frame without a face (its
confidence, box and AU columns empty, which pandas reads as NaN). The rows go to a temporary file
beside the output, renamed into place only when the run completes.
"""
import csv
import os
from pathlib import Path

META = ("file", "frame", "face_id", "timestamp", "success", "confidence",
        "bbox_x", "bbox_y", "bbox_w", "bbox_h")


def au_name(au):
    return f"AU{au:02d}"


def columns(aus):
    return [*META, *(f"{au_name(a)}_p" for a in aus), *(f"{au_name(a)}_c" for a in aus)]


class CsvOut:
    """`with CsvOut(path, aus, threshold) as out: out.face(...); out.no_face(...)`."""

    def __init__(self, path, aus, threshold):
        self.path = Path(path)
        self.aus, self.threshold = tuple(aus), threshold
        self.tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self.rows = 0

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)
        self.writer.writerow(columns(self.aus))
        return self

    def __exit__(self, exc_type, exc, tb):
        self.file.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False

    def face(self, file, frame, face_id, timestamp, confidence, bbox, probs):
        """A detected face; probs None when it could not be aligned (success 0)."""
        ok = probs is not None
        au = ([f"{p:.4f}" for p in probs] + [int(p >= self.threshold) for p in probs]) if ok \
            else [""] * (2 * len(self.aus))
        self.writer.writerow([file, frame, face_id, f"{timestamp:.4f}", int(ok), f"{confidence:.4f}", *bbox, *au])
        self.rows += 1

    def no_face(self, file, frame, timestamp):
        self.writer.writerow([file, frame, 0, f"{timestamp:.4f}", 0, "", "", "", "", "", *[""] * (2 * len(self.aus))])
        self.rows += 1
