"""Generic CSV builder: 68 or 5 landmark columns, split and subject columns, and bad rows."""
import cv2
import numpy as np
import pytest
from helpers.data import face, load, report_rows

from data_prep import build_from_csv
from data_prep.faces.align import align_face, five_from_68
from data_prep.pipeline import split_of


def _xy(pts):
    return [f"{v:.6f}" for v in pts[:, 0]] + [f"{v:.6f}" for v in pts[:, 1]]


def _header(n):
    return [f"x{i}" for i in range(n)] + [f"y{i}" for i in range(n)]


@pytest.fixture
def pics(tmp_path):
    out = []
    for i in range(4):
        img, lm = face(40 + i, (12,) if i % 2 else ())
        cv2.imwrite(str(tmp_path / f"f{i}.png"), img)
        out.append((f"f{i}.png", img, lm))
    return out


def _write(path, header, rows):
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")


def _run(csv, out, *extra):
    return build_from_csv.main(["--csv", str(csv), "--out", str(out), "--jobs", "1", "--no-progress", *extra])


@pytest.mark.parametrize("n", [68, 5])
def test_landmark_columns_align_each_face(tmp_path, pics, n):
    rows = []
    for i, (name, _, lm) in enumerate(pics):
        pts = lm if n == 68 else five_from_68(lm)
        rows.append([name, ["train", "train", "val", "test"][i], str(i % 2), "999" if i == 0 else "0"] + _xy(pts))
    _write(tmp_path / "l.csv", ["path", "split", "AU12", "AU25"] + _header(n), rows)
    assert _run(tmp_path / "l.csv", tmp_path / "ds") == 0
    manifest, splits = load(tmp_path / "ds")
    assert manifest["aus"] == [12, 25] and manifest["dataset"] == "ds"
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    for s, i in (("val", 2), ("test", 3)):
        (_, img, labels), = splits[s]
        pts = np.array([[float(v) for v in rows[i][4:4 + n]], [float(v) for v in rows[i][4 + n:]]]).T
        np.testing.assert_array_equal(img, align_face(pics[i][1], pts)[0])
        np.testing.assert_array_equal(labels, [i % 2, 0])
    assert sorted(r[2].tolist() for r in splits["train"]) == [[0, 999], [1, 0]]


def test_subjects_stay_in_one_split(tmp_path, pics):
    rows = [[name, f"s{i % 2}", "1"] + _xy(lm) for i, (name, _, lm) in enumerate(pics)]
    _write(tmp_path / "l.csv", ["path", "subject", "AU1"] + _header(68), rows)
    fractions = (0.5, 0.5, 0.0)
    seed = next(k for k in range(1, 100) if {split_of(k, "s0", fractions), split_of(k, "s1", fractions)} == {"train", "val"})
    assert _run(tmp_path / "l.csv", tmp_path / "ds", "--split", "50,50,0", "--seed", str(seed)) == 0
    found = {}
    for s in ("train", "val", "test"):
        for line in (tmp_path / "ds" / s / "index.tsv").read_text().splitlines()[1:]:
            i = int(line.split("\t")[1].split("/f")[1][0])
            found.setdefault(f"s{i % 2}", set()).add(s)
    assert all(len(v) == 1 for v in found.values()) and len(found) == 2


def test_bad_rows_are_reported_with_file_and_line(tmp_path, pics):
    name, _, lm = pics[0]
    good = [name, "1"] + _xy(five_from_68(lm))
    partial = [pics[1][0], "0"] + _xy(five_from_68(pics[1][2]))
    partial[3] = ""                                      # x1 missing: 4 of 5 landmarks
    rows = [good, partial, [pics[2][0], "0.5"] + _xy(five_from_68(pics[2][2])), [pics[3][0], "1"], good,
            ["f9.png", "1"] + ["abc"] * 10, [pics[1][0], "0"] + ["7"] * 10]
    _write(tmp_path / "l.csv", ["path", "AU4"] + _header(5), rows)
    assert _run(tmp_path / "l.csv", tmp_path / "ds", "--split", "1,0,0") == 0
    got = {r["where"]: r["reason"] for r in report_rows(tmp_path / "ds")}
    csv = tmp_path / "l.csv"
    assert got == {f"{csv}:3": "has 4 of 5 landmarks; give all or none",
                   f"{csv}:4": "AU4 is '0.5'; labels must be 0, 1 or 999 (not annotated)",
                   f"{csv}:5": "has 2 fields, the header has 12",
                   f"{csv}:6": f"duplicate path '{tmp_path / name}': already on line 2",
                   f"{csv}:7": "a landmark coordinate is not a number",
                   f"{tmp_path / pics[1][0]} ({csv}:8)":
                       f"{tmp_path / pics[1][0]}: cannot align: the source points all coincide; no similarity transform exists"}


@pytest.mark.parametrize("header, message", [
    (["path", "AU1", "x0", "x1", "x2", "x3", "y0", "y1", "y2", "y3"],
     "4 landmark columns per axis; expected 5 (eyes, nose tip, mouth corners) or 68 (iBUG)"),
    (["path", "AU1", "x0", "x1", "y0"], "landmark columns must be x0..x(n-1) and y0..y(n-1); got 2 x and 1 y columns"),
    (["image", "AU1"], "the header has no 'path' column"),
    (["path", "smile"], "the header has no AU columns (named like AU12)"),
])
def test_bad_headers_stop_the_build_naming_line_1(tmp_path, capsys, header, message):
    _write(tmp_path / "l.csv", header, [["a.png"] + ["0"] * (len(header) - 1)])
    assert _run(tmp_path / "l.csv", tmp_path / "ds") == 2
    assert capsys.readouterr().err.strip() == f"au-build-csv: {tmp_path / 'l.csv'}:1: {message}"
    assert not (tmp_path / "ds").exists()


def test_strict_turns_a_missing_image_into_a_failure(tmp_path, pics, capsys):
    rows = [[name, "1"] + _xy(lm) for name, _, lm in pics] + [["gone.png", "0"] + _xy(pics[0][2])]
    _write(tmp_path / "l.csv", ["path", "AU1"] + _header(68), rows)
    assert _run(tmp_path / "l.csv", tmp_path / "ds", "--strict", "--split", "1,0,0") == 2
    err = capsys.readouterr().err
    assert f"gone.png ({tmp_path / 'l.csv'}:6): image not found: {tmp_path / 'gone.png'}" in err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".png")) == [".ds.lock", "l.csv"]


def test_a_failed_build_keeps_its_skip_report_beside_the_output(tmp_path, capsys):
    _write(tmp_path / "l.csv", ["path", "AU1"], [["gone.png", "1"], ["lost.png", "0"]])
    assert _run(tmp_path / "l.csv", tmp_path / "ds", "--split", "1,0,0") == 2
    report = tmp_path / "ds.skipped.tsv"
    assert capsys.readouterr().err.strip() == \
        f"au-build-csv: ds: no usable train image; the skipped items are listed in {report}"
    assert len(report.read_text().splitlines()) == 3 and not (tmp_path / "ds").exists()
