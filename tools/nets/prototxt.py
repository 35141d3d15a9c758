"""The nets and solvers of the paper's comparison as Caffe prototxt text: a method's train/val net
(two LMDBs read in lock-step: uint8 images and float labels), its deploy net (an Input blob, sigmoid
probabilities out) and its solver (Sec. 3.1's SGD settings), for one NetOptions.

au-prototxt (tools/generate_prototxt.py) writes them into prototxt/; a training run
(tools/experiments/training_run.py) into its run folder.
"""
import json
import os
from dataclasses import dataclass

from dscmr import paper
from dscmr import readings as readings_
from dscmr.methods import DEFAULT_MEAN_BGR

os.environ.setdefault("GLOG_minloglevel", "2")
import caffe
from caffe import layers as L
from caffe import params as P

# The beta reading (dscmr/readings.py) as AdMSRLoss's beta_mode (cpp_layers/proto/messages.proto).
BETA_MODES = {"clamped": "CLAMPED", "paper_zero": "PAPER_ZERO"}


@dataclass(frozen=True)
class NetOptions:
    """What a method's nets and solver are generated for; the defaults are au-prototxt's (prototxt/)."""
    data: str = "data/synthau"            # the dataset directory the Data layers read, as caffe sees it
    aus: tuple = paper.EMOTIONET_AUS      # the AUs, in label-column order
    batch_size: int = 16
    mean: tuple = DEFAULT_MEAN_BGR        # B, G, R subtracted from the images
    test_iter: int = 31                   # validation batches per test: 496 of synthau's 500 faces
    test_interval: int = 500
    max_iter: int = 6000
    snapshot: int = 1000
    display: int = 20
    out_prefix: str = "prototxt"          # the solver's path to its net, relative to where caffe runs
    snapshot_prefix: str = "runs"         # the directory of the snapshots, relative to where caffe runs
    solver_mode: str = "CPU"
    seed: int = 1                         # the solver's random_seed
    readings: readings_.Readings = readings_.DEFAULT


