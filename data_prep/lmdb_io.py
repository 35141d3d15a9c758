"""The LMDB format the nets read (docs/data.md, "LMDB format").

Per split: images/ holds uint8 Datums 3 x 224 x 224 in BGR (raw, or PNG/JPEG bytes with
encoded=True), labels/ holds float Datums n x 1 x 1 (float_data; 999 = ignore), with the same keys.
Caffe's Data layer reads each LMDB in key order, so the keys carry the (seeded) shuffle.
"""
import struct
from pathlib import Path

import cv2
import lmdb
import numpy as np

from dscmr.caffe_home import caffe_pb2
from dscmr.errors import InputError

# Caffe's own convert_imageset reserves 1 TiB of address space; the file only grows as it fills.
MAP_SIZE = 1 << 40
ENCODINGS = ("none", "png", "jpg")


# LMDB's two meta pages (lmdb.h, MDB_meta) after a 16-byte page header: the magic, the page size (kept in
# the free database's md_pad), the last page in use and the transaction id; the newer of the two is current.
LMDB_MAGIC = 0xBEEFC0DE
META = {"magic": 16, "page_size": 40, "last_page": 136, "txnid": 144}


def implied_size(data_mdb):
    """The bytes data.mdb holds by its current meta page (the end of its last page in use), or None
    when it does not start with LMDB's meta pages."""
    with open(data_mdb, "rb") as f:
        head = f.read(META["txnid"] + 8)
        if len(head) < META["txnid"] + 8 or struct.unpack_from("<I", head, META["magic"])[0] != LMDB_MAGIC:
            return None
        page = struct.unpack_from("<I", head, META["page_size"])[0]
        f.seek(page)
        second = f.read(META["txnid"] + 8)
    metas = [struct.unpack_from("<QQ", m, META["last_page"]) for m in (head, second) if len(m) == len(head)]
    last_page, _ = max(metas, key=lambda m: m[1])
    return (last_page + 1) * page


def checked(env_dir):
    """env_dir, once its data.mdb holds what its header says: a copy cut short or a write that ran out of
    disk would make whoever maps it (py-lmdb, Caffe) die of SIGBUS. InputError naming it otherwise."""
    data = Path(env_dir) / "data.mdb"
    if not data.is_file():
        raise InputError(env_dir, "not found (expected an LMDB written by data_prep)")
    size, implied = data.stat().st_size, implied_size(data)
    if implied is None:
        raise InputError(data, "not an LMDB (no LMDB header)")
    if size < implied:
        raise InputError(data, f"truncated LMDB ({size} bytes, its header says {implied}: a partial copy or a full "
                               "disk; build or copy it again)")
    return Path(env_dir)


def open_readonly(env_dir):
    """lmdb.open for reading, of a `checked` LMDB."""
    return lmdb.open(str(checked(env_dir)), readonly=True, lock=False)


def check_split(split_dir):
    """A split's images and labels LMDBs, `checked`, before Caffe maps them."""
    for name in ("images", "labels"):
        checked(Path(split_dir) / name)


def _datum():
    return caffe_pb2().Datum()


