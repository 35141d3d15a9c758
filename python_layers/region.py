"""Region layer (paper Sec. 2.1, Fig. 1): DRML's region layer as L-DSCMR uses it.

Fig. 1 has three parts, and each patch of each image goes through them independently:
  patch clipping     the N x C x H x W map is cut into grid_h x grid_w patches; patch (i, j) has
                     rows floor(i*H/grid_h) .. floor((i+1)*H/grid_h) - 1, columns likewise
                     (a 214 x 214 map in an 8 x 8 grid gives patches 26 and 27 pixels wide);
  local convolution  per patch p: Caffe BatchNorm, per-channel Scale with bias, ReLU, and a K x K
                     convolution C -> C (pad (K-1)/2, stride 1) with the patch's own weights;
  identity addition  y_p = conv_p(ReLU(gamma_p * BN_p(x_p) + beta_p)) + x_p.
Patches are clipped from each image separately: image n's output depends on image n only
(batch statistics of BatchNorm excepted, which pool the batch as BatchNorm always does).

BatchNorm follows Caffe's BatchNormLayer exactly (batch_norm_layer.cpp):
  TRAIN statistics   mean and biased variance E((x - E x)^2) over the N*h*w values of a channel;
  moving averages    s := maf*s + 1 (one scale factor for the whole layer), and per patch
                     mu_run := mean + maf*mu_run, var_run := m/(m-1)*var + maf*var_run, m = N*h*w;
  global statistics  mean = mu_run/s, var = var_run/s (0 and 0 if s = 0);
  normalisation      x_hat = (x - mean) / sqrt(var + eps);
  use_global_stats   defaults to false in TRAIN and true in TEST.

Blobs (P = grid_h*grid_w): 0 conv weights P x C x C x K x K, 1 conv bias P x C, 2 gamma P x C,
3 beta P x C, 4 running mean P x C, 5 running variance P x C, 6 scale factor (1).
A Python layer cannot set its own ParamSpecs: give blobs 4-6 `param { lr_mult: 0 decay_mult: 0 }`
in the prototxt, as the C++ Region layer does by itself.

param_str: JSON with RegionParameter's field names, all optional:
  {"grid_h": 8, "grid_w": 8, "kernel_size": 3, "use_global_stats": <by phase>,
   "moving_average_fraction": 0.999, "eps": 1e-5,
   "weight_filler": {"type": "gaussian", "std": 0.01}, "bias_filler": {"type": "constant", "value": 0},
   "scale_filler": {"type": "constant", "value": 1}, "shift_filler": {"type": "constant", "value": 0}}
A filler is a FillerParameter subset: {"type": "constant", "value"}, {"type": "gaussian", "mean",
"std"} or {"type": "uniform", "min", "max"}, missing keys taking FillerParameter's defaults.
"""
import caffe
import numpy as np

from python_layers.params import parse_param_str

BLOB_NAMES = ("weights", "bias", "gamma", "beta", "running_mean", "running_var", "scale_factor")

DEFAULTS = {
    "grid_h": 8, "grid_w": 8, "kernel_size": 3, "use_global_stats": None,
    "moving_average_fraction": 0.999, "eps": 1e-5,
    "weight_filler": {"type": "gaussian", "std": 0.01},
    "bias_filler": {"type": "constant", "value": 0.0},
    "scale_filler": {"type": "constant", "value": 1.0},
    "shift_filler": {"type": "constant", "value": 0.0},
}

# FillerParameter's defaults for the keys each supported filler type reads.
FILLER_KEYS = {"constant": {"value": 0.0}, "gaussian": {"mean": 0.0, "std": 1.0},
               "uniform": {"min": 0.0, "max": 1.0}}


