"""The Python Region layer (python_layers/region.py) run through pycaffe nets: gradients against
central finite differences in float64, BatchNorm semantics against Caffe's BatchNorm layer,
image independence, patch clipping and errors."""
import numpy as np
import pytest
from helpers.region import get_blobs, input_layer, net, python_region, random_blobs, set_blobs

from python_layers.region import BLOB_NAMES, grid_bounds, region_backward, region_forward


def region_net(shape, params, phase):
    return net([input_layer("x", shape), python_region("region", "x", "y", params)], phase)


def shifts_away_from_relu_kink(x, blobs, rows, cols, use_global_stats):
    """beta_p[c] := minus the midpoint of the widest gap between the sorted gamma * x_hat values
    of that patch channel, so finite differences never cross the ReLU kink and the ReLU both
    passes and blocks values."""
    _, cache = region_forward(x, {k: v.copy() for k, v in blobs.items()}, rows, cols,
                              use_global_stats, 0.999, 1e-5)
    for p, (x_hat, _, _) in enumerate(cache):
        for c in range(x.shape[1]):
            g = np.sort((blobs["gamma"][p, c] * x_hat[:, c]).ravel())
            i = np.argmax(np.diff(g))
            blobs["beta"][p, c] = -(g[i] + g[i + 1]) / 2


@pytest.mark.parametrize("phase,kernel", [("TRAIN", 3), ("TRAIN", 1), ("TEST", 3)])
def test_gradients_match_central_differences(phase, kernel):
    rng = np.random.default_rng(3)
    shape, grid = (2, 2, 5, 7), (2, 3)
    params = {"grid_h": grid[0], "grid_w": grid[1], "kernel_size": kernel}
    n = region_net(shape, params, phase)
    use_global = phase == "TEST"
    rows, cols = grid_bounds(shape[2], grid[0], "grid_h"), grid_bounds(shape[3], grid[1], "grid_w")
    blobs = random_blobs(rng, grid[0] * grid[1], shape[1], kernel, scale_factor=2.0)
    x = rng.normal(0, 1, shape)
    shifts_away_from_relu_kink(x, blobs, rows, cols, use_global)
    set_blobs(n, "region", blobs)
    n.blobs["x"].data[...] = x
    r = rng.normal(0, 1, shape)                       # the objective is sum(r * y)
    n.forward()
    for blob in n.params["region"]:
        blob.diff[...] = 0
    n.blobs["y"].diff[...] = r
    n.backward()

    x64, blobs64 = n.blobs["x"].data.astype(np.float64), get_blobs(n, "region")

    def objective(x_, blobs_):
        y, _ = region_forward(x_, {k: v.copy() for k, v in blobs_.items()}, rows, cols,
                              use_global, 0.999, 1e-5)
        return np.sum(r * y)

    def central_differences(array, f, h=1e-6):
        grad = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            old = array[idx]
            array[idx] = old + h
            plus = f()
            array[idx] = old - h
            minus = f()
            array[idx] = old
            grad[idx] = (plus - minus) / (2 * h)
        return grad

    numeric = {"x": central_differences(x64, lambda: objective(x64, blobs64))}
    for name in BLOB_NAMES[:4]:
        numeric[name] = central_differences(blobs64[name], lambda: objective(x64, blobs64))
    layer = {"x": n.blobs["x"].diff}
    layer.update({name: n.params["region"][i].diff for i, name in enumerate(BLOB_NAMES[:4])})
    _, cache = region_forward(x64, {k: v.copy() for k, v in blobs64.items()}, rows, cols,
                              use_global, 0.999, 1e-5)
    dx, grads = region_backward(r, blobs64, rows, cols, cache, use_global)
    grads["x"] = dx
    for name, expected in numeric.items():
        scale = np.abs(expected).max()
        assert scale > 0.1, name
        # float64 backward vs float64 differences; the net's float32 diffs vs the same.
        np.testing.assert_allclose(grads[name], expected, rtol=0, atol=1e-6 * scale, err_msg=name)
        np.testing.assert_allclose(layer[name], expected, rtol=0, atol=1e-5 * scale, err_msg=name)


def test_batchnorm_semantics_match_caffe_batchnorm():
    """Patch p of the Region layer against Caffe's BatchNorm layer on that patch's data: the
    normalised values and running statistics after two TRAIN forwards, then the normalised
    values in TEST. With K = 1 identity weights, zero bias, gamma 1 and beta 10 the ReLU passes
    everything and y = x_hat + 10 + x."""
    rng = np.random.default_rng(5)
    shape, p, (r0, r1, c0, c1) = (3, 2, 5, 9), 7, (2, 5, 6, 9)   # grid 2 x 4: last patch, 3 x 3
    params = {"grid_h": 2, "grid_w": 4, "kernel_size": 1, "moving_average_fraction": 0.9, "eps": 1e-3}
    bn = ('layer { name: "bn" type: "BatchNorm" bottom: "xp" top: "bn" '
          'batch_norm_param { moving_average_fraction: 0.9 eps: 1e-3 } }\n')
    layers = [input_layer("x", shape), input_layer("xp", (3, 2, r1 - r0, c1 - c0)),
              python_region("region", "x", "y", params), bn]
    nets = {"TRAIN": net(layers, "TRAIN"), "TEST": net(layers, "TEST")}
    blobs = random_blobs(rng, 8, 2, 1, scale_factor=0.0)
    blobs["weights"][...] = np.eye(2)[None, :, :, None, None]
    blobs["bias"][...], blobs["gamma"][...], blobs["beta"][...] = 0, 1, 10
    blobs["running_mean"][...], blobs["running_var"][...] = 0, 0
    set_blobs(nets["TRAIN"], "region", blobs)
    for phase in ("TRAIN", "TRAIN", "TEST"):
        n = nets[phase]
        if phase == "TEST":
            for i in range(7):
                n.params["region"][i].data[...] = nets["TRAIN"].params["region"][i].data
            for i in range(3):
                n.params["bn"][i].data[...] = nets["TRAIN"].params["bn"][i].data
        x = rng.normal(0, 1, shape)
        n.blobs["x"].data[...] = x
        n.blobs["xp"].data[...] = x[:, :, r0:r1, c0:c1]
        n.forward()
        x_hat = n.blobs["y"].data[:, :, r0:r1, c0:c1] - n.blobs["x"].data[:, :, r0:r1, c0:c1] - 10
        np.testing.assert_allclose(x_hat, n.blobs["bn"].data, atol=1e-5, err_msg=phase)
        np.testing.assert_allclose(n.params["region"][4].data[p], n.params["bn"][0].data, rtol=1e-6)
        np.testing.assert_allclose(n.params["region"][5].data[p], n.params["bn"][1].data, rtol=1e-6)
        np.testing.assert_allclose(n.params["region"][6].data, n.params["bn"][2].data, rtol=1e-6)
    assert nets["TRAIN"].params["region"][6].data[0] == pytest.approx(1.9)


