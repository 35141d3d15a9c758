"""Data faults answered in one line: an LMDB cut short (a partial copy, a full disk) is named before
anything maps it (Caffe and py-lmdb would die of SIGBUS), and a disk that fills while a command writes
names the file it was writing. Committed files are left as they were."""
import os
import shutil
import subprocess

import pytest
from helpers.caffe import REPO, VENV

from data_prep import build_synthau
from data_prep.lmdb_io import check_split, implied_size, read_split
from dscmr.errors import InputError
from dscmr.files import write_atomically


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "ds"
    assert build_synthau.main(["--out", str(out), "--train", "8", "--val", "2", "--test", "4", "--jobs", "1",
                               "--no-progress"]) == 0
    return out


def cut(data_mdb, fraction=1 / 3):
    """data_mdb truncated to a fraction of its size, as a copy cut short leaves it; returns the sizes."""
    size = data_mdb.stat().st_size
    os.truncate(data_mdb, int(size * fraction))
    return size, int(size * fraction)


@pytest.fixture
def truncated(built, tmp_path):
    """A copy of the built dataset whose test images LMDB holds a third of its bytes."""
    copy = tmp_path / "ds"
    shutil.copytree(built, copy)
    return copy, cut(copy / "test" / "images" / "data.mdb")


def test_the_header_gives_the_size_and_a_cut_lmdb_is_named(built, truncated):
    for split in ("train", "val", "test"):
        for name in ("images", "labels"):
            data = built / split / name / "data.mdb"
            assert implied_size(data) == data.stat().st_size
    check_split(built / "test")
    copy, (whole, left) = truncated
    with pytest.raises(InputError) as caught:
        check_split(copy / "test")
    assert str(caught.value) == (f"{copy}/test/images/data.mdb: truncated LMDB ({left} bytes, its header says "
                                 f"{whole}: a partial copy or a full disk; build or copy it again)")
    with pytest.raises(InputError, match="truncated LMDB"):
        read_split(copy / "test")
    (copy / "val" / "labels" / "data.mdb").write_bytes(b"\0" * 8192)
    with pytest.raises(InputError, match="val/labels/data.mdb: not an LMDB"):
        check_split(copy / "val")


@pytest.mark.slow   # starts au-evaluate and au-reproduce
def test_the_commands_say_one_line_where_caffe_would_die_of_sigbus(truncated, tmp_path):
    copy, (whole, left) = truncated
    said = f"{copy}/test/images/data.mdb: truncated LMDB ({left} bytes, its header says {whole}"
    evaluate = subprocess.run([str(VENV / "bin" / "au-evaluate"), "--model", "prototxt/alexnet_train_val.prototxt",
                               "--weights", str(tmp_path / "none.caffemodel"), "--data", str(copy), "--split", "test",
                               "--out", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True)
    assert evaluate.returncode == 2 and evaluate.stderr.strip().startswith(f"au-evaluate: {said}"), evaluate.stderr
    assert len(evaluate.stderr.strip().splitlines()) == 1 and not list(tmp_path.glob("o.*"))
    # au-reproduce derives its datasets from the source before any caffe train: the source is read whole
    reproduce = subprocess.run([str(VENV / "bin" / "au-reproduce"), "table4-5", "--budget", "smoke", "--only",
                                "alexnet", "--data", str(copy), "--work", str(tmp_path / "w"), "--results",
                                str(tmp_path / "r")], cwd=REPO, capture_output=True, text=True)
    assert reproduce.returncode == 2 and reproduce.stderr.strip().splitlines()[-1].startswith(f"au-reproduce: {said}")
    assert "Traceback" not in reproduce.stderr and not (tmp_path / "r").exists()


def test_a_reused_derived_dataset_or_build_that_was_cut_is_named_or_built_again(built, tmp_path, capsys):
    from data_prep import derive
    out = tmp_path / "derived"
    select = lambda split, labels: [0, 1] if split == "train" else [0]   # noqa: E731
    derive.derive(built, out, (1, 2), select, {"note": "faults"})
    whole, left = cut(out / "train" / "labels" / "data.mdb")
    with pytest.raises(InputError, match=f"train/labels/data.mdb: truncated LMDB \\({left} bytes"):
        derive.derive(built, out, (1, 2), select, {"note": "faults"})
    copy = tmp_path / "ds"
    shutil.copytree(built, copy)
    cut(copy / "val" / "images" / "data.mdb")
    capsys.readouterr()
    assert build_synthau.main(["--out", str(copy), "--train", "8", "--val", "2", "--test", "4", "--jobs", "1",
                               "--no-progress"]) == 0
    assert f"{copy}/val/images/data.mdb: truncated LMDB" in capsys.readouterr().err
    check_split(copy / "val")
    assert [(k, image.tobytes(), labels.tobytes()) for k, image, labels in read_split(copy / "val")] == \
        [(k, image.tobytes(), labels.tobytes()) for k, image, labels in read_split(built / "val")]


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs (mount needs root: skipped, with the reason, elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_names_the_file_and_leaves_the_old_one(full_disk):
    kept = full_disk / "kept.json"
    write_atomically(kept, "the committed record\n")
    with pytest.raises(OSError) as caught:
        write_atomically(kept, "x" * 200_000)
    assert caught.value.filename == str(kept) and caught.value.strerror == "No space left on device"
    assert kept.read_text() == "the committed record\n" and sorted(os.listdir(full_disk)) == ["kept.json"]
    # a command: one line naming the file, status 1 (not the input's fault)
    done = subprocess.run([str(VENV / "bin" / "au-prototxt"), "--out", str(full_disk)], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"au-prototxt: {full_disk}/") and line.endswith(": No space left on device")
    assert kept.read_text() == "the committed record\n"
