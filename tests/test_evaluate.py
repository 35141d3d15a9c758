"""tools/evaluate.py: it evaluates the split it is given, in LMDB order, with Caffe's transform,
and --predictions recomputes the same metrics without Caffe."""
import json

import caffe
import numpy as np

from data_helpers import write_random_lmdbs
from data_prep.lmdb_io import read_split
from tools import evaluate
from tools import generate_prototxt as gen
from tools.metrics import per_au_metrics

AUS = (1, 2, 4)


def test_evaluates_the_test_split_like_the_deploy_net(tmp_path):
    write_random_lmdbs(tmp_path, len(AUS), n_images=5, splits=("train", "val", "test"))
    (tmp_path / "manifest.json").write_text(json.dumps({"aus": list(AUS)}))
    gen.main(["--out", str(tmp_path), "--out-prefix", str(tmp_path), "--data", str(tmp_path), "--only",
              "alexnet_admsr", "--aus", "1,2,4", "--batch-size", "2"])
    caffe.set_random_seed(5)
    weights = tmp_path / "init.caffemodel"
    caffe.Net(str(tmp_path / "alexnet_admsr_deploy.prototxt"), caffe.TEST).save(str(weights))

    out = tmp_path / "eval"
    evaluate.main(["--model", str(tmp_path / "alexnet_admsr_train_val.prototxt"), "--weights", str(weights),
                   "--data", str(tmp_path), "--split", "test", "--batch-size", "2", "--out", str(out)])
    saved = np.load(out.with_suffix(".npz"))

    # The same faces through the deploy net by hand: BGR, CHW, minus the mean, no mirror.
    deploy = caffe.Net(str(tmp_path / "alexnet_admsr_deploy.prototxt"), str(weights), caffe.TEST)
    samples = read_split(tmp_path / "test")
    expected = []
    for _, image, _ in samples:
        deploy.blobs["data"].data[0] = image.transpose(2, 0, 1) - np.array(gen.DEFAULT_MEAN_BGR)[:, None, None]
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
