"""data_prep/derive.py: a derived dataset holds exactly the selected samples and AU columns, is written
once however many processes ask for it, and has the same fingerprint wherever it is derived."""
import json
import shutil
import threading
import time

import numpy as np
import pytest

from data_prep import derive
from data_prep.lmdb_io import read_split
from dscmr import paper
from dscmr.dataset import read_manifest
from dscmr.errors import InputError
from tools.experiments import plans
from tools.experiments.run_spec import data_fingerprint

pytestmark = pytest.mark.slow   # derives datasets from a synthau build


def test_with_ratio_and_balanced_pick_exact_counts():
    column = np.array([0, 1, 999, 0, 0, 1, 0, 0, 1, 0, 0, 0], np.float32)
    chosen = derive.with_ratio(column, 2, 2)
    assert sorted(chosen) == [0, 1, 3, 4, 5, 6]  # positives 1, 5; the first four negatives; 999 never
    assert chosen == derive.with_ratio(column, 2, 2) != sorted(chosen)   # a seeded shuffle
    assert derive.balanced(column, None) == [0, 1, 3, 4, 5, 8]   # three of each class
    assert derive.balanced(column, 4) == [0, 1, 3, 5]
    with pytest.raises(ValueError, match="wants 3 positives and 30 negatives, the split has 3 and 8"):
        derive.with_ratio(column, 10, 3)


def test_derive_copies_the_selected_images_and_au_columns(tiny, tmp_path):
    manifest = read_manifest(tiny)
    out = tmp_path / "d"
    derived = derive.derive(tiny, out, (4, 12), lambda split, labels: [1, 3] if split == "train" else [0],
                            {"note": "test"})
    source, result = read_split(tiny / "train"), read_split(out / "train")
    columns = [manifest["aus"].index(4), manifest["aus"].index(12)]
    assert len(result) == 2
    for (_, image, labels), position in zip(result, (1, 3)):
        assert np.array_equal(image, source[position][1])
        assert np.array_equal(labels, source[position][2][columns])
    assert derived["aus"] == [4, 12] and derived["splits"]["test"]["count"] == 1
    assert json.loads((out / "manifest.json").read_text())["derivation"]["aus"] == [4, 12]
    # Derived the same way again: reused, not rewritten.
    stamp = (out / "manifest.json").stat().st_mtime_ns
    derive.derive(tiny, out, (4, 12), lambda split, labels: [1, 3] if split == "train" else [0], {"note": "test"})
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_two_processes_deriving_one_dataset_write_it_once(tiny, tmp_path):
    calls, started = [], threading.Event()

    def select(split, labels):
        calls.append(split)
        started.set()
        time.sleep(0.3)   # the second derive arrives while the first is writing
        return [0]
    first = threading.Thread(target=derive.derive, args=(tiny, tmp_path / "d", (1,), select, {"note": "x"}))
    first.start()
    started.wait()
    derived = derive.derive(tiny, tmp_path / "d", (1,), select, {"note": "x"})
    first.join()
    assert calls == ["train", "val", "test"] and derived["splits"]["train"]["count"] == 1


def test_derive_names_a_missing_au_and_a_missing_dataset(tiny, tmp_path):
    with pytest.raises(InputError, match="not AU7"):
        derive.derive(tiny, tmp_path / "d", (1, 7), lambda split, labels: [0], {})
    with pytest.raises(InputError, match="nowhere/manifest.json: not found"):
        read_manifest(tmp_path / "nowhere")


def test_table23_subsets_of_the_emotionet_aus_are_table3s():
    runs = plans.plan_table23({"aus": list(paper.EMOTIONET_AUS)}, plans.BUDGETS["smoke"], None)
    subsets = {r.key[1]: r.aus for r in runs}
    assert subsets == paper.TABLE3_AU_SUBSETS
    assert {r.method.key for r in runs} == {"alexnet_msr", "alexnet_admsr"}


def test_the_same_data_derived_in_another_clone_has_the_same_fingerprint(tiny, tmp_path):
    """A committed run is reused on another machine: its data's fingerprint ignores where the data
    was built and how the command was spelled, but not what the data is."""
    elsewhere = tmp_path / "clone" / "data" / "synthau"
    shutil.copytree(tiny, elsewhere)
    manifest = json.loads((elsewhere / "manifest.json").read_text())
    manifest["command"] = "au-build-synthau --mirror"
    (elsewhere / "manifest.json").write_text(json.dumps(manifest))
    here, there, other = tmp_path / "here", tmp_path / "there", tmp_path / "other"
    derive.derive(tiny, here, (1,), lambda split, labels: [0, 1], {})
    derive.derive(elsewhere, there, (1,), lambda split, labels: [0, 1], {})
    derive.derive(tiny, other, (1,), lambda split, labels: [1, 0], {"order": "reversed"})
    assert read_manifest(here)["derivation"]["source"] != read_manifest(there)["derivation"]["source"]
    assert data_fingerprint(here) == data_fingerprint(there)
    assert data_fingerprint(here) != data_fingerprint(other)