def test_images_independent_with_global_stats():
    """With global statistics image n's output depends on image n only; each image alone gives
    the batch's output for it."""
    rng = np.random.default_rng(7)
    shape, params = (3, 2, 7, 7), {"grid_h": 3, "grid_w": 3}
    batch = region_net(shape, params, "TEST")
    single = region_net((1,) + shape[1:], params, "TEST")
    blobs = random_blobs(rng, 9, 2, 3, scale_factor=3.0)
    set_blobs(batch, "region", blobs)
    set_blobs(single, "region", blobs)
    x = rng.normal(0, 1, shape)
    batch.blobs["x"].data[...] = x
    y = batch.forward()["y"].copy()
    for i in range(3):
        single.blobs["x"].data[...] = x[i:i + 1]
        np.testing.assert_allclose(single.forward()["y"][0], y[i], rtol=0, atol=1e-6)
    batch.blobs["x"].data[1] *= -2
    y2 = batch.forward()["y"]
    np.testing.assert_array_equal(y2[[0, 2]], y[[0, 2]])
    assert np.abs(y2[1] - y[1]).max() > 0.5


def test_batch_permutation_permutes_output_in_train():
    """With batch statistics, permuting the images permutes the output: images mix only through
    BatchNorm's order-free statistics (DRML's Box/Splice mixed them)."""
    rng = np.random.default_rng(9)
    shape = (3, 2, 5, 9)
    n = region_net(shape, {"grid_h": 2, "grid_w": 4}, "TRAIN")
    set_blobs(n, "region", random_blobs(rng, 8, 2, 3, scale_factor=1.0))
    x = rng.normal(0, 1, shape)
    n.blobs["x"].data[...] = x
    y = n.forward()["y"].copy()
    order = [2, 0, 1]
    n.blobs["x"].data[...] = x[order]
    np.testing.assert_allclose(n.forward()["y"], y[order], rtol=0, atol=1e-5)


def test_patch_boundaries_214_by_8():
    """The paper's 214 x 214 map in an 8 x 8 grid: boundaries floor(k*214/8), patches 26 and 27
    pixels wide. With gamma = 0 and zero 1 x 1 weights, y - x is the bias, here p + 1."""
    assert grid_bounds(214, 8, "grid_h") == [0, 26, 53, 80, 107, 133, 160, 187, 214]
    n = region_net((1, 1, 214, 214), {"kernel_size": 1, "weight_filler": {"type": "constant"},
                                      "scale_filler": {"type": "constant", "value": 0}}, "TRAIN")
    n.params["region"][1].data[:, 0] = np.arange(1, 65)
    n.blobs["x"].data[...] = np.random.default_rng(0).normal(0, 1, (1, 1, 214, 214))
    patch_id = np.rint(n.forward()["y"][0, 0] - n.blobs["x"].data[0, 0]).astype(int) - 1
    row_starts = np.flatnonzero(np.diff(patch_id[:, 0])) + 1
    col_starts = np.flatnonzero(np.diff(patch_id[0, :])) + 1
    assert row_starts.tolist() == col_starts.tolist() == [26, 53, 80, 107, 133, 160, 187]
    widths = np.diff([0, *row_starts, 214])
    assert set(widths.tolist()) == {26, 27}
    expected = np.add.outer(np.searchsorted(row_starts, np.arange(214), side="right") * 8,
                            np.searchsorted(col_starts, np.arange(214), side="right"))
    np.testing.assert_array_equal(patch_id, expected)


@pytest.mark.parametrize("params,shape,message", [
    ({"grid_h": 5, "grid_w": 2}, (1, 2, 4, 6), r"grid_h=5 cannot cut a side of 4 pixels"),
    ({"grid_h": 2, "grid_w": 7}, (1, 2, 4, 6), r"grid_w=7 cannot cut a side of 6 pixels"),
    ({"grid_h": 1, "grid_w": 1, "kernel_size": 2}, (1, 2, 4, 6), r"kernel_size=2 must be odd"),
    ({"grid": 2}, (1, 2, 4, 6), r"unknown param_str keys \['grid'\]"),
    ({"weight_filler": {"type": "xavier"}}, (1, 2, 8, 8), r"weight_filler.type='xavier'"),
])
def test_bad_configurations_raise(params, shape, message):
    with pytest.raises(ValueError, match=message):
        region_net(shape, params, "TRAIN")
