"""A tiny AU net trained in seconds for the au-predict tests, and synthau faces as image files.

The net reads the same LMDBs through the same Data layers as the paper's nets
(tools/nets/prototxt.add_data_layers), shrinks the aligned 224 x 224 face to 112 x 112 inside
the net, and has two small convolutions, so au-predict uses it exactly as it uses a paper net.
"""

import cv2

from data_prep import synthau, synthau_face
from tools.nets import prototxt


def tiny_logits(ns, data, n_aus):
    from caffe import layers as L
    from caffe import params as P
    ns.half = L.Pooling(data, pool=P.Pooling.AVE, kernel_size=2, stride=2)
    ns.small = L.Power(ns.half, power_param=dict(scale=0.0125))
    ns.conv1 = L.Convolution(ns.small, num_output=16, kernel_size=5, stride=2, weight_filler=dict(type="msra"))
    ns.relu1 = L.ReLU(ns.conv1, in_place=True)
    ns.pool1 = L.Pooling(ns.relu1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    ns.conv2 = L.Convolution(ns.pool1, num_output=32, kernel_size=3, weight_filler=dict(type="msra"))
    ns.relu2 = L.ReLU(ns.conv2, in_place=True)
    ns.pool2 = L.Pooling(ns.relu2, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    ns.fc_au = L.InnerProduct(ns.pool2, num_output=n_aus, weight_filler=dict(type="xavier"))
    return ns.fc_au


def write_tiny_net(folder, data, n_aus, iterations, batch_size=32):
    """tiny_{train_val,deploy,solver}.prototxt in folder, paths relative to it (run caffe there);
    Adam, snapshots to tiny_iter_<iterations>.caffemodel."""
    import caffe
    from caffe import layers as L
    opts = prototxt.NetOptions(data=data, batch_size=batch_size)
    train, test = caffe.NetSpec(), caffe.NetSpec()
    prototxt.add_data_layers(train, opts, caffe.TRAIN)
    prototxt.add_data_layers(test, opts, caffe.TEST)
    train.loss = L.SigmoidCrossEntropyLoss(tiny_logits(train, train.data, n_aus), train.label)
    net = train.to_proto()
    layers = list(net.layer)
    del net.layer[:]
    net.layer.extend(layers[:3] + list(test.to_proto().layer) + layers[3:])
    net.name = "tiny"
    deploy = caffe.NetSpec()
    deploy.data = L.Input(shape=dict(dim=[1, 3, 224, 224]))
    deploy.prob = L.Sigmoid(tiny_logits(deploy, deploy.data, n_aus))
    dnet = deploy.to_proto()
    dnet.name = "tiny"
    (folder / "tiny_train_val.prototxt").write_text(str(net))
    (folder / "tiny_deploy.prototxt").write_text(str(dnet))
    (folder / "tiny_solver.prototxt").write_text(f"""net: "tiny_train_val.prototxt"
test_iter: 1
test_interval: {iterations + 1}
test_initialization: false
type: "Adam"
base_lr: 0.001
momentum: 0.9
momentum2: 0.999
lr_policy: "fixed"
display: 50
max_iter: {iterations}
snapshot_prefix: "runs/tiny"
solver_mode: CPU
random_seed: 1
""")


def write_faces(folder, n, seed, au=12):
    """n synthau canvases (320 x 320, unaligned) as PNGs, every other one with `au` active; returns
    {file name: 0 or 1}. seed picks identities unseen by a build with another seed."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for i in range(n):
        y = i % 2
        rng = synthau.sample_rng(seed, 5, i)
        idt = synthau_face.identity(synthau.identity_rng(seed, 1000 + i // 2))
        image, _ = synthau.render(idt, synthau_face.intensities({au} if y else set(), rng), rng)
        name = f"face{i:03d}.png"
        cv2.imwrite(str(folder / name), image)
        labels[name] = y
    return labels
