"""MSR and Ad-MSR losses (paper Sec. 2.2-2.3, eqs. 1-11): the readable reference layers.

Bottoms: logits x (N x n or N x n x 1 x 1) and labels y (same count), one column per AU.
Labels are 0, 1 or `ignore_label`; anything else raises ValueError naming value and position.
The interpretations of the paper are those of docs/layers/msr_loss.md.

    layer { type: "Python" bottom: "x" bottom: "y" top: "loss" loss_weight: 1
            python_param { module: "python_layers.msr_loss" layer: "MSRLoss"
                           param_str: '{"ignore_label": 999}' } }

AdMSRLoss keeps L_pre and the update count in self.blobs, so snapshots save them. A Python
layer cannot set its own ParamSpec (the C++ layer does), so its prototxt must declare both blobs
as statistics: `param { lr_mult: 0 decay_mult: 0 } param { lr_mult: 0 decay_mult: 0 }`.
"""
import caffe
import numpy as np

from python_layers.params import parse_param_str

BETA_MODES = ("CLAMPED", "PAPER_ZERO", "RAW")


def log_sigmoid(x):
    """log(sigmoid(x)) without overflow: min(x, 0) - log(1 + exp(-|x|))."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def check_labels(y, ignore_label, layer_name):
    """Raises ValueError naming the first label that is not 0, 1 or ignore_label."""
    good = (y == 0) | (y == 1)
    if ignore_label is not None:
        good |= y == ignore_label
    if not good.all():
        j, i = np.argwhere(~good)[0]
        allowed = "0 or 1" if ignore_label is None else f"0, 1 or ignore_label {ignore_label}"
        raise ValueError(f"{layer_name}: label {y[j, i]:g} at (sample {j}, AU {i}) is not {allowed}")


def msr_per_au(x, y, ignore_label):
    """Per-AU MSR loss L_cur (n,) and its gradient dL_cur^(i)/dx_ji (N x n), for x, y of N x n."""
    valid = np.ones(y.shape, bool) if ignore_label is None else y != ignore_label
    pos = valid & (y == 1)                       # S_+^(i) of eq. 1, valid samples only
    neg = valid & (y == 0)                       # S_-^(i) of eq. 1
    n_pos, n_neg = pos.sum(0), neg.sum(0)
    m = valid.sum(0)                             # m of eq. 2: the AU's valid samples
    both = (n_pos > 0) & (n_neg > 0)
    gamma = np.divide(n_neg, n_pos, out=np.ones(len(m)), where=both)    # eq. 3
    w_pos = np.where(both & (gamma > 1), gamma, 1.0)                    # eq. 4: gamma^I(gamma>1)
    w_neg = np.where(both & (gamma < 1), 1 / gamma, 1.0)               # eq. 4: gamma^-I(gamma<1)
    inv_m = np.divide(1.0, m, out=np.zeros(len(m)), where=m > 0)       # L_cur = 0 when m = 0
    # eq. 4: log P_j is log sigmoid(x) for positives and log(1 - sigmoid(x)) = log sigmoid(-x)
    # for negatives.
    l_cur = -inv_m * (w_pos * (pos * log_sigmoid(x)).sum(0)
                      + w_neg * (neg * log_sigmoid(-x)).sum(0))
    sigmoid = np.exp(log_sigmoid(x))
    grad = inv_m * (w_pos * pos * (sigmoid - 1) + w_neg * neg * sigmoid)  # d eq. 4 / dx
    return l_cur, grad


def ad_msr_beta(l_cur, l_pre, alpha, beta_mode):
    """The loss gain beta (n,) of eq. 10 under `beta_mode`."""
    l_s = np.mean(alpha * l_cur + (1 - alpha) * l_pre)                  # eq. 8
    denom = l_cur + l_s
    r = np.divide(l_cur - l_s, denom, out=np.zeros(len(l_cur)), where=denom != 0) + 1  # eq. 10
    if beta_mode == "CLAMPED":
        beta = np.where(l_cur > l_s, r, 1.0)     # beta in [1, 2]
    elif beta_mode == "PAPER_ZERO":
        beta = np.where(l_cur > l_s, r, 0.0)     # "beta = 0 means ... good"
    else:
        beta = r                                 # RAW
    return beta


class MSRLoss(caffe.Layer):
    """Loss = sum_i L_cur^(i) (eq. 7). Tops: loss, optionally L_cur (n)."""

    max_tops = 2
    defaults = {"ignore_label": None}

    def setup(self, bottom, top):
        self.params = parse_param_str(self.param_str, self.defaults, type(self).__name__)
        if len(bottom) != 2:
            raise ValueError(f"{type(self).__name__}: needs 2 bottoms (logits, labels), got {len(bottom)}")
        if not 1 <= len(top) <= self.max_tops:
            raise ValueError(f"{type(self).__name__}: takes 1 to {self.max_tops} tops, got {len(top)}")

    def count_aus(self, bottom):
        """n, the number of AUs, after checking the bottoms' shapes."""
        shape = bottom[0].data.shape
        if len(shape) < 2 or int(np.prod(shape[2:])) != 1:
            raise ValueError(f"{type(self).__name__}: logits must be N x n or N x n x 1 x 1, got {shape}")
        if bottom[1].count != bottom[0].count:
            raise ValueError(f"{type(self).__name__}: labels have {bottom[1].count} values, "
                             f"logits {bottom[0].count}")
        return shape[1]

    def reshape(self, bottom, top):
        self.num_aus = self.count_aus(bottom)
        top[0].reshape()
        for i in range(1, len(top)):
            top[i].reshape(self.num_aus)

    def per_au(self, bottom):
        """L_cur (n,) and dL_cur/dx (N x n) of the current batch, labels checked."""
        x = bottom[0].data.reshape(-1, self.num_aus).astype(np.float64)
        y = bottom[1].data.reshape(-1, self.num_aus).astype(np.float64)
        check_labels(y, self.params["ignore_label"], type(self).__name__)
        return msr_per_au(x, y, self.params["ignore_label"])

    def forward(self, bottom, top):
        l_cur, self.grad = self.per_au(bottom)
        top[0].data[...] = l_cur.sum()                                   # eq. 7
        if len(top) > 1:
            top[1].data[...] = l_cur

    def backward(self, top, propagate_down, bottom):
        # dLoss/dL_cur^(i): the loss weight, plus the diff of the L_cur top if there is one.
        self.backward_through(top[0].diff.flat[0] + (top[1].diff if len(top) > 1 else 0),
                              propagate_down, bottom)

    def backward_through(self, coef, propagate_down, bottom):
        """bottom[0].diff = coef_i * dL_cur^(i)/dx. Labels get none: unlike Caffe's C++ loss
        layers, a Python layer cannot refuse force_backward, so their diff is set to 0."""
        if propagate_down[0]:
            bottom[0].diff[...] = (coef * self.grad).reshape(bottom[0].diff.shape)
        if propagate_down[1]:
            bottom[1].diff[...] = 0


