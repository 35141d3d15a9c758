"""--annotate: copies of the inputs with each face's box and AU probabilities drawn.

Images become <DIR>/<stem>.png, videos <DIR>/<stem>.avi (Motion JPEG, the input's frame rate);
a second input with the same stem gets <stem>-2, and so on. Each face gets its box, its face_id,
and one bar per AU, filled to its probability (also printed), green at or above the threshold.
"""
from pathlib import Path

import cv2

from tools.predict.table import au_name

GREEN, GREY, WHITE = (60, 200, 60), (150, 150, 150), (255, 255, 255)


def draw(image, faces, aus, threshold):
    """image with faces [(face_id, (x, y, w, h), probabilities or None)] drawn on it."""
    out = image.copy()
    unit = max(10, min(out.shape[:2]) // 40)
    font = unit / 30
    for face_id, (x, y, w, h), probs in faces:
        cv2.rectangle(out, (x, y), (x + w, y + h), WHITE, max(1, unit // 8))
        cv2.putText(out, str(face_id), (x, max(unit, y - unit // 3)), cv2.FONT_HERSHEY_SIMPLEX, font * 1.3, WHITE, 1,
                    cv2.LINE_AA)
        if probs is None:
            continue
        left, bar = x + w + unit // 2, 4 * unit
        for i, (au, p) in enumerate(zip(aus, probs)):
            top = y + i * unit
            colour = GREEN if p >= threshold else GREY
            cv2.putText(out, au_name(au), (left, top + unit - 2), cv2.FONT_HERSHEY_SIMPLEX, font, WHITE, 1, cv2.LINE_AA)
            x0 = left + int(2.6 * unit)
            cv2.rectangle(out, (x0, top + 2), (x0 + bar, top + unit - 2), GREY, 1)
            cv2.rectangle(out, (x0, top + 2), (x0 + int(round(p * bar)), top + unit - 2), colour, -1)
            cv2.putText(out, f"{p:.2f}", (x0 + bar + unit // 3, top + unit - 2), cv2.FONT_HERSHEY_SIMPLEX, font,
                        WHITE, 1, cv2.LINE_AA)
    return out


class Annotator:
    """Writes the annotated frames of each source under a folder."""

    def __init__(self, folder, aus, threshold):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.aus, self.threshold = aus, threshold
        self.used = set()
        self.video, self.fps = None, 0.0

    def _name(self, source_path, suffix):
        stem, n = Path(source_path).stem, 1
        while (name := f"{stem}{'' if n == 1 else f'-{n}'}{suffix}") in self.used:
            n += 1
        self.used.add(name)
        return self.folder / name

    def start(self, path, kind, fps):
        """A new source begins: its path, "image" or "video", its frame rate (videos)."""
        self.close()
        self.path, self.kind, self.fps = path, kind, fps

    def frame(self, image, faces):
        drawn = draw(image, faces, self.aus, self.threshold)
        if self.kind == "image":
            cv2.imwrite(str(self._name(self.path, ".png")), drawn)
            return
        if self.video is None:
            h, w = drawn.shape[:2]
            self.video = cv2.VideoWriter(str(self._name(self.path, ".avi")), cv2.VideoWriter_fourcc(*"MJPG"),
                                         self.fps or 25.0, (w, h))
        self.video.write(drawn)

    def close(self):
        if self.video is not None:
            self.video.release()
            self.video = None
