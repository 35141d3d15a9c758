"""tools/nets/model_card.py on the paper's generated nets: the card a solver gets, where it lands, and
au-predict's model on a paper deploy net (L-DSCMR's Region layer, DRML's crop)."""
import json

import caffe
import numpy as np
import pytest
from helpers.data import face

from data_prep.faces.align import align_face
from dscmr.errors import InputError
from tools import generate_prototxt as gen
from tools.nets import model_card
from tools.predict.model import AUModel

AUS = (1, 2, 4)


@pytest.fixture
def generated(tmp_path):
    """ldscmr and drml prototxt for a 3-AU dataset at data/ck, laid out as in the repository."""
    (tmp_path / "data" / "ck").mkdir(parents=True)
    (tmp_path / "data" / "ck" / "manifest.json").write_text(json.dumps(
        {"dataset": "ckplus", "aus": list(AUS), "image": {"height": 224}, "mean_bgr": [90, 100, 110],
         "config": {"landmarker": "dlib5"}, "command": "au-build-ckplus"}))
    gen.main(["--out", str(tmp_path / "prototxt"), "--data", "data/ck", "--aus", "1,2,4", "--only", "ldscmr,drml",
              "--mean", "90", "100", "110"])
    return tmp_path


def test_a_solver_gets_its_card_beside_its_snapshots(generated):
    path = model_card.write("prototxt/ldscmr_solver.prototxt", root=generated)
    assert path == generated / "runs" / "ldscmr.model.json"
    card = json.loads(path.read_text())
    assert card["aus"] == list(AUS) and card["labels"] == ["AU1", "AU2", "AU4"]
    assert card["deploy"] == "prototxt/ldscmr_deploy.prototxt" and card["snapshot_prefix"] == "runs/ldscmr"
    assert card["dataset"]["path"] == "data/ck" and card["dataset"]["name"] == "ckplus"
    assert card["dataset"]["train_images"] == "data/ck/train/images"
    assert card["preprocess"]["mean_bgr"] == [90.0, 100.0, 110.0] and card["preprocess"]["crop"] is None
    assert card["alignment"]["landmarker"] == "dlib5" and card["alignment"]["size"] == 224
    drml = json.loads(model_card.write("prototxt/drml_solver.prototxt", root=generated).read_text())
    assert drml["preprocess"]["crop"] == 170 and drml["input"]["size"] == 170


def test_snapshots_find_their_card():
    assert str(model_card.path_for_weights("runs/ldscmr_iter_6000.caffemodel")) == "runs/ldscmr.model.json"
    assert str(model_card.path_for_weights("w/dscmr_py_iter_20.caffemodel")) == "w/dscmr_py.model.json"
    assert str(model_card.path_for_weights("best.caffemodel")) == "best.model.json"


def test_a_card_needs_the_datasets_manifest(generated):
    (generated / "data" / "ck" / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.json: not found"):
        model_card.write("prototxt/ldscmr_solver.prototxt", root=generated)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ldscmr", "drml"])
def test_paper_deploy_nets_predict_like_a_hand_made_forward_pass(generated, method):
    model_card.write(f"prototxt/{method}_solver.prototxt", root=generated)
    caffe.set_random_seed(3)
    weights = generated / "runs" / f"{method}_iter_1.caffemodel"
    init = caffe.Net(str(generated / "prototxt" / f"{method}_deploy.prototxt"), caffe.TEST)
    for layer in init.layer_dict.values():   # unit running variances (zero ones give NaN)
        if layer.type in ("BatchNorm", "Region"):
            stats = layer.blobs[-3:]
            stats[1].data[...] = 1
            stats[2].data[...] = 1
    init.save(str(weights))
    model = AUModel(weights, aus=(4, 1))
    image, landmarks = face(3, (1, 4))
    aligned, _ = align_face(image, landmarks)
    probs = model.predict([aligned, aligned[:, ::-1]])
    assert probs.shape == (2, 2) and ((probs >= 0) & (probs <= 1)).all()

    size = 170 if method == "drml" else 224
    off = (224 - size) // 2
    net = caffe.Net(str(generated / "prototxt" / f"{method}_deploy.prototxt"), str(weights), caffe.TEST)
    x = aligned[off:off + size, off:off + size].transpose(2, 0, 1) - np.array([90.0, 100.0, 110.0])[:, None, None]
    net.blobs["data"].data[0] = x
    expected = net.forward()["prob"][0]
    assert np.allclose(probs[0], expected[[2, 0]], atol=1e-5)
