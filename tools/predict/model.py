"""A trained net with its model card, and the checks that keep them together.

The card (tools/nets/model_card.py) names the AUs of the net's outputs, the alignment and the input
preprocessing. Loading refuses, with a message that says what to do, when the card, the deploy net
and the weights disagree: another alignment template, another output width or input size, weights
trained on other data or with another mean than the card records, or --aus naming an AU the model
does not have.
"""
from pathlib import Path

import numpy as np

from data_prep.faces.align import template
from dscmr.errors import InputError
from tools.nets import model_card
from tools.nets.caffe_files import PendingNet, read_weights
from tools.nets.model_card import CardError


def _trained_on(net):
    """{input blob: (LMDB source, mean_value)} of the Data layers a Caffe snapshot records (a
    snapshot keeps its train net's layer parameters; net: read_weights's); empty for weights saved
    without them."""
    if net is None:
        return {}
    return {top: (layer.data_param.source, list(layer.transform_param.mean_value))
            for layer in net.layer if layer.type == "Data" for top in layer.top}


def _same_mean(a, b):
    return np.allclose(np.resize(np.asarray(a, float), 3), np.resize(np.asarray(b, float), 3))


class AUModel:
    """predict(aligned faces) -> probabilities of the selected AUs, in batches."""

    def __init__(self, weights, deploy=None, card=None, aus=None, meanwhile=None):
        """meanwhile: a function of the card, called while Caffe builds the net in a child process
        (au-predict loads dlib's models then); its result is self.meanwhile."""
        weights_param = read_weights(weights)
        card_path = Path(card) if card else model_card.path_for_weights(weights)
        self.card = card = model_card.load(card_path)
        self.card_path = card_path
        recorded = {k: v for k, v in card["alignment"].items() if k != "landmarker"}
        if recorded != template():
            raise CardError(f"{card_path}: the model was trained on faces aligned to another template than "
                            "data_prep/faces/align.py's; align with the code that built its training data")
        self.deploy = Path(deploy) if deploy else model_card.resolve(card, card["deploy"])
        if not self.deploy.is_file():
            raise CardError(f"deploy net {self.deploy} (from {card_path}) does not exist: give --deploy")
        pending = PendingNet(self.deploy, weights)   # Caffe builds it in a child process meanwhile
        try:
            self._check_weights(weights, weights_param)
            self.meanwhile = meanwhile(card) if meanwhile else None
        except BaseException:
            pending.cancel()
            raise
        self.net = pending.net()
        if weights_param is not None:   # Caffe leaves a layer that the weights lack as its filler made it
            trained = {layer.name for layer in [*weights_param.layer, *weights_param.layers] if layer.blobs}
            untrained = [name for name in self.net.params if name not in trained]
            if untrained:
                raise InputError(weights, f"holds no weights for {', '.join(untrained)} of {self.deploy}: "
                                          "the weights are another net's")
        self.input, self.output = card["input"]["blob"], card["output"]["blob"]
        for blob in (self.input, self.output):
            if blob not in self.net.blobs:
                raise CardError(f"{self.deploy} has no blob {blob!r}, which {card_path} names")
        self.model_aus = tuple(card["aus"])
        width = self.net.blobs[self.output].data.shape[1]
        if width != len(self.model_aus):
            raise CardError(f"{self.deploy} outputs {width} values but {card_path} lists {len(self.model_aus)} AUs "
                            f"({','.join(map(str, self.model_aus))}): the deploy net is not this model's")
        pre = card["preprocess"]
        self.size = pre["crop"] or pre["aligned_size"]
        if tuple(self.net.blobs[self.input].data.shape[2:]) != (self.size, self.size):
            raise CardError(f"{self.deploy} takes {self.net.blobs[self.input].data.shape[2:]} inputs but "
                            f"{card_path} preprocesses faces to {self.size} x {self.size}")
        self.mean = np.asarray(pre["mean_bgr"], np.float32)[:, None, None]
        self.scale = np.float32(pre["scale"])
        self.aus = tuple(aus) if aus else self.model_aus
        missing = [a for a in self.aus if a not in self.model_aus]
        if missing:
            raise CardError(f"--aus asks for AU{', AU'.join(map(str, missing))}, which the model does not "
                            f"predict; its AUs ({card_path}): {','.join(map(str, self.model_aus))}")
        self.columns = [self.model_aus.index(a) for a in self.aus]

    def _check_weights(self, weights, weights_param):
        recorded = _trained_on(weights_param).get(self.card["input"]["blob"])
        if recorded is None:
            return
        source, mean = recorded
        want = self.card["dataset"]["train_images"]
        if source != want:
            raise CardError(f"{weights} was trained on {source} but {self.card_path} describes a model trained on "
                            f"{want}: the card belongs to another run (give that run's --model-card)")
        if not _same_mean(mean or [0.0], self.card["preprocess"]["mean_bgr"]):
            raise CardError(f"{weights} was trained with mean {mean} but {self.card_path} subtracts "
                            f"{self.card['preprocess']['mean_bgr']}")

    def blob(self, faces):
        """N x 3 x S x S float input of aligned BGR faces: centre crop, minus the mean, times scale
        (Caffe's DataTransformer in the TEST phase)."""
        x = np.stack(faces).astype(np.float32).transpose(0, 3, 1, 2)
        off = (x.shape[2] - self.size) // 2
        x = x[:, :, off:off + self.size, off:off + self.size]
        return (x - self.mean) * self.scale

    def predict(self, faces):
        """len(faces) x len(self.aus) probabilities."""
        if not faces:
            return np.zeros((0, len(self.aus)), np.float64)
        data = self.blob(faces)
        self.net.blobs[self.input].reshape(*data.shape)
        self.net.blobs[self.input].data[...] = data
        self.net.forward()
        return self.net.blobs[self.output].data[:, self.columns].astype(np.float64)
