"""synthau: labels drive the geometry, exact N:P, co-occurrence, disjoint identities, determinism,
the manifest, mirroring, atomic and idempotent output."""
import re

import numpy as np
import pytest
from helpers.data import load

from data_prep import build_synthau, synthau, synthau_face, synthau_labels
from dscmr.paper import EMOTIONET_AUS, TABLE2_TRAIN_NP, TABLE4_TEST_NP, TABLE4_VAL_NP

SIZES = ["--train", "60", "--val", "24", "--test", "24", "--images-per-identity", "4"]


def _build(out, *extra, jobs=2):
    rc = build_synthau.main(["--out", str(out), "--jobs", str(jobs), "--no-progress", *SIZES, *extra])
    assert rc == 0
    return load(out)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthau") / "synthau"
    return out, *_build(out)


def _targets(n, ratios):
    return {a: max(1, round(n / (1 + r))) for a, r in ratios.items()}


def test_positive_counts_are_exact_at_the_paper_ratios(built):
    _, manifest, splits = built
    tables = {"train": TABLE2_TRAIN_NP, "val": TABLE4_VAL_NP, "test": TABLE4_TEST_NP}
    for s, rows in splits.items():
        labels = np.array([r[2] for r in rows])
        assert labels.shape == (len(rows), 11) and set(np.unique(labels)) <= {0.0, 1.0}
        want = _targets(len(rows), tables[s])
        got = dict(zip(EMOTIONET_AUS, labels.sum(0).astype(int)))
        assert got == want
        m = manifest["splits"][s]
        assert m["count"] == len(rows)
        for a in EMOTIONET_AUS:
            assert m["positives"][f"AU{a}"] == got[a]
            assert m["np_ratio"][f"AU{a}"] == pytest.approx((len(rows) - got[a]) / got[a], abs=1e-4)


def test_large_label_sets_meet_the_ratios_and_co_occur_like_expressions():
    rng = np.random.default_rng(0)
    n = 20000
    y = synthau_labels.sample_labels(n, EMOTIONET_AUS, TABLE2_TRAIN_NP, rng)
    col = {a: i for i, a in enumerate(EMOTIONET_AUS)}
    for a, r in TABLE2_TRAIN_NP.items():
        p = y[:, col[a]].sum()
        assert p == round(n / (1 + r))
        assert (n - p) / p == pytest.approx(r, rel=0.02)

    def lift(a, b):   # P(a | b) / P(a | not b)
        ya, yb = y[:, col[a]], y[:, col[b]]
        return ya[yb == 1].mean() / ya[yb == 0].mean()
    assert lift(6, 12) > 3        # smile
    assert lift(2, 1) > 10        # surprise and fear
    assert lift(5, 1) > 10        # surprise and fear
    assert lift(17, 9) > 10       # disgust


def test_identities_are_disjoint_across_splits(built):
    out = built[0]
    ids = {}
    for s in ("train", "val", "test"):
        lines = (out / s / "index.tsv").read_text().splitlines()[1:]
        ids[s] = {re.search(r"identity(\d+)", line).group(1) for line in lines}
        assert len(ids[s]) == {"train": 15, "val": 6, "test": 6}[s]
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]


def test_the_same_seed_gives_the_same_bytes_whatever_the_jobs(built, tmp_path):
    out, _, splits = built
    _, again = _build(tmp_path / "again", jobs=1)
    for s in splits:
        assert [r[0] for r in again[s]] == [r[0] for r in splits[s]]
        for a, b in zip(again[s], splits[s]):
            np.testing.assert_array_equal(a[1], b[1])
            np.testing.assert_array_equal(a[2], b[2])
    _, other = _build(tmp_path / "other", "--seed", "2", jobs=1)
    assert not np.array_equal(other["train"][0][1], splits["train"][0][1])


def test_manifest_holds_mean_command_seed_and_layout(built):
    out, manifest, splits = built
    images = np.array([r[1] for r in splits["train"]], np.float64)
    np.testing.assert_allclose(manifest["mean_bgr"], images.reshape(-1, 3).mean(0), atol=1e-3)
    assert manifest["aus"] == list(EMOTIONET_AUS) and manifest["ignore_label"] == 999
    assert manifest["seed"] == 1 and manifest["command"].startswith("au-build-synthau --out ")
    assert manifest["image"] == {"channels": 3, "height": 224, "width": 224, "order": "BGR", "encoding": "png"}
    assert manifest["layout"]["val"] == {"images": "val/images", "labels": "val/labels"}
    assert manifest["requested_np_ratio"]["train"]["AU20"] == TABLE2_TRAIN_NP[20]


def test_a_single_au_at_a_fig5_ratio_with_balanced_test(tmp_path):
    manifest, splits = _build(tmp_path / "au1", "--aus", "1", "--imbalance", "5", jobs=1)
    assert manifest["aus"] == [1]
    train = np.array([r[2] for r in splits["train"]])
    assert train.shape == (60, 1) and train.sum() == 10        # N:P 50:10 = 5
    for s in ("val", "test"):
        assert np.array([r[2] for r in splits[s]]).sum() == 12   # balanced: 12 of 24