def image_datum(image_bgr, encoding="none", jpeg_quality=95):
    """Serialized Datum of an H x W x 3 uint8 BGR image."""
    if image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {image_bgr.dtype} {image_bgr.shape}")
    d = _datum()
    d.channels, d.height, d.width = 3, image_bgr.shape[0], image_bgr.shape[1]
    if encoding == "none":
        d.data = np.ascontiguousarray(image_bgr.transpose(2, 0, 1)).tobytes()
    elif encoding in ("png", "jpg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if encoding == "jpg" else []
        ok, buf = cv2.imencode("." + encoding, image_bgr, params)
        if not ok:
            raise RuntimeError(f"OpenCV could not encode the image as {encoding}")
        d.data = buf.tobytes()
        d.encoded = True
    else:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
    return d.SerializeToString()


def label_datum(labels):
    """Serialized float Datum n x 1 x 1 of a label vector."""
    d = _datum()
    d.channels, d.height, d.width = len(labels), 1, 1
    d.float_data.extend(float(v) for v in labels)
    return d.SerializeToString()


def decode_image(raw):
    """H x W x 3 uint8 BGR image of a serialized image Datum (raw or encoded)."""
    d = _datum()
    d.ParseFromString(raw)
    if d.encoded:
        return cv2.imdecode(np.frombuffer(d.data, np.uint8), cv2.IMREAD_COLOR)
    return np.frombuffer(d.data, np.uint8).reshape(d.channels, d.height, d.width).transpose(1, 2, 0)


def decode_labels(raw):
    """float32 label vector of a serialized label Datum."""
    d = _datum()
    d.ParseFromString(raw)
    return np.array(d.float_data, dtype=np.float32)


def key(index):
    """The LMDB key of position index: fixed width, so byte order is numeric order."""
    return b"%08d" % index


class PairWriter:
    """Writes the image and label LMDBs of one split together, committing every `batch` records.
    Images come as serialized Datums (image_datum), labels as vectors."""

    def __init__(self, split_dir, batch=256):
        split_dir.mkdir(parents=True, exist_ok=True)
        self.split_dir = split_dir
        self.batch = batch
        self.envs, self.txns = None, None
        self.pending = 0

    def _open(self):
        # Opened at the first record: the worker pool has forked by then, and no child inherits
        # an open LMDB environment.
        self.envs = [lmdb.open(str(self.split_dir / name), map_size=MAP_SIZE, subdir=True,
                               meminit=False, map_async=True) for name in ("images", "labels")]
        self.txns = [env.begin(write=True) for env in self.envs]

    def put(self, index, image_datum_bytes, labels):
        if self.envs is None:
            self._open()
        k = key(index)
        self.txns[0].put(k, image_datum_bytes)
        self.txns[1].put(k, label_datum(labels))
        self.pending += 1
        if self.pending >= self.batch:
            self._commit(reopen=True)

    def _commit(self, reopen):
        for i, txn in enumerate(self.txns):
            txn.commit()
            if reopen:
                self.txns[i] = self.envs[i].begin(write=True)
        self.pending = 0

    def close(self):
        if self.envs is None:
            self._open()
        self._commit(reopen=False)
        for env in self.envs:
            env.sync(True)
            env.close()


def iter_split(split_dir):
    """(key, image, labels) of every sample of a split, one at a time, in key order (the order
    Caffe reads). ValueError when the image and label LMDBs hold different keys."""
    with open_readonly(split_dir / "images") as ie, open_readonly(split_dir / "labels") as le:
        with ie.begin() as it, le.begin() as lt:
            ikeys = [k for k, _ in it.cursor()]
            lkeys = [k for k, _ in lt.cursor()]
            if ikeys != lkeys:
                raise ValueError(f"{split_dir}: the image and label LMDBs have different keys")
            for k in ikeys:
                yield k.decode(), decode_image(it.get(k)), decode_labels(lt.get(k))


def read_split(split_dir):
    """[(key, image, labels)] of a split, in key order: for tests and checks."""
    return list(iter_split(split_dir))


def digest(data_dir, splits=("train", "val", "test")):
    """A short hash of every split's keys, decoded pixels and labels: equal for the same data however
    its images were compressed (PNG bytes differ between zlib builds; the pixels may not)."""
    import hashlib

    h = hashlib.sha256()
    for split in splits:
        for k, image, labels in iter_split(Path(data_dir) / split):
            h.update(k.encode() + image.tobytes() + np.asarray(labels, np.float32).tobytes())
    return h.hexdigest()[:16]


# Run as a module with a dataset folder: its fingerprint and digest, which setup/device/ compares between
# a GPU machine's build of synthau and this clone's.
if __name__ == "__main__":
    import sys

    from dscmr.dataset import fingerprint, read_manifest
    print(fingerprint(read_manifest(sys.argv[1])), digest(sys.argv[1]))
