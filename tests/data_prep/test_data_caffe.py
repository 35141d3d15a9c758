"""Caffe's own Data layer reads the LMDBs: two Data layers (images with a transform, labels) in
lockstep give the expected shapes, pixels and labels."""
import numpy as np
import pytest
from helpers.caffe import net_from_text
from helpers.data import load

from data_prep import build_synthau

MEAN = (104.0, 117.0, 123.0)


def _net(split_dir, batch):
    return f"""
layer {{ name: "data" type: "Data" top: "data"
  transform_param {{ mean_value: {MEAN[0]} mean_value: {MEAN[1]} mean_value: {MEAN[2]} }}
  data_param {{ source: "{split_dir}/images" batch_size: {batch} backend: LMDB }} }}
layer {{ name: "label" type: "Data" top: "label"
  data_param {{ source: "{split_dir}/labels" batch_size: {batch} backend: LMDB }} }}
"""


@pytest.mark.parametrize("encode", ["png", "none"])
def test_caffe_data_layers_read_images_and_labels_in_step(tmp_path, encode):
    out = tmp_path / "ds"
    assert build_synthau.main(["--out", str(out), "--train", "8", "--val", "2", "--test", "2", "--jobs", "1",
                               "--encode", encode, "--aus", "1,12,25", "--imbalance", "balanced",
                               "--no-progress"]) == 0
    _, splits = load(out)
    rows = splits["train"]
    net = net_from_text(_net(out / "train", 4))
    seen = []
    for batch in range(2):
        net.forward()
        data, label = net.blobs["data"].data, net.blobs["label"].data
        assert data.shape == (4, 3, 224, 224) and label.shape == (4, 3, 1, 1)
        for i in range(4):
            _, img, labels = rows[batch * 4 + i]
            want = img.transpose(2, 0, 1).astype(np.float32) - np.array(MEAN, np.float32)[:, None, None]
            np.testing.assert_array_equal(data[i], want)
            np.testing.assert_array_equal(label[i, :, 0, 0], labels)
        seen.append(label[:, :, 0, 0].copy())
    # Balanced: 4 of the 8 train images are positive for each AU.
    np.testing.assert_array_equal(np.concatenate(seen).sum(0), [4, 4, 4])