def test_mirror_adds_a_flipped_copy_of_each_train_image_only(tmp_path):
    out = tmp_path / "m"
    manifest, splits = _build(out, "--mirror", "--train", "8", "--aus", "12", "--imbalance", "balanced", jobs=1)
    assert manifest["splits"]["train"]["count"] == 16 and manifest["splits"]["test"]["count"] == 24
    rows = {r[0]: r for r in splits["train"]}
    index = [line.split("\t") for line in (out / "train" / "index.tsv").read_text().splitlines()[1:]]
    by_source = {src: k for k, src, *_ in index}
    pairs = [(by_source[src], by_source[src + " (mirrored)"]) for src in by_source if not src.endswith(")")]
    assert len(pairs) == 8
    for k, km in pairs:
        np.testing.assert_array_equal(rows[km][1], rows[k][1][:, ::-1])
        np.testing.assert_array_equal(rows[km][2], rows[k][2])


def test_rebuild_is_a_no_op_when_up_to_date_and_cleans_leftovers(built, tmp_path, capsys):
    out = tmp_path / "idem"
    _build(out, "--train", "6", "--val", "3", "--test", "3")
    stamp = (out / "train" / "images" / "data.mdb").stat().st_mtime_ns
    stale = tmp_path / ".idem.partial-99999"
    stale.mkdir()
    capsys.readouterr()
    _build(out, "--train", "6", "--val", "3", "--test", "3")
    assert "up to date" in capsys.readouterr().out
    assert (out / "train" / "images" / "data.mdb").stat().st_mtime_ns == stamp
    manifest, splits = _build(out, "--train", "7", "--val", "3", "--test", "3")   # new config: rebuilt
    assert len(splits["train"]) == 7 and not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".idem.lock", "idem"]


# Face geometry: each AU moves the landmarks it should (face coordinates, y down, unit = IOD).
def _landmarks(au=None, a=1.0):
    idt = synthau_face.identity(synthau.identity_rng(4, 0))
    inten = {k: (0.0, 0.0) for k in EMOTIONET_AUS}
    if au:
        inten[au] = (a, a)
    return synthau_face.Face(idt, inten).landmarks68()


def test_each_au_moves_its_landmarks():
    n = _landmarks()
    d = {au: _landmarks(au) - n for au in EMOTIONET_AUS}
    up = lambda au, i: -d[au][i, 1]
    # AU1 inner brow up, more than the outer; AU2 the reverse; AU4 down and together.
    assert up(1, 21) > 0.08 and up(1, 22) > 0.08 and up(1, 21) > 3 * up(1, 17)
    assert up(2, 17) > 0.08 and up(2, 26) > 0.08 and up(2, 17) > 3 * up(2, 21)
    assert up(4, 21) < -0.06 and d[4][21, 0] > 0.04 and d[4][22, 0] < -0.04
    # AU5 upper lid up; AU6 lower lid up.
    assert up(5, 37) > 0.03 and up(5, 44) > 0.03 and abs(up(5, 40)) < 1e-9
    assert up(6, 40) > 0.02 and up(6, 47) > 0.02
    # AU9 nostril wings up; AU12 lip corners up and out; AU20 out, not up.
    assert up(9, 31) > 0.03 and up(9, 35) > 0.03
    assert up(12, 48) > 0.05 and d[12][48, 0] < -0.05 and d[12][54, 0] > 0.05
    assert d[20][54, 0] > 0.08 and up(20, 54) < 0
    # AU17 chin up, lower lip pushed up; AU26 chin down; AU25 lips apart.
    assert up(17, 8) > 0.05 and up(17, 57) > 0.02
    assert up(26, 8) < -0.15
    assert n[66, 1] - n[62, 1] == pytest.approx(0, abs=1e-9)
    lm25 = _landmarks(25)
    assert lm25[66, 1] - lm25[62, 1] > 0.05


def test_au_intensity_scales_the_change():
    n = _landmarks()
    weak, strong = _landmarks(12, 0.4) - n, _landmarks(12, 1.0) - n
    assert -strong[48, 1] > 2 * -weak[48, 1] > 0


def test_bad_arguments_are_refused(capsys):
    for args in (["--aus", "7"], ["--imbalance", "-3"], ["--imbalance", "lots"], ["--train", "0"]):
        with pytest.raises(SystemExit):
            build_synthau.main(args)
    assert "--aus: synthau renders the 11 EmotioNet AUs" in capsys.readouterr().err


@pytest.mark.slow
def test_labels_show_in_the_pixels(tmp_path, capsys):
    # Trained on 200 faces, a linear HOG classifier finds smiles (AU12) and parted lips (AU25) in
    # new faces; with the same images' labels shuffled it finds nothing.
    from data_prep import hog_baseline
    out = tmp_path / "px"
    _build(out, "--aus", "12,25", "--imbalance", "balanced", "--train", "200", "--test", "60", "--val", "2")
    train, test = hog_baseline.split_features(out / "train"), hog_baseline.split_features(out / "test")
    f12, f25 = hog_baseline.f1_per_au(train, test)
    shuffled = (train[0], np.random.default_rng(0).permutation(train[1]))
    assert f12 > 0.8 and f25 > 0.7
    assert max(hog_baseline.f1_per_au(shuffled, test)) < 0.6
    assert hog_baseline.main([str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-3:] == [f" AU12  F1 {100 * f12:5.1f}", f" AU25  F1 {100 * f25:5.1f}", f" mean  F1 {50 * (f12 + f25):5.1f}"]


def test_a_second_build_of_the_same_output_is_refused_while_one_runs(tmp_path, capsys):
    import fcntl
    with open(tmp_path / ".busy.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert build_synthau.main(["--out", str(tmp_path / "busy"), "--no-progress"]) == 1
    assert capsys.readouterr().err.strip() == (f"au-build-synthau: another build of {tmp_path / 'busy'} is running "
                                               f"(lock: {tmp_path / '.busy.lock'})")
