"""The C++ Region layer against the Python reference on the same random inputs, with identical
parameters copied blob by blob: top data, bottom diff, every parameter diff, and the running
statistics after the forward pass. "Within 1e-5 relative" means max |C++ - Python| of a blob is
at most 1e-5 times max |Python| of that blob."""
import numpy as np
import pytest
from helpers.region import cpp_region, input_layer, net, python_region, random_blobs, set_blobs

from python_layers.region import BLOB_NAMES


def assert_close(cpp, python, what):
    scale = np.abs(python).max()
    assert scale > 0, what
    error = np.abs(cpp - python).max()
    assert error <= 1e-5 * scale, f"{what}: max |C++ - Python| = {error:.3g}, max |Python| = {scale:.3g}"


@pytest.mark.parametrize("phase,kernel,use_global_stats", [
    ("TRAIN", 3, None), ("TRAIN", 1, None), ("TEST", 3, None), ("TRAIN", 3, True)])
def test_cpp_matches_python(phase, kernel, use_global_stats):
    rng = np.random.default_rng(11)
    shape, grid = (3, 3, 7, 10), (3, 4)              # non-divisible: rows 2,2,3; columns 2,3,2,3
    params = {"grid_h": grid[0], "grid_w": grid[1], "kernel_size": kernel,
              "moving_average_fraction": 0.95, "eps": 1e-4}
    if use_global_stats is not None:
        params["use_global_stats"] = use_global_stats
    n = net([input_layer("x_cpp", shape), input_layer("x_py", shape),
             cpp_region("cpp", "x_cpp", "y_cpp", params), python_region("py", "x_py", "y_py", params)],
            phase)
    # Nonzero statistics, so both the moving averages and the global normalisation are tested.
    blobs = random_blobs(rng, grid[0] * grid[1], shape[1], kernel, scale_factor=2.5)
    set_blobs(n, "cpp", blobs)
    set_blobs(n, "py", blobs)
    x = rng.normal(0, 1, shape)
    n.blobs["x_cpp"].data[...] = x
    n.blobs["x_py"].data[...] = x
    n.forward()
    assert_close(n.blobs["y_cpp"].data, n.blobs["y_py"].data, "top")
    for i in (4, 5, 6):
        assert_close(n.params["cpp"][i].data, n.params["py"][i].data, BLOB_NAMES[i])
    if phase == "TRAIN" and not use_global_stats:
        assert n.params["cpp"][6].data[0] == pytest.approx(0.95 * 2.5 + 1)
    else:
        np.testing.assert_array_equal(n.params["cpp"][6].data, [2.5])

    dy = rng.normal(0, 1, shape)
    n.blobs["y_cpp"].diff[...] = dy
    n.blobs["y_py"].diff[...] = dy
    for layer in ("cpp", "py"):
        for blob in n.params[layer]:
            blob.diff[...] = 0
    n.backward()
    assert_close(n.blobs["x_cpp"].diff, n.blobs["x_py"].diff, "bottom diff")
    for i in range(4):
        assert_close(n.params["cpp"][i].diff, n.params["py"][i].diff, f"{BLOB_NAMES[i]} diff")
