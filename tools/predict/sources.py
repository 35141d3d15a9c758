"""What au-predict reads: image files, folders of them, and video files (OpenCV), as frames.

A folder contributes every image and video below it whose extension is known; a file named on
the command line is read whatever its extension (as an image, else as a video). Anything that
cannot be read is an Unreadable, which names the path and the reason.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import cv2

from data_prep.faces.worker import read_image
from dscmr.errors import SkipItem

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}


class Unreadable(Exception):
    """An input that gives no frame; str() is the reason."""


@dataclass(frozen=True)
class Source:
    path: str      # as the user named it (a folder's files joined to the folder as given)
    kind: str      # "image", "video" or "file" (named explicitly, extension unknown)


def kind_of(path):
    ext = Path(path).suffix.lower()
    return "image" if ext in IMAGE_EXTS else "video" if ext in VIDEO_EXTS else "file"


def expand(inputs):
    """(sources sorted by path, without repeats; [(input, reason)] for inputs that are not there)."""
    found, missing = set(), []
    for item in inputs:
        if os.path.isdir(item):
            files = [os.path.join(d, f) for d, _, names in os.walk(item) for f in names
                     if kind_of(f) != "file"]
            if not files:
                missing.append((item, "folder holds no image or video file"))
            found.update(Source(f, kind_of(f)) for f in files)
        elif os.path.isfile(item):
            found.add(Source(item, kind_of(item)))
        else:
            missing.append((item, "no such file or folder"))
    return sorted(found, key=lambda s: s.path), missing


def frame_count(source):
    """Frames a source will give, for the progress bar (a video's container may not know: 1)."""
    if source.kind != "video":
        return 1
    cap = cv2.VideoCapture(source.path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    return max(n, 1)


@dataclass
class Opened:
    kind: str      # "image" or "video"
    fps: float     # a video's frame rate (0 if unknown); 0 for an image
    frames: object  # iterator of (frame index, timestamp in seconds, BGR image)


def _image(path):
    try:
        image = read_image(path)
    except SkipItem as e:
        raise Unreadable(f"not a readable image ({e.__context__ or e})")
    return Opened("image", 0.0, iter([(0, 0.0, image)]))


def _video_frames(cap, fps):
    try:
        index = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            yield index, index / fps if fps > 0 else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, image
            index += 1
        if index == 0:
            raise Unreadable("OpenCV opens it but decodes no frame")
    finally:
        cap.release()


def _video(path):
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise Unreadable("OpenCV cannot open it as a video")
    fps = cap.get(cv2.CAP_PROP_FPS)
    return Opened("video", fps, _video_frames(cap, fps))


def open_source(source):
    """An Opened source; an image is read here, a video's frames as they are iterated (a video
    that gives no frame raises Unreadable then)."""
    if source.kind == "image":
        return _image(source.path)
    if source.kind == "video":
        return _video(source.path)
    try:
        return _image(source.path)
    except Unreadable as as_image:
        try:
            return _video(source.path)
        except Unreadable:
            raise Unreadable(f"neither an image ({as_image}) nor a video OpenCV can open")
