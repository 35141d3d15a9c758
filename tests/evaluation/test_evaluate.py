"""tools/evaluation/evaluate.py: it evaluates the split it is given, in LMDB order, with Caffe's transform,
and --predictions recomputes the same metrics without Caffe."""
import json

import caffe
import numpy as np
import pytest
from helpers.data import write_random_lmdbs

from data_prep.lmdb_io import read_split
from dscmr.errors import InputError, RunError
from dscmr.methods import DEFAULT_MEAN_BGR
from tools import generate_prototxt as gen
from tools.evaluation import evaluate
from tools.evaluation.metrics import per_au_metrics
from tools.experiments import training_run

pytestmark = pytest.mark.slow   # trains and evaluates nets

AUS = (1, 2, 4)


def dataset_and_net(tmp_path, n_images, batch_size, seed=None):
    """n random faces in each split, AlexNet+Ad-MSR's nets for them and, with a seed, weights drawn
    from it (init.caffemodel)."""
    write_random_lmdbs(tmp_path, len(AUS), n_images=n_images, splits=("train", "val", "test"))
    (tmp_path / "manifest.json").write_text(json.dumps({"aus": list(AUS)}))
    gen.main(["--out", str(tmp_path), "--out-prefix", str(tmp_path), "--data", str(tmp_path), "--only",
              "alexnet_admsr", "--aus", "1,2,4", "--batch-size", str(batch_size)])
    weights = tmp_path / "init.caffemodel"
    if seed is not None:
        caffe.set_random_seed(seed)
        caffe.Net(str(tmp_path / "alexnet_admsr_deploy.prototxt"), caffe.TEST).save(str(weights))
    return tmp_path / "alexnet_admsr_train_val.prototxt", weights


def test_evaluates_the_test_split_like_the_deploy_net(tmp_path):
    _, weights = dataset_and_net(tmp_path, n_images=5, batch_size=2, seed=5)

    out = tmp_path / "eval"
    evaluate.main(["--model", str(tmp_path / "alexnet_admsr_train_val.prototxt"), "--weights", str(weights),
                   "--data", str(tmp_path), "--split", "test", "--batch-size", "2", "--out", str(out)])
    saved = np.load(out.with_suffix(".npz"))

    # The same faces through the deploy net by hand: BGR, CHW, minus the mean, no mirror.
    deploy = caffe.Net(str(tmp_path / "alexnet_admsr_deploy.prototxt"), str(weights), caffe.TEST)
    samples = read_split(tmp_path / "test")
    expected = []
    for _, image, _ in samples:
        deploy.blobs["data"].data[0] = image.transpose(2, 0, 1) - np.array(DEFAULT_MEAN_BGR)[:, None, None]
        expected.append(deploy.forward()["prob"][0].copy())
    assert saved["probs"].shape == (5, 3)  # 5 faces in batches of 2: the wrap-around is cut off
    assert np.allclose(saved["probs"], np.array(expected), atol=1e-6)
    assert np.array_equal(saved["labels"], np.array([labels for _, _, labels in samples]))

    report = json.loads(out.with_suffix(".json").read_text())
    assert report["per_au"][0]["f1"] == per_au_metrics(saved["probs"], saved["labels"], AUS)[0]["f1"]
    assert "| mean |" in out.with_suffix(".md").read_text()

    again = tmp_path / "again"
    evaluate.main(["--predictions", str(out.with_suffix(".npz")), "--out", str(again)])
    assert json.loads(again.with_suffix(".json").read_text())["per_au"] == report["per_au"]


def test_caffe_test_gives_pycaffes_probabilities_and_labels_without_pycaffe(tmp_path):
    model, weights = dataset_and_net(tmp_path, n_images=7, batch_size=3, seed=7)

    probs, labels = evaluate.predict(model, weights, tmp_path / "test", 3, probe=False)
    read, read_labels = evaluate.predict_by_caffe_test(model, weights, tmp_path / "test", 3, training_run.CAFFE)
    assert read.shape == probs.shape == (7, 3)   # 3 batches of 3: the wrap-around is cut off
    assert np.allclose(read, probs, rtol=0, atol=1e-6)   # glog's 6 significant digits of each logit
    assert np.array_equal(read_labels, labels)


def test_caffe_test_that_fails_is_one_error_naming_the_weights(tmp_path):
    model, weights = dataset_and_net(tmp_path, n_images=2, batch_size=2)   # no weights written
    with pytest.raises(RunError, match=r"caffe test of .*init\.caffemodel .* exited with status"):
        evaluate.predict_by_caffe_test(model, weights, tmp_path / "test", 2, training_run.CAFFE)