class NetBuilder:
    """Builds one method's layers into a NetSpec; `data` is the input blob."""

    def __init__(self, ns, n_aus, python_layers, readings=readings_.DEFAULT):
        self.ns = ns
        self.n_aus = n_aus
        self.python_layers = python_layers
        self.readings = readings

    def add(self, name, top):
        setattr(self.ns, name, top)
        return top

    def conv_bn(self, bottom, name, num_output, kernel, stride=1, pad=0, relu=True):
        """Convolution (bias_term false) + BatchNorm + Scale(bias) [+ ReLU], ResNet style (Sec. 2.1:
        "Each convolutional layer is followed by Batch Normalization (BN) and Scale layers")."""
        geometry = {}  # only what differs from Caffe's defaults (stride 1, pad 0)
        if stride != 1:
            geometry["stride"] = stride
        if pad:
            geometry["pad"] = pad
        conv = self.add(name, L.Convolution(bottom, num_output=num_output, kernel_size=kernel, bias_term=False,
                                            weight_filler=dict(type="msra"), **geometry))
        bn = L.BatchNorm(conv, name="bn_" + name, in_place=True)
        out = L.Scale(bn, name="scale_" + name, bias_term=True, in_place=True)
        return L.ReLU(out, name="relu_" + name, in_place=True) if relu else out

    def resnet18_body(self, bottom):
        """ResNet-18 (Sec. 2.1): conv1 7x7/2 64 + max-pool 3x3/2, four groups of two residual blocks
        (64, 128, 256, 512 filters), 1x1 projection shortcut in each group's first block, global
        average pooling."""
        x = self.conv_bn(bottom, "conv1", 64, 7, stride=2, pad=3)
        x = self.add("pool1", L.Pooling(x, pool=P.Pooling.MAX, kernel_size=3, stride=2))
        for g, width in enumerate(paper.RESNET18_GROUP_WIDTHS, start=2):
            for b in ("a", "b"):
                name = f"res{g}{b}"
                stride = 2 if (b == "a" and g > 2) else 1
                if b == "a":
                    shortcut = self.conv_bn(x, name + "_branch1", width, 1, stride=stride, relu=False)
                else:
                    shortcut = x
                y = self.conv_bn(x, name + "_branch2a", width, 3, stride=stride, pad=1)
                y = self.conv_bn(y, name + "_branch2b", width, 3, pad=1, relu=False)
                x = self.add(name, L.Eltwise(shortcut, y, operation=P.Eltwise.SUM))
                x = self.add(name + "_relu", L.ReLU(x, in_place=True))
        return self.add("pool5", L.Pooling(x, pool=P.Pooling.AVE, global_pooling=True))

    def fc(self, bottom, name, num_output, relu=False, dropout=False, std=None, bias=0.0):
        filler = dict(type="gaussian", std=std) if std else dict(type="xavier")
        x = self.add(name, L.InnerProduct(bottom, num_output=num_output, weight_filler=filler,
                                          bias_filler=dict(type="constant", value=bias)))
        if relu:
            x = self.add("relu_" + name, L.ReLU(x, in_place=True))
        if dropout:
            x = self.add("drop_" + name, L.Dropout(x, dropout_ratio=0.5, in_place=True))
        return x

    def region(self, bottom, name, bias=None):
        """The local convolution layer (Sec. 2.1, Fig. 1), 8 x 8 patches; bias, if given, fills the
        patches' convolution biases (the layer's default is 0)."""
        grid_h, grid_w = paper.REGION_GRID
        fillers = {} if bias is None else {"bias_filler": dict(type="constant", value=bias)}
        if self.python_layers:
            param_str = json.dumps({"grid_h": grid_h, "grid_w": grid_w, "kernel_size": 3, **fillers})
            # Blobs 4-6 (running statistics) are never learned, like BatchNorm's.
            stats = [dict(lr_mult=1, decay_mult=1)] * 4 + [dict(lr_mult=0, decay_mult=0)] * 3
            return self.add(name, L.Python(bottom, python_param=dict(
                module="python_layers.region", layer="Region", param_str=param_str), param=stats))
        return self.add(name, L.Region(bottom, region_param=dict(grid_h=grid_h, grid_w=grid_w, kernel_size=3,
                                                                 **fillers)))

    def dscmr_head(self, features):
        """Sec. 2.1: "a fully connected layer with 2046 neural units", then n outputs."""
        x = self.fc(features, "fc_2046", paper.FC_WIDTH, relu=True)
        return self.fc(x, "fc_au", self.n_aus)

    def logits(self, method, data):
        """The method's network (its `body`, dscmr.methods) from its input blob to n logits."""
        return getattr(self, method.body)(data)

    def resnet18(self, data):
        return self.fc(self.resnet18_body(data), "fc_au", self.n_aus)

    def dscmr(self, data):
        return self.dscmr_head(self.resnet18_body(data))

    def ldscmr(self, data):
        x = self.conv_bn(data, "conv0", 32, 11)          # 224 -> 214 (Sec. 2.1)
        x = self.region(x, "region0")
        x = self.add("relu_region0", L.ReLU(x, in_place=True))
        return self.dscmr_head(self.resnet18_body(x))

    def alexnet(self, data):
        """BVLC reference AlexNet (bvlc_alexnet) with fc8 = n."""
        def conv(bottom, name, num_output, kernel, stride=1, pad=0, group=1, bias=0.0):
            x = self.add(name, L.Convolution(bottom, num_output=num_output, kernel_size=kernel, stride=stride,
                                             pad=pad, group=group, weight_filler=dict(type="gaussian", std=0.01),
                                             bias_filler=dict(type="constant", value=bias)))
            return self.add("relu" + name[4:], L.ReLU(x, in_place=True))

        def pool(bottom, name):
            return self.add(name, L.Pooling(bottom, pool=P.Pooling.MAX, kernel_size=3, stride=2))

        def lrn(bottom, name):
            return self.add(name, L.LRN(bottom, local_size=5, alpha=1e-4, beta=0.75))

        x = pool(lrn(conv(data, "conv1", 96, 11, stride=4), "norm1"), "pool1")
        x = pool(lrn(conv(x, "conv2", 256, 5, pad=2, group=2, bias=0.1), "norm2"), "pool2")
        x = conv(x, "conv3", 384, 3, pad=1)
        x = conv(x, "conv4", 384, 3, pad=1, group=2, bias=0.1)
        x = pool(conv(x, "conv5", 256, 3, pad=1, group=2, bias=0.1), "pool5")
        x = self.fc(x, "fc6", 4096, relu=True, dropout=True, std=0.005, bias=0.1)
        x = self.fc(x, "fc7", 4096, relu=True, dropout=True, std=0.005, bias=0.1)
        return self.fc(x, "fc8", self.n_aus, std=0.01)

    def drml(self, data):
        """DRML [23] as its authors' prototxt/DRML.prototxt (github.com/zkl20061823/DRML): 170 x 170
        crop, conv1 11x11 32 -> 160 without ReLU, Region 8 x 8 then ReLU, pool, LRN, four convs, fc6
        4096, fc7 2048, fc n; its fillers (gaussian, biases 1 after conv1) and its ReLU order."""
        def conv(bottom, name, num_output, kernel, stride=1, bias=1.0):
            return self.add(name, L.Convolution(bottom, num_output=num_output, kernel_size=kernel, stride=stride,
                                                weight_filler=dict(type="gaussian", std=0.01),
                                                bias_filler=dict(type="constant", value=bias)))

        def relu(x, name):
            return self.add("relu" + name[4:], L.ReLU(x, in_place=True))

        x = self.region(conv(data, "conv1", 32, 11, bias=0.0), "region1", bias=1.0)
        x = self.add("relu_region1", L.ReLU(x, in_place=True))
        x = self.add("pool1", L.Pooling(x, pool=P.Pooling.MAX, kernel_size=2, stride=2))
        x = self.add("norm1", L.LRN(x, local_size=5, alpha=1e-4, beta=0.75))
        x = relu(conv(x, "conv2", 16, 8), "conv2")
        x = relu(conv(x, "conv3", 16, 8), "conv3")
        x = relu(conv(x, "conv4", 16, 6, stride=2), "conv4")
        x = relu(conv(x, "conv5", 16, 5), "conv5")
        x = self.fc(x, "fc6", 4096, relu=True, dropout=True, std=0.005, bias=1.0)
        x = self.fc(x, "fc7", 2048, relu=True, dropout=True, std=0.005, bias=1.0)
        return self.fc(x, "fc_au", self.n_aus, std=0.01)

    def add_loss(self, method, logits, label):
        """Adds the method's loss layer to the NetSpec: its tops loss (and l_cur, or beta and l_cur)."""
        for name, top in self.loss(method, logits, label).items():
            self.add(name, top)

    def loss(self, method, logits, label):
        """{top name: top} of the method's loss layer, named "loss". MSR also gives each AU's L_cur,
        Ad-MSR each AU's beta and L_cur, with loss weight 0: Caffe logs them (tools/nets/parse_log.py)."""
        loss = method.loss
        loss_param = dict(ignore_label=paper.IGNORE_LABEL)
        if loss == "SigmoidCrossEntropyLoss":
            return {"loss": L.SigmoidCrossEntropyLoss(logits, label, loss_param=loss_param)}
        # The loss_scale reading (dscmr/readings.py): eqs. 7 and 11's sum, or the mean over the n AUs.
        weight = 1 if self.readings.loss_scale == "sum" else 1 / self.n_aus
        if loss == "MSRLoss":
            return dict(zip(("loss", "l_cur"), L.MSRLoss(logits, label, loss_param=loss_param, ntop=2,
                                                        loss_weight=[weight, 0])))
        names = ("loss", "beta", "l_cur")
        beta_mode = BETA_MODES[self.readings.beta]
        if self.python_layers:
            param_str = json.dumps({"ignore_label": paper.IGNORE_LABEL, "alpha": paper.ALPHA,
                                    "beta_mode": beta_mode})
            return dict(zip(names, L.Python(logits, label, loss_weight=[weight, 0, 0], ntop=3, python_param=dict(
                module="python_layers.msr_loss", layer="AdMSRLoss", param_str=param_str),
                param=[dict(lr_mult=0, decay_mult=0)] * 2)))
        # beta_mode is written only where it is not the layer's default, so the default nets stay as they were.
        msr = dict(alpha=paper.ALPHA) | ({} if beta_mode == "CLAMPED" else {"beta_mode": getattr(P.MSRLoss, beta_mode)})
        return dict(zip(names, L.AdMSRLoss(logits, label, loss_param=loss_param, ntop=3, loss_weight=[weight, 0, 0],
                                           msr_loss_param=msr)))