class AdMSRLoss(MSRLoss):
    """Loss = sum_i beta_i L_cur^(i) (eq. 11). Tops: loss, optionally beta (n), L_cur (n).

    State: blobs[0] = L_pre (n), blobs[1] = number of updates (1).
    """

    max_tops = 3
    defaults = {"ignore_label": None, "alpha": 0.5, "beta_mode": "CLAMPED"}

    def setup(self, bottom, top):
        super().setup(bottom, top)
        if self.params["beta_mode"] not in BETA_MODES:
            raise ValueError(f"AdMSRLoss: beta_mode {self.params['beta_mode']!r} is not one of {BETA_MODES}")
        if not 0 <= self.params["alpha"] <= 1:
            raise ValueError(f"AdMSRLoss: alpha {self.params['alpha']} is not in [0, 1]")
        self.blobs.add_blob(self.count_aus(bottom))      # L_pre
        self.blobs.add_blob(1)                           # number of eq. 9 updates
        for b in self.blobs:
            b.data[...] = 0

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if self.num_aus != self.blobs[0].count:
            raise ValueError(f"AdMSRLoss: {self.num_aus} AUs, but L_pre holds {self.blobs[0].count}")

    def forward(self, bottom, top):
        alpha = self.params["alpha"]
        l_cur, self.grad = self.per_au(bottom)
        updates = self.blobs[1].data[0]
        # L_pre is initialised from the first batch: before any update, L_pre := L_cur.
        l_pre = l_cur if updates == 0 else self.blobs[0].data.astype(np.float64)
        self.beta = ad_msr_beta(l_cur, l_pre, alpha, self.params["beta_mode"])  # eqs. 8, 10
        top[0].data[...] = (self.beta * l_cur).sum()                                # eq. 11
        if len(top) > 1:
            top[1].data[...] = self.beta
        if len(top) > 2:
            top[2].data[...] = l_cur
        if self.phase == caffe.TRAIN:            # TEST reads the state, never writes it
            self.blobs[0].data[...] = alpha * l_cur + (1 - alpha) * l_pre               # eq. 9
            self.blobs[1].data[...] = updates + 1

    def backward(self, top, propagate_down, bottom):
        # beta and L_S are constants: dLoss/dL_cur^(i) = beta_i times the loss weight, plus the
        # diff of the L_cur top if there is one. The beta top passes no gradient.
        self.backward_through(top[0].diff.flat[0] * self.beta + (top[2].diff if len(top) > 2 else 0),
                              propagate_down, bottom)
