"""The LMDB Datum format the nets read: images (raw, PNG, JPEG) and float labels, same keys."""
import numpy as np
import pytest

from data_prep.lmdb_io import PairWriter, decode_image, decode_labels, image_datum, key, label_datum, read_split


def _image(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    img[:100] = (10, 120, 250)   # a flat area (compresses)
    return img


def test_raw_datum_is_chw_bgr_uint8():
    from caffe.proto import caffe_pb2
    img = _image()
    d = caffe_pb2.Datum()
    d.ParseFromString(image_datum(img, "none"))
    assert (d.channels, d.height, d.width, d.encoded) == (3, 224, 224, False)
    chw = np.frombuffer(d.data, np.uint8).reshape(3, 224, 224)
    np.testing.assert_array_equal(chw[0], img[:, :, 0])   # channel 0 is blue
    np.testing.assert_array_equal(chw[2], img[:, :, 2])


@pytest.mark.parametrize("encoding, tol", [("none", 0), ("png", 0), ("jpg", 6.0)])
def test_image_datums_round_trip(encoding, tol):
    img = _image(1)
    img[100:] = 200   # smooth enough for JPEG to be close
    back = decode_image(image_datum(img, encoding, 95))
    assert back.shape == img.shape and back.dtype == np.uint8
    assert np.abs(back.astype(float) - img).mean() <= tol


def test_label_datum_is_float_n_by_1_by_1_with_the_ignore_label():
    from caffe.proto import caffe_pb2
    d = caffe_pb2.Datum()
    d.ParseFromString(label_datum([1, 0, 999, 1]))
    assert (d.channels, d.height, d.width, len(d.data)) == (4, 1, 1, 0)
    assert list(d.float_data) == [1.0, 0.0, 999.0, 1.0]
    np.testing.assert_array_equal(decode_labels(label_datum([0, 999])), [0, 999])


def test_pair_writer_keys_match_and_read_back_in_key_order(tmp_path):
    w = PairWriter(tmp_path / "train", batch=2)
    order = [5, 0, 3, 1, 4]
    for k in order:
        w.put(k, image_datum(_image(k), "png"), [k % 2, 999])
    w.close()
    rows = read_split(tmp_path / "train")
    assert [r[0] for r in rows] == [key(k).decode() for k in sorted(order)]
    for k, (_, img, labels) in zip(sorted(order), rows):
        np.testing.assert_array_equal(img, _image(k))
        np.testing.assert_array_equal(labels, [k % 2, 999])


def test_keys_sort_numerically():
    assert key(9) < key(10) < key(12345678)
    assert key(7) == b"00000007"


def test_manifest_json_keeps_flat_lists_on_one_line_and_round_trips():
    import json

    from dscmr.files import dump_json
    obj = {"aus": [1, 2, 4], "mean_bgr": [101.5, 113.25, 131.0], "subjects": {"train": ["S005", "a,\n  b"]},
           "nested": [[1, 2]], "empty": []}
    text = dump_json(obj)
    assert json.loads(text) == obj
    assert '"aus": [1, 2, 4],' in text and '"train": ["S005", "a,\\n  b"]' in text


def test_the_digest_sees_pixels_and_labels_not_how_the_images_were_compressed(tmp_path):
    from data_prep.lmdb_io import digest

    def write(root, encoding, pixel=0, label=1.0):
        for split in ("train", "val", "test"):
            writer = PairWriter(root / split)
            for i in range(2):
                img = _image(i)
                img[0, 0, 0] = pixel if i == 1 else img[0, 0, 0]
                writer.put(i, image_datum(img, encoding), np.array([label, 0], np.float32))
            writer.close()
        return digest(root)
    raw = write(tmp_path / "raw", "none")
    assert write(tmp_path / "png", "png") == raw
    assert write(tmp_path / "pixel", "png", pixel=1) != raw
    assert write(tmp_path / "label", "png", label=999.0) != raw
