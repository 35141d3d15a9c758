"""The methods of the paper's comparison, one row each: what the generator builds, the bench times,
the experiments train and the audit names.

`key` names the files (prototxt/<key>_solver.prototxt) and the runs; `paper_name` is the method as
the paper's tables print it. A `python_layers` method is its twin's net with the Python reference
layers (python_layers/) in place of the C++ ones, for the gradient and cross-checks.
"""
from dataclasses import dataclass

from dscmr import paper

DRML_CROP = 170  # DRML's input crop [23]
# The paper gives no mean subtraction; these are BVLC's ImageNet BGR means, as its reference nets
# use (docs/networks.md). au-prototxt's --mean sets others.
DEFAULT_MEAN_BGR = (104, 117, 123)


@dataclass(frozen=True)
class Method:
    key: str
    paper_name: str
    body: str            # the layers from the image to the logits: alexnet, resnet18, dscmr, ldscmr, drml
    loss: str            # Caffe's loss layer: SigmoidCrossEntropyLoss, MSRLoss (eqs. 1-7), AdMSRLoss (eqs. 8-11)
    input_size: int      # the side of the square input image
    where: str           # where the paper defines or uses it
    python_layers: bool = False

    @property
    def twin(self):
        """The method this one reproduces with Python layers (itself when it is not a twin)."""
        return self.key.removesuffix("_py")


METHODS = (
    Method("alexnet", "AlexNet", "alexnet", "SigmoidCrossEntropyLoss", paper.INPUT_SIZE,
           'Tables 4-5, Fig. 5 "without"'),
    Method("alexnet_msr", "AlexNet + MSR", "alexnet", "MSRLoss", paper.INPUT_SIZE, "Tables 2-3, Fig. 5"),
    Method("alexnet_admsr", "AlexNet+Ad-MSR", "alexnet", "AdMSRLoss", paper.INPUT_SIZE, "Tables 2-5"),
    Method("resnet18", "ResNet18", "resnet18", "SigmoidCrossEntropyLoss", paper.INPUT_SIZE, "Tables 4-5"),
    Method("drml", "DRML", "drml", "SigmoidCrossEntropyLoss", DRML_CROP, "[23], Tables 4-5"),
    Method("dscmr", "DSCMR", "dscmr", "AdMSRLoss", paper.INPUT_SIZE, "Sec. 2.1, Tables 4-5"),
    Method("ldscmr", "L-DSCMR", "ldscmr", "AdMSRLoss", paper.INPUT_SIZE, "Sec. 2.1, Fig. 2, Tables 4-5"),
    Method("dscmr_py", "DSCMR", "dscmr", "AdMSRLoss", paper.INPUT_SIZE, "Sec. 2.1", python_layers=True),
    Method("ldscmr_py", "L-DSCMR", "ldscmr", "AdMSRLoss", paper.INPUT_SIZE, "Sec. 2.1, Fig. 2", python_layers=True),
)
KEYS = tuple(m.key for m in METHODS)
# The methods a user trains and the paper compares (no Python-layer twins).
PAPER_KEYS = tuple(m.key for m in METHODS if not m.python_layers)


class UnknownMethod(KeyError):
    def __str__(self):
        return f"unknown method {self.args[0]!r}; known: {', '.join(KEYS)}"


def get(key):
    """The Method named key, or UnknownMethod."""
    for m in METHODS:
        if m.key == key:
            return m
    raise UnknownMethod(key)


def by_paper_name(name):
    """The method the paper's tables call name (the C++ one where a Python twin exists)."""
    return next(m for m in METHODS if m.paper_name == name and not m.python_layers)