def add_data_layers(ns, opts, phase, input_size=paper.INPUT_SIZE):
    """Image and label Data layers of one phase, read in lock-step (same batch size, same key
    order); the label Datums (n x 1 x 1) are reshaped to N x n."""
    split = "train" if phase == caffe.TRAIN else "val"
    transform = dict(mirror=phase == caffe.TRAIN, mean_value=list(opts.mean))
    if input_size != paper.INPUT_SIZE:      # DRML's crop of the aligned face
        transform["crop_size"] = input_size
    include = dict(phase=phase)
    ns.data = L.Data(source=f"{opts.data}/{split}/images", backend=P.Data.LMDB, batch_size=opts.batch_size,
                     transform_param=transform, include=include)
    ns.label_datum = L.Data(source=f"{opts.data}/{split}/labels", backend=P.Data.LMDB,
                            batch_size=opts.batch_size, include=include)
    ns.label = L.Reshape(ns.label_datum, reshape_param=dict(shape=dict(dim=[0, -1])), include=include)


def train_val(method, opts):
    """The train/val net of a dscmr.methods.Method."""
    ns = caffe.NetSpec()
    add_data_layers(ns, opts, caffe.TRAIN, method.input_size)
    builder = NetBuilder(ns, len(opts.aus), method.python_layers, opts.readings)
    builder.add_loss(method, builder.logits(method, ns.data), ns.label)
    net = ns.to_proto()
    net.name = method.key
    test = caffe.NetSpec()
    add_data_layers(test, opts, caffe.TEST, method.input_size)
    layers = list(net.layer)
    del net.layer[:]
    net.layer.extend(layers[:3])          # TRAIN data, label_datum, label
    net.layer.extend(test.to_proto().layer)
    net.layer.extend(layers[3:])
    return net