def drml_with_statistics(tmp_path, n_images):
    """Random faces in each split, DRML's nets for them (a 170 x 170 centre crop of the 224 faces, and the
    Region layer's own statistics) and weights with random running statistics, as after training."""
    write_random_lmdbs(tmp_path, len(AUS), n_images=n_images, splits=("train", "val", "test"))
    (tmp_path / "manifest.json").write_text(json.dumps({"aus": list(AUS)}))
    gen.main(["--out", str(tmp_path), "--out-prefix", str(tmp_path), "--data", str(tmp_path), "--only",
              "drml", "--aus", "1,2,4", "--batch-size", "2"])
    caffe.set_random_seed(7)
    weights = tmp_path / "init.caffemodel"
    net = caffe.Net(str(tmp_path / "drml_deploy.prototxt"), caffe.TEST)
    for blob in net.params["region1"][4:]:   # running mean, variance and their factor
        blob.data[...] = np.random.default_rng(1).uniform(0.5, 2, blob.data.shape)
    net.save(str(weights))
    return tmp_path / "drml_train_val.prototxt", weights


def test_the_splits_of_a_snapshot_read_its_weights_once_and_give_what_each_split_alone_gives(tmp_path):
    model, weights = drml_with_statistics(tmp_path, n_images=5)
    splits = [tmp_path / "test", tmp_path / "val"]
    together = evaluate.predict_splits(model, weights, splits, 2, probe=False)
    for (probs, labels), split in zip(together, splits):
        alone, alone_labels = evaluate.predict(model, weights, split, 2, probe=False)
        assert probs.shape == (5, 3) and np.array_equal(probs, alone) and np.array_equal(labels, alone_labels)
    assert not np.array_equal(together[0][0], together[1][0])   # each net read its own split


def test_a_deploy_net_on_the_split_and_on_an_image_list_gives_the_train_val_numbers(tmp_path):
    import cv2
    _, weights = drml_with_statistics(tmp_path, n_images=5)
    common = ["--weights", str(weights), "--batch-size", "2"]
    evaluate.main(["--model", str(tmp_path / "drml_train_val.prototxt"), "--data", str(tmp_path),
                   "--out", str(tmp_path / "tv")] + common)
    evaluate.main(["--model", str(tmp_path / "drml_deploy.prototxt"), "--data", str(tmp_path),
                   "--out", str(tmp_path / "dp")] + common)
    lines = []
    for i, (_, image, labels) in enumerate(read_split(tmp_path / "test")):
        cv2.imwrite(str(tmp_path / f"face{i}.png"), image)
        lines.append(f"face{i}.png " + " ".join(f"{v:g}" for v in labels))
    (tmp_path / "faces.txt").write_text("# path AU1 AU2 AU4\n" + "\n".join(lines) + "\n")
    evaluate.main(["--model", str(tmp_path / "drml_deploy.prototxt"), "--images", str(tmp_path / "faces.txt"),
                   "--aus", "1,2,4", "--out", str(tmp_path / "ls")] + common)
    tv, dp, ls = (np.load(tmp_path / f"{name}.npz") for name in ("tv", "dp", "ls"))
    assert tv["probs"].shape == (5, 3)
    assert np.allclose(dp["probs"], tv["probs"], atol=1e-5) and np.allclose(ls["probs"], tv["probs"], atol=1e-5)
    assert np.array_equal(dp["labels"], tv["labels"]) and np.array_equal(ls["labels"], tv["labels"])


def test_a_bad_image_list_line_is_named(tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "faces.txt").write_text("a.png 0 1 0\na.png 0 2 1\n")
    with pytest.raises(InputError, match=r"faces.txt:2: label 2 is not 0, 1 or 999"):
        list(evaluate.list_samples(tmp_path / "faces.txt", 3))
    (tmp_path / "faces.txt").write_text("missing.png 0 1 0\n")
    with pytest.raises(InputError, match=r"faces.txt:1: cannot read the image .*missing.png"):
        list(evaluate.list_samples(tmp_path / "faces.txt", 3))
    (tmp_path / "faces.txt").write_text("a.png 0 1\n")
    with pytest.raises(InputError, match=r"faces.txt:1: wants a path and 3 labels \(one per --aus\), got 2"):
        list(evaluate.list_samples(tmp_path / "faces.txt", 3))
