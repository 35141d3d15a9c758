"""The facts of the paper's Sections 2-3 that AUDIT.md's part (a) sets beside this project's values:
each with the paper's sentence (checked against its text), the value here, the file and a string
that file must hold (located to file:line when the audit is written), and a status."""
import re
from dataclasses import dataclass

from dscmr import REPO, readings


@dataclass(frozen=True)
class Fact:
    where: str        # the paper's section or equation
    quote: str        # the paper's sentence (tests/experiments/test_audit.py finds each in the paper's text)
    value: str        # this project's value
    path: str         # the file that sets it ...
    anchor: str       # ... at the line holding this string
    status: str       # same | interpreted | differs
    why: str = ""     # for interpreted and differs: the reading, or the reason, and where it is documented


NETWORKS = "docs/networks.md#interpretations"
MSR_DOC = "docs/layers/msr_loss.md#interpretations-of-the-paper"
REGION_DOC = "docs/layers/region.md#interpretations-of-the-paper"
DATA_DOC = "docs/data.md#what-the-paper-says-and-how-it-is-read"
REPRO_DOC = "docs/reproduce.md#interpretations"
GEN = "tools/nets/prototxt.py"

FACTS = (
    Fact("Sec. 2.1", "The input is 224 × 224 color face images.", "224 × 224 × 3 (BGR)", "dscmr/paper.py",
         "INPUT_SIZE = 224", "same"),
    Fact("Sec. 2.1", "the first convolutional layer includes 64 filters of size 7 × 7 and is followed by a "
         "max-pooling layer", "conv1 7×7, 64, stride 2, pad 3; max-pool 3×3 stride 2", GEN,
         'x = self.conv_bn(bottom, "conv1", 64, 7, stride=2, pad=3)', "interpreted",
         f"stride, pad and pool size are ResNet's [32], not stated ({NETWORKS}, 4)"),
    Fact("Sec. 2.1", "The numbers of filters in convolutional layers of each residual group are 64, 128, 256, and 512.",
         "64, 128, 256, 512", "dscmr/paper.py", "RESNET18_GROUP_WIDTHS = (64, 128, 256, 512)", "same"),
    Fact("Sec. 2.1", "Each residual group includes two residual blocks with two 3 × 3 convolutional layers.",
         "blocks a and b, each two 3×3 conv", GEN, 'for b in ("a", "b"):', "same"),
    Fact("Sec. 2.1", "In the first block, a convolutional layer including the same number of filters of size 1 × 1 "
         "is used for the shortcut connection.", "1×1 projection in the first block of every group", GEN,
         'shortcut = self.conv_bn(x, name + "_branch1", width, 1, stride=stride, relu=False)', "interpreted",
         f"group 1 too, where He et al. use an identity ({NETWORKS}, 2)"),
    Fact("Sec. 2.1", "Each convolutional layer is followed by Batch Normalization (BN) [33] and Scale layers.",
         "Convolution (no bias) + BatchNorm + Scale (bias)", GEN, "bias_term=False,", "interpreted",
         f"no convolution bias, as in He et al.'s Caffe ResNets ({NETWORKS}, 3)"),
    Fact("Sec. 2.1", "The first convolutional layer is a fully connected layer with 2046 neural units.",
         "fc 2046 + ReLU after global average pooling", "dscmr/paper.py", "FC_WIDTH = 2046", "interpreted",
         f"a convolution cannot be fully connected: read as the fc after the residual groups ({NETWORKS}, 1)"),
    Fact("Sec. 2.1", "the last layer is a fully connected layer with n neural units", "fc_au with n outputs", GEN,
         'return self.dscmr_head(self.resnet18_body(data))', "same"),
    Fact("Sec. 2.1", "The patch clipping part divides a 214 × 214 feature map into 8 × 8 blocks.",
         "Region layer, 8 × 8 grid of 26-27 px patches", "dscmr/paper.py", "REGION_GRID = (8, 8)", "interpreted",
         f"8 × 8 is the grid, not the patch size ({REGION_DOC})"),
    Fact("Sec. 2.1", "The patch clipping part divides a 214 × 214 feature map into 8 × 8 blocks.",
         "the 214 map: conv0 11×11, 32 filters, on the 224 face", GEN, 'x = self.conv_bn(data, "conv0", 32, 11)',
         "interpreted", f"where the map comes from is not stated; DRML's way ({NETWORKS}, 5)"),
    Fact("Sec. 2.1", "Each block is followed by a Batch Normalization (BN) and ReLU.",
         "per patch BatchNorm + Scale + ReLU, then 3×3 conv", "docs/layers/region.md",
         "Per patch, as DRML does", "interpreted", f"BN as Caffe's BatchNorm + Scale ({REGION_DOC})"),
    Fact("Sec. 2.1", "An identity addition part is introduced along with shortcut connection from the input block.",
         "y = conv(…) + x per patch", "docs/layers/region.md", "y = conv(…) + x per patch", "interpreted",
         f"x is the patch before BN ({REGION_DOC})"),
    Fact("Eq. 2", "where m is the number of all samples.", "m = the AU's valid (not ignored) samples in the batch",
         "python_layers/msr_loss.py", "m = valid.sum(0)", "interpreted", f"per AU ({MSR_DOC}, 1)"),
    Fact("Eq. 3", "The balance factor γ(i) ith AU definite", "γ from the current batch", "python_layers/msr_loss.py",
         "gamma = np.divide(n_neg, n_pos", "interpreted", f"per batch, 1 when a class is absent ({MSR_DOC}, 2-3)"),
    Fact("Eqs. 4-6", "the influence of positive samples on loss is enlarged by multiplying γ(i) which is greater than 1",
         "γ on positives if γ > 1, 1/γ on negatives if γ < 1", "python_layers/msr_loss.py",
         "w_pos = np.where(both & (gamma > 1), gamma, 1.0)", "same"),
    Fact("Eq. 7", "For the multi-label task with n labels, the loss function can be written following",
         "MSRLoss = Σ_i L_cur^(i)", "cpp_layers/src/caffe/layers/msr_loss_layer.cpp", "eq. 7", "same"),
    Fact("Eq. 8", "Here, we use the arithmetic mean of the all label loss values as the final loss value for this "
         "iteration.", "L_S = mean_i(α L_cur + (1 − α) L_pre)", "python_layers/msr_loss.py",
         "l_s = np.mean(alpha * l_cur + (1 - alpha) * l_pre)", "interpreted",
         "read as eq. 8's mean; whether the final loss is a mean over the n AUs too is the `loss_scale` reading "
         "(readings run as axes, below)"),
    Fact("Sec. 3.1", "For Eq. (8), α = 0.5.", "alpha 0.5", "dscmr/paper.py", "ALPHA = 0.5", "same"),
    Fact("Eq. 9", "The historical cost value L pre(i) is updated by Eq. (9) before proceeding to the next iteration",
         "L_pre ← α L_cur + (1 − α) L_pre, TRAIN phase only; L_pre := L_cur on the first batch",
         "python_layers/msr_loss.py", "l_pre = l_cur if updates == 0", "interpreted", f"{MSR_DOC}, 5-6"),
    Fact("Eq. 10", "In order to ensure that β(i) ∈ [1, 2], β(i) is calculated by the relative deviation of the loss "
         "values of each AU.", "beta_mode CLAMPED: β = eq. 10 above L_S, else 1", "cpp_layers/proto/messages.proto",
         "optional BetaMode beta_mode = 2 [default = CLAMPED];", "interpreted",
         f"eq. 10 alone gives [0, 2]; PAPER_ZERO and RAW are the other readings ({MSR_DOC}, 4); CLAMPED and "
         "PAPER_ZERO are the `beta` reading (below)"),
    Fact("Eq. 11", "The final loss function of Advanced MSR can be written as follows:",
         "L = Σ β_i L_cur^(i), β constant in the backward pass", "python_layers/msr_loss.py", "eq. 11",
         "interpreted", f"no gradient through β and L_S ({MSR_DOC}, 7)"),
    Fact("Sec. 3.1", "AUs included in the database are AU1, AU2, AU4, AU5, AU6, AU9, AU12, AU17, AU20, AU25, and AU26.",
         "11 AUs", "dscmr/paper.py", "EMOTIONET_AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26)", "same"),
    Fact("Sec. 3.1", "We registered face images to 224 × 224 using similarity transform",
         "least-squares similarity from 5 landmarks to a fixed template", "data_prep/faces/align.py",
         "def similarity_transform(src, dst):", "interpreted", f"points and template are this project's ({DATA_DOC})"),
    Fact("Sec. 3.1", "Each face was horizontally mirrored for data augmentation.",
         "mirror: true in TRAIN; --mirror stores mirrored train copies", GEN,
         "transform = dict(mirror=phase == caffe.TRAIN", "interpreted", f"{NETWORKS}, 7; {DATA_DOC}"),
    Fact("Sec. 3.1", "All models were initialized with the learning rate of 0.0005",
         "base_lr 0.0005", "dscmr/paper.py", "BASE_LR = 0.0005", "same"),
    Fact("Sec. 3.1", "which was further reduced after 2000 iterations.", "lr_policy step, stepsize 2000, gamma 0.1",
         GEN, '"gamma: 0.1",', "interpreted", f"the factor is not stated; Caffe's customary 0.1 ({NETWORKS}, 6); "
         "reduced once or every 2000 iterations is the `lr_policy` reading (below)"),
    Fact("Sec. 3.1", "A momentum of 0.9 and weight decay of 0.0005 was used.", "momentum 0.9, weight_decay 0.0005",
         "dscmr/paper.py", "WEIGHT_DECAY = 0.0005", "same"),
    Fact("Sec. 3.1", "All models were initialized with the learning rate of 0.0005, which was further reduced after "
         "2000 iterations.", "max_iter 6000, batch 16, mean (104, 117, 123)", GEN, "max_iter: int = 6000",
         "interpreted", f"the paper gives no iteration count, batch size or mean ({NETWORKS}, 6 and 8)"),
    Fact("Sec. 3.1", "All implementations were based on the Caffe toolbox with modifications to support the region "
         "layer and multi-label cross-entropy loss.", "BVLC Caffe 99bd997 + cpp_layers/ (Region, MSRLoss, AdMSRLoss)",
         "setup/fetch_caffe_source.sh", "ORIG_SHA256=", "same"),
    Fact("Sec. 3.1", "The performance was evaluated on two common frame-based metrics: F1-score and AUC.",
         "per-AU F1 (threshold 0.5) and ROC AUC; ignored labels left out", "tools/evaluation/metrics.py",
         "def per_au_metrics(probs, labels, aus, threshold=0.5", "interpreted",
         "the threshold is not stated: 0.5 on the sigmoid (--threshold in tools/evaluation/evaluate.py)"),
    Fact("Sec. 3.1", "For each method, we computed the average metrics on all AUs.", "unweighted mean over AUs",
         "tools/evaluation/metrics.py", "defined = [r[key] for r in rows if not np.isnan(r[key])]", "same"),
    Fact("Sec. 3.1", "The last frame of each image sequence is labeled with AU.", "the frame each FACS file names",
         "data_prep/build_ckplus.py", "The last frame of each image sequence is labeled with AU", "same"),
    Fact("Sec. 3.2", "proportions of negative and positive samples are 5, 10, 20, and 30 times.", "N:P 5, 10, 20, 30",
         "dscmr/paper.py", "FIG5_TRAIN_NP = (5, 10, 20, 30)", "interpreted",
         f"the same positives at every ratio, negatives = ratio × positives ({REPRO_DOC})"),
    Fact("Sec. 3.2", "the number of positive samples is the same as the number of negative samples in testing sets.",
         "balanced val and test splits", "data_prep/derive.py", "def balanced(column, cap):", "same"),
    Fact("Sec. 3.2", "Based on AlexNet, we use Eq. (7) as the loss function, where n = 1.",
         "alexnet_msr (MSRLoss) and alexnet (cross-entropy) on AU1 alone", "tools/experiments/plans.py",
         'FIG5_METHODS = {"AlexNet": methods.get("alexnet"), "AlexNet + MSR": methods.get("alexnet_msr")}', "same"),
    Fact("Sec. 3.2", "The experiments are conducted on the database with AU labels of 3, 5, 8, and 11.",
         "the first 3, 5, 8, 11 AUs of the dataset", "tools/experiments/plans.py", "aus = tuple(manifest[\"aus\"][:k])",
         "interpreted", f"Table 3's rows are the first k EmotioNet AUs ({REPRO_DOC})"),
    Fact("Sec. 3.1", "We evaluated DSCMR in two databases that involve posed and spontaneous facial behaviors in "
         "varied contexts.", "default data: synthau (synthetic); CK+ and EmotioNet builders for licensed copies",
         "data_prep/build_synthau.py", "Builds synthau, the built-in dataset", "differs",
         "CK+ and EmotioNet are licensed and cannot ship; every result names its dataset (docs/data.md)"),
)


def normalise(text):
    """The paper's text without markdown and LaTeX markup, for finding quotes in it."""
    for old, new in (("\\times", "×"), ("\\alpha", "α"), ("\\beta", "β"), ("\\gamma", "γ"), ("\\in", "∈"),
                     ("^{(i)}", "(i)"), ("_{pre}", " pre"), ("*", ""), ("$", ""), ("{", ""), ("}", "")):
        text = text.replace(old, new)
    return re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s+", " ", text))


def unquoted(text):
    """The quotes of FACTS and of the readings' axes (dscmr/readings.py) that are not in the paper's text."""
    text = normalise(text)
    return [f.quote for f in FACTS if normalise(f.quote) not in text] + \
        [a.quote for a in readings.AXES if normalise(a.quote) not in text]


def locate(path, anchor):
    """file:line of the first line of path holding anchor; KeyError naming both when none does."""
    for number, line in enumerate((REPO / path).read_text().splitlines(), 1):
        if anchor in line:
            return f"{path}:{number}"
    raise KeyError(f"{path} no longer holds {anchor!r}; update the row in tools/experiments/paper_facts.py")
