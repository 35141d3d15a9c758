"""PyTorch twins of the bench's Caffe nets (bench/caffe_nets.py): the same layers, shapes and
losses as the generated prototxt, for timing only (docs/networks.md describes the graphs).

Caffe's max-pooling rounds output sizes up (ceil_mode=True here); BatchNorm + Scale is one
BatchNorm2d with affine parameters, in training mode (batch statistics), as Caffe's TRAIN phase;
LRN's alpha is divided by the window in both. The Region layer is written as
docs/layers/region.md defines it: per patch BatchNorm, ReLU and 3 x 3 conv, plus the identity.
"""
import torch
import torch.nn.functional as F
from torch import nn

from dscmr import paper

N_AUS = len(paper.EMOTIONET_AUS)


def conv_bn(c_in, c_out, kernel, stride=1, pad=0, relu=True):
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, c_in, width, stride, projection):
        super().__init__()
        self.shortcut = conv_bn(c_in, width, 1, stride, relu=False) if projection else nn.Identity()
        self.branch = nn.Sequential(conv_bn(c_in, width, 3, stride, 1), conv_bn(width, width, 3, 1, 1, relu=False))

    def forward(self, x):
        return F.relu(self.shortcut(x) + self.branch(x), inplace=True)


def resnet18_body(c_in):
    """tools/nets/prototxt.py's resnet18_body: every group's first block has a 1x1 projection."""
    layers = [conv_bn(c_in, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True)]
    c = 64
    for g, width in enumerate(paper.RESNET18_GROUP_WIDTHS):
        layers += [ResBlock(c, width, 2 if g > 0 else 1, True), ResBlock(width, width, 1, False)]
        c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


class Region(nn.Module):
    """y_p = conv_p(ReLU(BN_p(x_p))) + x_p on a grid_h x grid_w grid of patches."""

    def __init__(self, channels, grid=paper.REGION_GRID, kernel=3):
        super().__init__()
        self.grid = grid
        n = grid[0] * grid[1]
        self.bn = nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(n))
        self.conv = nn.ModuleList(nn.Conv2d(channels, channels, kernel, padding=kernel // 2) for _ in range(n))

    def forward(self, x):
        gh, gw = self.grid
        h, w = x.shape[2:]
        rows = []
        for i in range(gh):
            cols = []
            for j in range(gw):
                p = i * gw + j
                patch = x[:, :, i * h // gh:(i + 1) * h // gh, j * w // gw:(j + 1) * w // gw]
                cols.append(self.conv[p](F.relu(self.bn[p](patch))) + patch)
            rows.append(torch.cat(cols, 3))
        return torch.cat(rows, 2)


def alexnet(n_aus):
    def conv(c_in, c_out, k, stride=1, pad=0, groups=1):
        return [nn.Conv2d(c_in, c_out, k, stride, pad, groups=groups), nn.ReLU(inplace=True)]
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    lrn = lambda: nn.LocalResponseNorm(5, 1e-4, 0.75)  # noqa: E731
    return nn.Sequential(
        *conv(3, 96, 11, 4), lrn(), pool(), *conv(96, 256, 5, pad=2, groups=2), lrn(), pool(),
        *conv(256, 384, 3, pad=1), *conv(384, 384, 3, pad=1, groups=2), *conv(384, 256, 3, pad=1, groups=2),
        pool(), nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, n_aus))


def drml(n_aus):
    def conv(c_in, c_out, k, stride=1):
        return [nn.Conv2d(c_in, c_out, k, stride), nn.ReLU(inplace=True)]
    return nn.Sequential(
        *conv(3, 32, 11), Region(32), nn.MaxPool2d(2, 2, ceil_mode=True), nn.LocalResponseNorm(5, 1e-4, 0.75),
        *conv(32, 16, 8), *conv(16, 16, 8), *conv(16, 16, 6, 2), *conv(16, 16, 5), nn.Flatten(),
        nn.Linear(16 * 27 * 27, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 2048), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(2048, n_aus))


def dscmr_head(n_aus):
    return [nn.Linear(512, paper.FC_WIDTH), nn.ReLU(inplace=True), nn.Linear(paper.FC_WIDTH, n_aus)]


def ad_msr_loss(x, y, alpha=paper.ALPHA):
    """Ad-MSR (eqs. 4, 8, 10, 11) with L_pre = L_cur, as on a first batch: the per-AU weighted
    sigmoid cross-entropy, scaled by the detached loss gain beta."""
    pos, neg = (y == 1).float(), (y == 0).float()
    n_pos, n_neg = pos.sum(0), neg.sum(0)
    gamma = torch.where((n_pos > 0) & (n_neg > 0), n_neg / n_pos.clamp(min=1), torch.ones_like(n_pos))
    w_pos, w_neg = gamma.clamp(min=1), (1 / gamma).clamp(min=1)
    l_cur = -(w_pos * (pos * F.logsigmoid(x)).sum(0) + w_neg * (neg * F.logsigmoid(-x)).sum(0)) / (pos + neg).sum(0)
    with torch.no_grad():
        l_s = l_cur.mean() * alpha + l_cur.mean() * (1 - alpha)
        beta = torch.where(l_cur > l_s, (l_cur - l_s) / (l_cur + l_s) + 1, torch.ones_like(l_cur))
    return (beta * l_cur).sum()


def sigmoid_ce(x, y):
    """Caffe's SigmoidCrossEntropyLoss with its default VALID normalisation: the mean over labels."""
    return F.binary_cross_entropy_with_logits(x, y)


# The PyTorch twins of the generator's bodies and loss layers (dscmr.methods).
BODIES = {
    "resnet18": lambda n_aus: nn.Sequential(resnet18_body(3), nn.Linear(512, n_aus)),
    "dscmr": lambda n_aus: nn.Sequential(resnet18_body(3), *dscmr_head(n_aus)),
    "ldscmr": lambda n_aus: nn.Sequential(conv_bn(3, 32, 11), Region(32), nn.ReLU(inplace=True),
                                          resnet18_body(32), *dscmr_head(n_aus)),
    "alexnet": alexnet,
    "drml": drml,
}
LOSSES = {"SigmoidCrossEntropyLoss": sigmoid_ce, "AdMSRLoss": ad_msr_loss}


def model_and_loss(method, n_aus=N_AUS):
    """(nn.Module, loss function) of a dscmr.methods.Method."""
    if method.body not in BODIES or method.loss not in LOSSES:
        raise ValueError(f"no PyTorch twin of {method.key!r}")
    return BODIES[method.body](n_aus), LOSSES[method.loss]


def inputs(method, batch, n_aus=N_AUS, seed=0):
    g = torch.Generator().manual_seed(seed)
    size = method.input_size
    return torch.randn(batch, 3, size, size, generator=g) * 50, (torch.rand(batch, n_aus, generator=g) < 0.3).float()
