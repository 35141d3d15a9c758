"""CK+ builder: the official layout, labelled peak frames, subject split, and every bad input."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers.data import load, report_rows, write_ckplus

from data_prep import build_ckplus
from data_prep.faces.align import align_face

AUS = "1,2,4,12,25"
SEQUENCES = [("S005", "001", {1: 2.0, 2: 0.0, 25: 3.0}, 1), ("S010", "002", {12: 4.0}, 2),
             ("S011", "001", {4: 1.0, 25: 0.0}, 3), ("S011", "004", {1: 1.0, 12: 2.0}, 4),
             ("S022", "001", {2: 5.0}, 5), ("S026", "003", {25: 1.0, 4: 2.0}, 6)]


def _build(root, out, *extra):
    return build_ckplus.main(["--root", str(root), "--out", str(out), "--aus", AUS, "--jobs", "1",
                              "--no-progress", "--split", "50,25,25", *extra])


@pytest.fixture(scope="module")
def ck(tmp_path_factory):
    root = tmp_path_factory.mktemp("ck") / "CK+"
    faces = write_ckplus(root, SEQUENCES)
    out = root.parent / "ckplus"
    assert _build(root, out) == 0
    return root, faces, out, *load(out)


def test_peak_frames_are_labelled_from_facs_and_aligned_from_the_landmarks(ck):
    root, faces, out, manifest, splits = ck
    index = {}
    for s in splits:
        for line in (out / s / "index.tsv").read_text().splitlines()[1:]:
            k, src, *_ = line.split("\t")
            index[(s, k)] = src
    seen = 0
    for s, rows in splits.items():
        for k, img, labels in rows:
            src = index[(s, k)]
            assert src.endswith("_00000003.png")    # the last, labelled frame
            seq = next(q for q in SEQUENCES if f"/{q[0]}/{q[1]}/" in src)
            np.testing.assert_array_equal(labels, [1.0 if a in seq[2] else 0.0 for a in (1, 2, 4, 12, 25)])
            canvas, _ = faces[src]
            lm = src.replace("cohn-kanade-images", "Landmarks").replace(".png", "_landmarks.txt")
            np.testing.assert_array_equal(img, align_face(canvas, build_ckplus.read_landmarks(Path(lm)))[0])
            seen += 1
    assert seen == len(SEQUENCES) and manifest["aus"] == [1, 2, 4, 12, 25]


def test_subjects_are_split_with_the_seed_and_never_shared(ck):
    _, _, _, manifest, splits = ck
    subj = manifest["subjects"]
    assert sorted(sum(subj.values(), [])) == ["S005", "S010", "S011", "S022", "S026"]
    assert len(subj["train"]) == 2 or len(subj["train"]) == 3
    for a in subj:
        for b in subj:
            assert a == b or not set(subj[a]) & set(subj[b])
    again = build_ckplus.subject_splits(["S005", "S010", "S011", "S022", "S026"], (0.5, 0.25, 0.25), 1)
    assert {s: sorted(k for k, v in again.items() if v == s) for s in subj} == subj


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "CK+"
    write_ckplus(root, SEQUENCES[:3])
    return root


def test_an_au_outside_the_list_is_noted_with_file_and_line(tree, tmp_path):
    facs = tree / "FACS/S005/001/S005_001_00000003_facs.txt"
    facs.write_text(facs.read_text() + "   4.3000000e+01   0.0000000e+00\n")
    assert _build(tree, tmp_path / "out") == 0
    notes = [r for r in report_rows(tmp_path / "out") if r["kind"] == "note"]
    assert notes == [{"kind": "note", "split": "-", "where": f"{facs}:4",
                      "reason": "AU43 is not in --aus (1,2,4,12,25); ignored"}]


def test_a_bad_facs_line_skips_the_sequence(tree, tmp_path):
    facs = tree / "FACS/S010/002/S010_002_00000003_facs.txt"
    facs.write_text("   1.2000000e+01   4.0000000e+00\n   2.5 x\n")
    assert _build(tree, tmp_path / "out") == 0
    skips = [r for r in report_rows(tmp_path / "out") if r["kind"] == "skipped"]
    assert [(r["where"], r["reason"]) for r in skips] == [
        (f"{facs}:2", "expected 'AU intensity' (two numbers), got '2.5 x'")]
    assert load(tmp_path / "out")[0]["skipped"] == {"-": 1}


def test_a_non_facs_au_code_skips_the_sequence(tree, tmp_path):
    facs = tree / "FACS/S010/002/S010_002_00000003_facs.txt"
    facs.write_text("   1.25e+01   4.0\n")
    assert _build(tree, tmp_path / "out") == 0
    assert [r["where"] for r in report_rows(tmp_path / "out")] == [f"{facs}:1"]


@pytest.mark.parametrize("n", [67, 69])
def test_a_wrong_landmark_count_names_the_file_and_line(tree, tmp_path, n):
    lm = tree / "Landmarks/S011/001/S011_001_00000003_landmarks.txt"
    lines = lm.read_text().splitlines(keepends=True)
    lm.write_text("".join(lines[:n] if n < 68 else lines + lines[:1]))
    assert _build(tree, tmp_path / "out") == 0
    (row,) = report_rows(tmp_path / "out")
    if n == 67:
        assert (row["where"], row["reason"]) == (f"{lm}:67", "67 landmark lines; CK+ landmarks are 68 'x y' lines")
    else:
        assert (row["where"], row["reason"]) == (f"{lm}:69", "more than 68 landmark lines; CK+ landmarks are 68 'x y' lines")


def test_a_corrupt_image_is_skipped_with_its_name(tree, tmp_path):
    img = tree / "cohn-kanade-images/S005/001/S005_001_00000003.png"
    img.write_bytes(img.read_bytes()[:300])
    assert _build(tree, tmp_path / "out") == 0
    (row,) = report_rows(tmp_path / "out")
    assert row["where"] == str(img) and row["kind"] == "skipped"
    assert row["reason"].startswith(f"cannot read image {img}: unreadable or corrupt")


def test_empty_directories_are_named(tree, tmp_path, capsys):
    seq = tree / "cohn-kanade-images/S010/002"
    shutil.rmtree(seq)
    seq.mkdir()
    assert _build(tree, tmp_path / "out") == 0
    (row,) = report_rows(tmp_path / "out")
    assert (row["where"], row["reason"]) == (str(seq), "the sequence's image directory is missing or empty")
    images = tree / "cohn-kanade-images"
    shutil.rmtree(images)
    images.mkdir()
    assert _build(tree, tmp_path / "out2") == 2
    assert capsys.readouterr().err.strip() == f"au-build-ckplus: {images}: the directory is empty"
    assert not (tmp_path / "out2").exists()


def test_strict_fails_on_the_first_skip_and_leaves_no_output(tree, tmp_path, capsys):
    lm = tree / "Landmarks/S011/001/S011_001_00000003_landmarks.txt"
    lm.write_text("".join(lm.read_text().splitlines(keepends=True)[:10]))
    assert _build(tree, tmp_path / "out", "--strict") == 2
    err = capsys.readouterr().err
    assert f"{lm}:10: 10 landmark lines" in err and "--strict" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "CK+"]
