"""The readings of the paper's ambiguous sentences that change what a run trains: each axis is one
sentence, quoted, with its values and what each means in Caffe's terms (tools/nets/prototxt.py
realises them). A run records the readings it was trained under, its results folder is named by the
ones that are not the default, and AUDIT.md (a) lists the values tried and (b) judges each claim under
each of them (tools/experiments/claims.py).

The defaults are the readings every run before these axes was trained under: they write the very
same nets and solvers, so those runs' code fingerprints do not move.
"""
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Axis:
    name: str          # the field of Readings, and the option --<name with dashes>
    where: str         # the paper's section or equations
    quote: str         # the sentence read (AUDIT.md checks it against the paper's text)
    values: dict       # {value: what it means, in Caffe's terms}
    default: str
    tag: dict          # {value: its part of a results folder's name} for the values that are not the default
    losses: tuple = () # the loss layers whose nets it changes (none: every method's solver)


AXES = (
    Axis("loss_scale", "Sec. 2.3, eqs. 7 and 11",
         "Here, we use the arithmetic mean of the all label loss values as the final loss value for this iteration.",
         {"sum": "eqs. 7 and 11 as printed: MSR's and Ad-MSR's loss is the sum over the n AUs (loss_weight 1); "
                 "the sentence is read as L_S's mean (eq. 8) only",
          "mean": "the final loss is the mean over the n AUs: loss_weight 1/n on MSRLoss and AdMSRLoss, which "
                  "divides their loss and gradient by n (cross-entropy is a mean over AUs already)"},
         "sum", {"mean": "mean"}, ("MSRLoss", "AdMSRLoss")),
    Axis("lr_policy", "Sec. 3.1",
         "All models were initialized with the learning rate of 0.0005, which was further reduced after 2000 "
         "iterations.",
         {"step": "lr_policy step, stepsize 2000, gamma 0.1: ×0.1 at 2000, and again at 4000, 6000, ...",
          "once": "lr_policy multistep with one stepvalue 2000, gamma 0.1: ×0.1 once, then 0.00005 to the end"},
         "step", {"once": "once"}),
    Axis("beta", "Eq. 10",
         "At this time, β(i) = 0 means that the learning ability of network is good",
         {"clamped": "AdMSRLoss beta_mode CLAMPED: β = eq. 10 where L_cur > L_S, else 1 (β ∈ [1, 2], as the "
                     "sentence after eq. 10 requires)",
          "paper_zero": "AdMSRLoss beta_mode PAPER_ZERO: β = eq. 10 where L_cur > L_S, else 0 (an AU it learns "
                        "well drops out of eq. 11)"},
         "clamped", {"paper_zero": "paperzero"}, ("AdMSRLoss",)),
)
AXIS = {a.name: a for a in AXES}


@dataclass(frozen=True)
class Readings:
    loss_scale: str = "sum"
    lr_policy: str = "step"
    beta: str = "clamped"

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in AXIS[f.name].values:
                raise ValueError(f"{f.name} {value!r} is not one of {', '.join(AXIS[f.name].values)}")

    def changed(self):
        """{axis: value} of the readings that are not the default (what a run records)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != AXIS[f.name].default}

    def tag(self):
        """The results folder's part for these readings: '' for the defaults, else e.g. '-mean-once'."""
        return "".join(f"-{AXIS[name].tag[value]}" for name, value in self.changed().items())

    def of_loss(self, loss):
        """The readings that change a method with this loss layer (dscmr.methods), the others at their
        default: cross-entropy AlexNet under loss_scale mean is AlexNet, the same run."""
        return Readings(**{f.name: getattr(self, f.name) if not AXIS[f.name].losses or loss in AXIS[f.name].losses
                           else AXIS[f.name].default for f in fields(self)})

    def describe(self):
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self))


DEFAULT = Readings()


def of_record(record):
    """The readings a run record (done.json, a committed run) was trained under: the defaults where it
    records none (every run before the axes)."""
    return Readings(**(record.get("readings") or {}))


def add_options(parser):
    """--loss-scale, --lr-policy and --beta on an argparse parser, each with its values and default."""
    for axis in AXES:
        parser.add_argument("--" + axis.name.replace("_", "-"), choices=tuple(axis.values), default=axis.default,
                            help=f"the reading of {axis.where} (dscmr/readings.py): "
                                 + "; ".join(f"{v}: {what}" for v, what in axis.values.items())
                                 + f" (default: {axis.default})")


def of_options(opts):
    """The Readings of parsed options (add_options)."""
    return Readings(**{axis.name: getattr(opts, axis.name) for axis in AXES})