def deploy(method, opts):
    """The deploy net of a dscmr.methods.Method: an Input blob, sigmoid probabilities out."""
    ns = caffe.NetSpec()
    ns.data = L.Input(shape=dict(dim=[1, 3, method.input_size, method.input_size]))
    builder = NetBuilder(ns, len(opts.aus), method.python_layers)
    ns.prob = L.Sigmoid(builder.logits(method, ns.data))
    net = ns.to_proto()
    net.name = method.key
    return net


# The lr_policy reading (dscmr/readings.py) in Caffe's terms: `step` divides the rate by 10 every 2000
# iterations, `once` (Caffe's multistep with one step value) divides it once, at 2000.
LR_POLICIES = {"step": ('lr_policy: "step"', "gamma: 0.1", f"stepsize: {paper.LR_STEP}"),
               "once": ('lr_policy: "multistep"', "gamma: 0.1", f"stepvalue: {paper.LR_STEP}")}


def solver(method, opts):
    """Sec. 3.1: "All models were initialized with the learning rate of 0.0005, which was further
    reduced after 2000 iterations. ... A momentum of 0.9 and weight decay of 0.0005 was used."
    gamma 0.1 and max_iter are this project's choices (docs/networks.md); how often the rate is
    reduced is the lr_policy reading."""
    lines = [
        f'net: "{opts.out_prefix}/{method.key}_train_val.prototxt"',
        f"test_iter: {opts.test_iter}",
        f"test_interval: {opts.test_interval}",
        f"base_lr: {paper.BASE_LR}",
        *LR_POLICIES[opts.readings.lr_policy],
        f"momentum: {paper.MOMENTUM}",
        f"weight_decay: {paper.WEIGHT_DECAY}",
        f"display: {opts.display}",
        f"max_iter: {opts.max_iter}",
        f"snapshot: {opts.snapshot}",
        f'snapshot_prefix: "{opts.snapshot_prefix}/{method.key}"',
        f"solver_mode: {opts.solver_mode}",
        f"random_seed: {opts.seed}",
    ]
    return "\n".join(lines) + "\n"


# The header names the command that writes prototxt/: the committed runs' fingerprints cover these
# texts, so it stays as it was when the generator was one module.
def render(net):
    return "# Generated by tools/generate_prototxt.py; edit the generator, not this file.\n" + str(net)


def generate(chosen, opts):
    """{file name: text} of the train/val net, deploy net and solver of each dscmr.methods.Method chosen."""
    files = {}
    for method in chosen:
        files[f"{method.key}_train_val.prototxt"] = render(train_val(method, opts))
        files[f"{method.key}_deploy.prototxt"] = render(deploy(method, opts))
        files[f"{method.key}_solver.prototxt"] = "# Generated by tools/generate_prototxt.py\n" + solver(method, opts)
    return files
