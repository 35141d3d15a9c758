"""EmotioNet builder: label file with URLs and 999s, dlib detection, and every bad input."""
import argparse

import cv2
import numpy as np
import pytest
import skimage.data
from helpers.data import load, report_rows

from data_prep import build_emotionet
from dscmr.paper import EMOTIONET_AUS

HEADER = "URL," + ",".join(f"AU{a}" for a in EMOTIONET_AUS)


def _row(name, labels):
    return name + "," + ",".join(str(v) for v in labels)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("emotionet")
    images = d / "images"
    images.mkdir()
    astro = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(images / "astro.jpg"), astro)
    cv2.imwrite(str(images / "astro flip.jpg"), astro[:, ::-1])
    cv2.imwrite(str(images / "wall.png"), np.full((300, 300, 3), 90, np.uint8))
    (images / "broken.jpg").write_bytes((images / "astro.jpg").read_bytes()[:2000])
    labels = d / "labels.csv"
    rows = [HEADER,
            _row("http://example.org/faces/astro.jpg", [1, 0, 999, 0, 1, 0, 1, 0, 0, 1, 0]),
            _row("https://example.org/x/astro%20flip.jpg?size=big", [0, 1, 0, 0, 0, 999, 0, 0, 0, 0, 1]),
            _row("wall.png", [0] * 11),
            _row("broken.jpg", [0] * 11),
            _row("missing.jpg", [0] * 11),
            _row("astro.jpg", [0] * 11),
            _row("other.jpg", [0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]),
            "short.jpg,1,0"]
    labels.write_text("\n".join(rows) + "\n")
    out = d / "emotionet"
    rc = build_emotionet.main(["--labels", str(labels), "--images", str(images), "--out", str(out),
                               "--split", "100,0,0", "--jobs", "2", "--no-progress"])
    assert rc == 0
    return labels, images, out, *load(out)


def test_detected_faces_are_stored_with_their_labels_and_999(built):
    labels, images, out, manifest, splits = built
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 0, 0]
    index = [line.split("\t") for line in (out / "train" / "index.tsv").read_text().splitlines()[1:]]
    got = {src: np.array(lab, float) for _, src, *lab in index}
    assert got[f"{images}/astro.jpg ({labels}:2)"].tolist() == [1, 0, 999, 0, 1, 0, 1, 0, 0, 1, 0]
    assert got[f"{images}/astro flip.jpg ({labels}:3)"].tolist() == [0, 1, 0, 0, 0, 999, 0, 0, 0, 0, 1]
    lmdb_labels = sorted(r[2].tolist() for r in splits["train"])
    assert lmdb_labels == sorted(v.tolist() for v in got.values())
    m = manifest["splits"]["train"]
    assert m["ignored"]["AU4"] == 1 and m["ignored"]["AU9"] == 1 and m["positives"]["AU1"] == 1
    # The two faces are mirror images, so their aligned crops nearly are too.
    a, b = (r[1].astype(float) for r in splits["train"])
    assert np.abs(a - b[:, ::-1]).mean() < 12 < np.abs(a - b).mean()


def test_every_bad_row_and_image_is_reported_with_file_and_line(built):
    labels, images, out, manifest, _ = built
    rows = {r["where"]: r["reason"] for r in report_rows(out)}
    assert rows[f"{labels}:7"] == "duplicate path '" + f"{images}/astro.jpg" + "': already on line 2"
    assert rows[f"{labels}:8"] == "AU4 is '2'; labels must be 0, 1 or 999 (not annotated)"
    assert rows[f"{labels}:9"] == "has 3 fields, expected 12"
    assert rows[f"{images}/wall.png ({labels}:4)"] == f"{images}/wall.png: no face found (dlib HOG detector)"
    assert rows[f"{images}/broken.jpg ({labels}:5)"].startswith(f"cannot read image {images}/broken.jpg: unreadable or corrupt")
    assert rows[f"{images}/missing.jpg ({labels}:6)"] == f"image not found: {images}/missing.jpg"
    assert len(rows) == 6 and manifest["skipped"] == {"-": 2, "train": 4}


def test_a_label_file_without_header_uses_columns(tmp_path):
    f = tmp_path / "l.tsv"
    f.write_text("a.jpg\t1\t0\nb.jpg\t0\t999\n")
    args = argparse.Namespace(aus=(12, 1), columns=(1, 12))
    assert build_emotionet.header_columns(f, "\t", args) == (1, {12: 2, 1: 1}, 3)
    args = argparse.Namespace(aus=(1, 2, 12), columns=(12, 25))
    with pytest.raises(build_emotionet.InputError, match=r"l.tsv:1: no header, and --columns \(12,25\) lacks AU1, AU2$"):
        build_emotionet.header_columns(f, "\t", args)


def test_a_header_naming_no_au_is_refused(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("url,AU1,smile\nx.jpg,1,0\n")
    args = argparse.Namespace(aus=(1,), columns=None)
    with pytest.raises(build_emotionet.InputError, match=r"l.csv:1: header column 3 'smile' is not an AU name"):
        build_emotionet.header_columns(f, ",", args)


def test_an_empty_image_directory_is_named(tmp_path, capsys):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "l.csv").write_text(HEADER + "\n")
    rc = build_emotionet.main(["--labels", str(tmp_path / "l.csv"), "--images", str(tmp_path / "imgs"),
                               "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == f"au-build-emotionet: {tmp_path / 'imgs'}: the image directory is empty"