def grid_bounds(size, grid, name):
    """Patch clipping: boundaries floor(k*size/grid), k = 0..grid; every patch >= 1 pixel."""
    if grid < 1 or grid > size:
        raise ValueError(f"Region: {name}={grid} cannot cut a side of {size} pixels into patches of at "
                         f"least 1 pixel; need 1 <= {name} <= {size}")
    return [k * size // grid for k in range(grid + 1)]


def patches(rows, cols):
    """(row0, row1, col0, col1) of each patch, row-major: patch p = i*grid_w + j."""
    return [(rows[i], rows[i + 1], cols[j], cols[j + 1])
            for i in range(len(rows) - 1) for j in range(len(cols) - 1)]


def fill(shape, filler, name):
    """A blob's initial values from a JSON filler (a FillerParameter subset)."""
    kind = filler.get("type", "constant")
    if kind not in FILLER_KEYS:
        raise ValueError(f"Region: {name}.type={kind!r} is not one of {sorted(FILLER_KEYS)}")
    unknown = sorted(set(filler) - {"type"} - set(FILLER_KEYS[kind]))
    if unknown:
        raise ValueError(f"Region: {name} of type {kind!r} has unknown keys {unknown}")
    f = dict(FILLER_KEYS[kind], **filler)
    if kind == "constant":
        return np.full(shape, f["value"])
    if kind == "gaussian":
        return np.random.normal(f["mean"], f["std"], shape)
    return np.random.uniform(f["min"], f["max"], shape)


def conv(a, w, b):
    """K x K convolution C -> C, pad (K-1)/2, stride 1, of one patch of all N images (Caffe's
    cross-correlation): y[n,o,i,j] = sum_{c,u,v} w[o,c,u,v] * a_pad[n,c,i+u,j+v] + b[o]."""
    return np.einsum("ocuv,ncuvij->noij", w, windows(a, w.shape[-1])) + b[None, :, None, None]


def windows(a, k):
    """windows[n,c,u,v,i,j] = a zero-padded by (k-1)/2, at row i+u and column j+v."""
    h, w = a.shape[2:]
    pad = (k - 1) // 2
    a_pad = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.stack([np.stack([a_pad[:, :, u:u + h, v:v + w] for v in range(k)], axis=2)
                     for u in range(k)], axis=2)


def conv_backward(dy, a, w):
    """Gradients of conv() for its input a, weights w and bias b, given dy = dL/dy."""
    k = w.shape[-1]
    h, wd = a.shape[2:]
    pad = (k - 1) // 2
    dw = np.einsum("noij,ncuvij->ocuv", dy, windows(a, k))
    db = dy.sum(axis=(0, 2, 3))
    dwin = np.einsum("ocuv,noij->ncuvij", w, dy)
    da_pad = np.zeros((a.shape[0], a.shape[1], h + 2 * pad, wd + 2 * pad))
    for u in range(k):
        for v in range(k):
            da_pad[:, :, u:u + h, v:v + wd] += dwin[:, :, u, v]
    return da_pad[:, :, pad:pad + h, pad:pad + wd], dw, db


def region_forward(x, blobs, rows, cols, use_global_stats, moving_average_fraction, eps):
    """The layer's forward pass on float64 arrays. `blobs` maps BLOB_NAMES to arrays; in batch-
    statistics mode the running statistics in it are updated in place, as BatchNorm does.
    Returns y and, per patch, what the backward pass needs: (x_hat, relu output, std)."""
    maf = moving_average_fraction
    y = np.empty_like(x)
    cache = []
    if not use_global_stats:
        blobs["scale_factor"][0] = maf * blobs["scale_factor"][0] + 1    # BatchNorm: s := maf*s + 1
    s = blobs["scale_factor"][0]
    for p, (r0, r1, c0, c1) in enumerate(patches(rows, cols)):
        xp = x[:, :, r0:r1, c0:c1]                                       # patch clipping (Fig. 1)
        if use_global_stats:                                             # BatchNorm, global statistics
            mean = blobs["running_mean"][p] * (0.0 if s == 0 else 1.0 / s)
            var = blobs["running_var"][p] * (0.0 if s == 0 else 1.0 / s)
        else:                                                            # BatchNorm, batch statistics
            m = xp.size // xp.shape[1]
            mean = xp.mean(axis=(0, 2, 3))
            var = ((xp - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
            blobs["running_mean"][p] = mean + maf * blobs["running_mean"][p]
            blobs["running_var"][p] = (m / (m - 1) if m > 1 else 1.0) * var + maf * blobs["running_var"][p]
        std = np.sqrt(var + eps)
        x_hat = (xp - mean[None, :, None, None]) / std[None, :, None, None]
        pre = blobs["gamma"][p][None, :, None, None] * x_hat + blobs["beta"][p][None, :, None, None]  # Scale
        a = np.maximum(pre, 0.0)                                         # ReLU
        y[:, :, r0:r1, c0:c1] = conv(a, blobs["weights"][p], blobs["bias"][p]) + xp  # local conv + identity
        cache.append((x_hat, a, std))
    return y, cache


def region_backward(dy, blobs, rows, cols, cache, use_global_stats):
    """Gradients of region_forward: dL/dx and a dict of dL/d(blob) for blobs 0-3."""
    dx = dy.copy()                                                       # identity addition
    grads = {name: np.zeros_like(blobs[name]) for name in BLOB_NAMES[:4]}
    for p, ((r0, r1, c0, c1), (x_hat, a, std)) in enumerate(zip(patches(rows, cols), cache)):
        da, grads["weights"][p], grads["bias"][p] = conv_backward(dy[:, :, r0:r1, c0:c1], a,
                                                                  blobs["weights"][p])
        dpre = da * (a > 0)                                              # ReLU
        grads["gamma"][p] = (dpre * x_hat).sum(axis=(0, 2, 3))          # Scale
        grads["beta"][p] = dpre.sum(axis=(0, 2, 3))
        dx_hat = dpre * blobs["gamma"][p][None, :, None, None]
        if use_global_stats:                                             # BatchNorm: constant statistics
            dxp = dx_hat / std[None, :, None, None]
        else:                                                            # BatchNorm: batch statistics
            mean_d = dx_hat.mean(axis=(0, 2, 3), keepdims=True)
            mean_dx = (dx_hat * x_hat).mean(axis=(0, 2, 3), keepdims=True)
            dxp = (dx_hat - mean_d - mean_dx * x_hat) / std[None, :, None, None]
        dx[:, :, r0:r1, c0:c1] += dxp
    return dx, grads


class Region(caffe.Layer):
    """Caffe Python layer; computes in float64 and stores in the net's float32 blobs."""

    def setup(self, bottom, top):
        if len(bottom) != 1 or len(top) != 1:
            raise ValueError(f"Region: needs 1 bottom and 1 top, got {len(bottom)} and {len(top)}")
        if bottom[0].data.ndim != 4:
            raise ValueError(f"Region: bottom must be N x C x H x W, got shape {bottom[0].data.shape}")
        self.params = parse_param_str(self.param_str, DEFAULTS, "Region")
        k = self.params["kernel_size"]
        if k < 1 or k % 2 == 0:
            raise ValueError(f"Region: kernel_size={k} must be odd and positive (pad (K-1)/2 keeps the size)")
        if self.params["use_global_stats"] is None:
            self.params["use_global_stats"] = self.phase == caffe.TEST
        channels = bottom[0].data.shape[1]
        n_patches = self.params["grid_h"] * self.params["grid_w"]
        shapes = [(n_patches, channels, channels, k, k)] + [(n_patches, channels)] * 5 + [(1,)]
        if len(self.blobs) == 0:
            for shape in shapes:
                self.blobs.add_blob(*shape)
            for i, key in enumerate(("weight_filler", "bias_filler", "scale_filler", "shift_filler")):
                self.blobs[i].data[...] = fill(shapes[i], self.params[key], key)
            for i in (4, 5, 6):
                self.blobs[i].data[...] = 0
        for i, shape in enumerate(shapes):
            if self.blobs[i].data.shape != shape:
                raise ValueError(f"Region: blob {i} ({BLOB_NAMES[i]}) has shape {self.blobs[i].data.shape}, "
                                 f"expected {shape}")

    def reshape(self, bottom, top):
        _, _, h, w = bottom[0].data.shape
        self.rows = grid_bounds(h, self.params["grid_h"], "grid_h")
        self.cols = grid_bounds(w, self.params["grid_w"], "grid_w")
        top[0].reshape(*bottom[0].data.shape)

    def _blobs64(self):
        return {name: self.blobs[i].data.astype(np.float64) for i, name in enumerate(BLOB_NAMES)}

    def forward(self, bottom, top):
        blobs = self._blobs64()
        y, self.cache = region_forward(bottom[0].data.astype(np.float64), blobs, self.rows, self.cols,
                                       self.params["use_global_stats"],
                                       self.params["moving_average_fraction"], self.params["eps"])
        top[0].data[...] = y
        for i in (4, 5, 6):
            self.blobs[i].data[...] = blobs[BLOB_NAMES[i]]

    def backward(self, top, propagate_down, bottom):
        dx, grads = region_backward(top[0].diff.astype(np.float64), self._blobs64(), self.rows, self.cols,
                                    self.cache, self.params["use_global_stats"])
        for i in range(4):                                               # Caffe accumulates parameter diffs
            self.blobs[i].diff[...] += grads[BLOB_NAMES[i]]
        if propagate_down[0]:
            bottom[0].diff[...] = dx
