"""A tiny AU net trained in seconds for the au-predict tests, synthau faces as image files, and videos
of two real faces moving.

The net reads the same LMDBs through the same Data layers as the paper's nets
(tools/nets/prototxt.add_data_layers), shrinks the aligned 224 x 224 face to 112 x 112 inside
the net, and has two small convolutions, so au-predict uses it exactly as it uses a paper net.
"""
from pathlib import Path

import cv2
import numpy as np

from data_prep import synthau, synthau_face
from data_prep.faces.detect import Landmarker
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


def photo_faces():
    """Two real faces, each cut out of a photograph the dependencies ship at 1.6 times dlib's box
    around it: Eileen Collins (skimage's astronaut) and Grace Hopper (matplotlib's sample)."""
    site = Path(cv2.__file__).resolve().parent.parent
    landmarker, cuts = Landmarker("dlib68", 1), []
    for path in (site / "skimage" / "data" / "astronaut.png", site / "matplotlib" / "mpl-data" / "sample_data" /
                 "grace_hopper.jpg"):
        image = cv2.imread(str(path))
        (x, y, w, h), _, _ = landmarker.faces(image, 0.5)[0]
        side = round(1.6 * max(w, h))
        x0, y0 = round(x + w / 2 - side / 2), round(y + h / 2 - side / 2)
        cuts.append(cv2.resize(image[y0:y0 + side, x0:x0 + side], (SIDE, SIDE), interpolation=cv2.INTER_AREA))
    return cuts


SIDE = 150    # a face cut's side in the videos below: a face box of about 90 px


def paste(canvas, cut, x, y):
    """cut pasted with its corners faded out (an ellipse), its top left at (x, y), clipped to canvas."""
    yy, xx = np.mgrid[:SIDE, :SIDE]
    alpha = np.clip(1.6 - 1.6 * np.hypot((xx - SIDE / 2) / (SIDE / 2), (yy - SIDE / 2) / (SIDE / 2)), 0, 1)[..., None]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + SIDE, canvas.shape[1]), min(y + SIDE, canvas.shape[0])
    if x0 < x1 and y0 < y1:
        part = canvas[y0:y1, x0:x1].astype(float)
        a, c = alpha[y0 - y:y1 - y, x0 - x:x1 - x], cut[y0 - y:y1 - y, x0 - x:x1 - x]
        canvas[y0:y1, x0:x1] = (a * c + (1 - a) * part).round().astype("uint8")


def write_video(path, positions, cuts, size=(640, 360), fps=25.0):
    """A Motion JPEG video: frame t shows cuts[i] at positions[t][i] ((x, y) of its top left, None
    where it is not shown) on a grey wall."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for placed in positions:
        frame = np.full((size[1], size[0], 3), 128, np.uint8)
        for cut, at in zip(cuts, placed):
            if at is not None:
                paste(frame, cut, *at)
        writer.write(frame)
    writer.release()
