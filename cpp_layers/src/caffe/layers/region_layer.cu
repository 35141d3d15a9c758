#include <vector>

#include "caffe/layers/region_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

// Same layouts as region_layer.cpp: the map is N x C x H x W; a patch buffer
// is C x N x h x w, channel c one row of m = N*h*w values, element
// e = (n*h + i)*w + j of row c being map[n][c][y0 + i][x0 + j].

// Index of patch-buffer element `index` (c, n, i, j) in the map.
__device__ inline int region_map_index(const int index, const int num,
    const int channels, const int height, const int width, const int y0,
    const int x0, const int h, const int w) {
  const int j = index % w;
  const int i = (index / w) % h;
  const int n = (index / (w * h)) % num;
  const int c = index / (w * h * num);
  return ((n * channels + c) * height + y0 + i) * width + x0 + j;
}

// Patch clipping: map patch (y0, x0, h, w) of all N images -> C x N x h x w.
template <typename Dtype>
__global__ void RegionGather(const int count, const Dtype* map,
    const int num, const int channels, const int height, const int width,
    const int y0, const int x0, const int h, const int w, Dtype* patch) {
  CUDA_KERNEL_LOOP(index, count) {
    patch[index] = map[region_map_index(index, num, channels, height, width,
        y0, x0, h, w)];
  }
}

// (x - mean[c])^2, for the biased variance E((x - E x)^2).
template <typename Dtype>
__global__ void RegionSquaredDeviation(const int count, const int m,
    const Dtype* x, const Dtype* mean, Dtype* out) {
  CUDA_KERNEL_LOOP(index, count) {
    const Dtype d = x[index] - mean[index / m];
    out[index] = d * d;
  }
}

// BN, Scale (gamma, beta) and ReLU.
template <typename Dtype>
__global__ void RegionNormalize(const int count, const int m, const Dtype* x,
    const Dtype* mean, const Dtype* stdv, const Dtype* gamma,
    const Dtype* beta, Dtype* x_hat, Dtype* act) {
  CUDA_KERNEL_LOOP(index, count) {
    const int c = index / m;
    x_hat[index] = (x[index] - mean[c]) / stdv[c];
    const Dtype pre = gamma[c] * x_hat[index] + beta[c];
    act[index] = pre > 0 ? pre : Dtype(0);
  }
}

// im2col over the whole batch, zero padding at each patch's own border:
// col[(c*K + u)*K + v][(n*h + i)*w + j] = patch[c][n][i+u-pad][j+v-pad].
template <typename Dtype>
__global__ void RegionIm2col(const int count, const Dtype* patch,
    const int num, const int h, const int w, const int kernel, const int pad,
    Dtype* col) {
  CUDA_KERNEL_LOOP(index, count) {
    const int m = num * h * w;
    const int e = index % m;
    const int row = index / m;
    const int v = row % kernel;
    const int u = (row / kernel) % kernel;
    const int c = row / (kernel * kernel);
    const int j = e % w;
    const int i = (e / w) % h;
    const int n = e / (w * h);
    const int ii = i + u - pad;
    const int jj = j + v - pad;
    col[index] = (ii >= 0 && ii < h && jj >= 0 && jj < w) ?
        patch[((c * num + n) * h + ii) * w + jj] : Dtype(0);
  }
}

// The adjoint of RegionIm2col, one thread per patch element (no atomics):
// patch[c][n][i][j] =
//   sum_{u,v} col[(c*K + u)*K + v][(n*h + i-u+pad)*w + j-v+pad]
// over the (u, v) where that column position lies inside the patch.
template <typename Dtype>
__global__ void RegionCol2im(const int count, const Dtype* col,
    const int num, const int h, const int w, const int kernel, const int pad,
    Dtype* patch) {
  CUDA_KERNEL_LOOP(index, count) {
    const int m = num * h * w;
    const int j = index % w;
    const int i = (index / w) % h;
    const int n = (index / (w * h)) % num;
    const int c = index / m;
    Dtype sum = 0;
    for (int u = 0; u < kernel; ++u) {
      const int io = i - u + pad;
      if (io < 0 || io >= h) { continue; }
      for (int v = 0; v < kernel; ++v) {
        const int jo = j - v + pad;
        if (jo < 0 || jo >= w) { continue; }
        sum += col[((c * kernel + u) * kernel + v) * m + (n * h + io) * w + jo];
      }
    }
    patch[index] = sum;
  }
}

// Identity addition, written back to each image's own patch:
// y = conv + bias[c] + x.
template <typename Dtype>
__global__ void RegionAddIdentity(const int count, const Dtype* conv,
    const Dtype* bias, const Dtype* x, const int num, const int channels,
    const int height, const int width, const int y0, const int x0,
    const int h, const int w, Dtype* top) {
  CUDA_KERNEL_LOOP(index, count) {
    const int c = index / (num * h * w);
    top[region_map_index(index, num, channels, height, width, y0, x0, h, w)] =
        conv[index] + bias[c] + x[index];
  }
}

// ReLU backward, in place: dpre = dact where act > 0, else 0.
template <typename Dtype>
__global__ void RegionReLUBackward(const int count, const Dtype* act,
    Dtype* dpre) {
  CUDA_KERNEL_LOOP(index, count) {
    if (act[index] <= 0) { dpre[index] = 0; }
  }
}

// BatchNorm backward (dL/dx_hat = gamma * dpre) plus the identity's dy:
//   batch statistics:
//     dx = gamma/std (dpre - mean(dpre) - x_hat mean(dpre x_hat))
//   global statistics:
//     dx = gamma/std dpre
// sums holds sum(dpre * x_hat) in [0, C) and sum(dpre) in [C, 2C).
template <typename Dtype>
__global__ void RegionBackwardBottom(const int count, const Dtype* dy,
    const Dtype* dpre, const Dtype* x_hat, const Dtype* gamma,
    const Dtype* stdv, const Dtype* sums, const bool use_global_stats,
    const int num, const int channels, const int height, const int width,
    const int y0, const int x0, const int h, const int w, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, count) {
    const int m = num * h * w;
    const int c = index / m;
    Dtype d = dpre[index];
    if (!use_global_stats) {
      d -= (sums[channels + c] + x_hat[index] * sums[c]) / m;
    }
    bottom_diff[region_map_index(index, num, channels, height, width, y0, x0,
        h, w)] = dy[index] + gamma[c] / stdv[c] * d;
  }
}

template <typename Dtype>
void RegionLayer<Dtype>::Forward_gpu(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  const int num = bottom[0]->num(), C = channels_;
  const int height = bottom[0]->height(), width = bottom[0]->width();
  const int ckk = C * kernel_size_ * kernel_size_;
  const Dtype* bottom_data = bottom[0]->gpu_data();
  Dtype* top_data = top[0]->mutable_gpu_data();
  const Dtype* weight = this->blobs_[kWeights]->gpu_data();
  const Dtype* bias = this->blobs_[kBias]->gpu_data();
  const Dtype* gamma = this->blobs_[kGamma]->gpu_data();
  const Dtype* beta = this->blobs_[kBeta]->gpu_data();
  Dtype stats_scale = 0;
  if (use_global_stats_) {
    stats_scale = GlobalStatsScale();
  } else {
    // BatchNorm: one moving-average scale factor, s := maf * s + 1.
    Dtype* factor = this->blobs_[kScaleFactor]->mutable_cpu_data();
    factor[0] = factor[0] * moving_average_fraction_ + 1;
  }
  for (int p = 0; p < num_patches_; ++p) {
    const int y0 = row_bounds_[p / grid_w_], x0 = col_bounds_[p % grid_w_];
    const int h = row_bounds_[p / grid_w_ + 1] - y0;
    const int w = col_bounds_[p % grid_w_ + 1] - x0;
    const int m = num * h * w;
    const int count = C * m;
    Dtype* x = patch_in_.mutable_gpu_data();
    Dtype* tmp = patch_tmp_.mutable_gpu_data();
    Dtype* mean = batch_mean_.mutable_gpu_data() + p * C;
    Dtype* stdv = batch_std_.mutable_gpu_data() + p * C;
    Dtype* x_hat = x_norm_.mutable_gpu_data() + patch_offset_[p];
    Dtype* act = act_.mutable_gpu_data() + patch_offset_[p];
    // Patch clipping: patch p of all N images, C x (N h w).
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionGather<Dtype><<<CAFFE_GET_BLOCKS(count), CAFFE_CUDA_NUM_THREADS>>>(
        count, bottom_data, num, C, height, width, y0, x0, h, w, x);
    CUDA_POST_KERNEL_CHECK;
    // BatchNorm statistics, as BatchNormLayer::Forward_gpu.
    if (use_global_stats_) {
      caffe_gpu_scale(C, stats_scale, this->blobs_[kRunningMean]->gpu_data() + p * C,
          mean);
      caffe_gpu_scale(C, stats_scale, this->blobs_[kRunningVar]->gpu_data() + p * C,
          stdv);
    } else {
      caffe_gpu_gemv<Dtype>(CblasNoTrans, C, m, Dtype(1) / m, x,
          ones_.gpu_data(), 0, mean);
      // NOLINT_NEXT_LINE(whitespace/operators)
      RegionSquaredDeviation<Dtype><<<CAFFE_GET_BLOCKS(count),
          CAFFE_CUDA_NUM_THREADS>>>(count, m, x, mean, tmp);
      CUDA_POST_KERNEL_CHECK;
      caffe_gpu_gemv<Dtype>(CblasNoTrans, C, m, Dtype(1) / m, tmp,
          ones_.gpu_data(), 0, stdv);  // var = E((x - E x)^2)
      caffe_gpu_axpby(C, Dtype(1), mean, moving_average_fraction_,
          this->blobs_[kRunningMean]->mutable_gpu_data() + p * C);
      const Dtype bias_correction_factor = m > 1 ? Dtype(m) / (m - 1) : 1;
      caffe_gpu_axpby(C, bias_correction_factor, stdv,
          moving_average_fraction_,
          this->blobs_[kRunningVar]->mutable_gpu_data() + p * C);
    }
    caffe_gpu_add_scalar(C, eps_, stdv);
    caffe_gpu_sqrt(C, stdv, stdv);  // std = sqrt(var + eps)
    // BN, Scale (gamma, beta) and ReLU.
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionNormalize<Dtype><<<CAFFE_GET_BLOCKS(count), CAFFE_CUDA_NUM_THREADS>>>(
        count, m, x, mean, stdv, gamma + p * C, beta + p * C, x_hat, act);
    CUDA_POST_KERNEL_CHECK;
    // Local convolution with patch p's own weights: one im2col, one GEMM.
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionIm2col<Dtype><<<CAFFE_GET_BLOCKS(ckk * m), CAFFE_CUDA_NUM_THREADS>>>(
        ckk * m, act, num, h, w, kernel_size_, pad_, col_.mutable_gpu_data());
    CUDA_POST_KERNEL_CHECK;
    caffe_gpu_gemm<Dtype>(CblasNoTrans, CblasNoTrans, C, m, ckk, 1,
        weight + p * C * ckk, col_.gpu_data(), 0, tmp);
    // Identity addition, written back to each image's own patch.
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionAddIdentity<Dtype><<<CAFFE_GET_BLOCKS(count),
        CAFFE_CUDA_NUM_THREADS>>>(count, tmp, bias + p * C, x, num, C, height,
        width, y0, x0, h, w, top_data);
    CUDA_POST_KERNEL_CHECK;
  }
}

template <typename Dtype>
void RegionLayer<Dtype>::Backward_gpu(const vector<Blob<Dtype>*>& top,
    const vector<bool>& propagate_down,
    const vector<Blob<Dtype>*>& bottom) {
  const bool need_pre_diff = propagate_down[0]
      || this->param_propagate_down(2) || this->param_propagate_down(3);
  const int num = bottom[0]->num(), C = channels_;
  const int height = bottom[0]->height(), width = bottom[0]->width();
  const int ckk = C * kernel_size_ * kernel_size_;
  const Dtype* top_diff = top[0]->gpu_diff();
  const Dtype* weight = this->blobs_[kWeights]->gpu_data();
  const Dtype* gamma = this->blobs_[kGamma]->gpu_data();
  for (int p = 0; p < num_patches_; ++p) {
    const int y0 = row_bounds_[p / grid_w_], x0 = col_bounds_[p % grid_w_];
    const int h = row_bounds_[p / grid_w_ + 1] - y0;
    const int w = col_bounds_[p % grid_w_ + 1] - x0;
    const int m = num * h * w;
    const int count = C * m;
    Dtype* dy = patch_in_.mutable_gpu_diff();
    const Dtype* x_hat = x_norm_.gpu_data() + patch_offset_[p];
    const Dtype* act = act_.gpu_data() + patch_offset_[p];
    Dtype* dpre = act_.mutable_gpu_diff() + patch_offset_[p];
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionGather<Dtype><<<CAFFE_GET_BLOCKS(count), CAFFE_CUDA_NUM_THREADS>>>(
        count, top_diff, num, C, height, width, y0, x0, h, w, dy);
    CUDA_POST_KERNEL_CHECK;
    // Convolution: bias and weight gradients (accumulated, as Caffe does).
    if (this->param_propagate_down(1)) {
      caffe_gpu_gemv<Dtype>(CblasNoTrans, C, m, 1, dy, ones_.gpu_data(), 1,
          this->blobs_[kBias]->mutable_gpu_diff() + p * C);
    }
    if (this->param_propagate_down(0)) {
      // NOLINT_NEXT_LINE(whitespace/operators)
      RegionIm2col<Dtype><<<CAFFE_GET_BLOCKS(ckk * m),
          CAFFE_CUDA_NUM_THREADS>>>(ckk * m, act, num, h, w, kernel_size_,
          pad_, col_.mutable_gpu_data());
      CUDA_POST_KERNEL_CHECK;
      caffe_gpu_gemm<Dtype>(CblasNoTrans, CblasTrans, C, ckk, m, 1, dy,
          col_.gpu_data(), 1,
          this->blobs_[kWeights]->mutable_gpu_diff() + p * C * ckk);
    }
    if (!need_pre_diff) {
      continue;
    }
    // Convolution: gradient of its input, then ReLU.
    caffe_gpu_gemm<Dtype>(CblasTrans, CblasNoTrans, ckk, m, C, 1,
        weight + p * C * ckk, dy, 0, col_.mutable_gpu_diff());
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionCol2im<Dtype><<<CAFFE_GET_BLOCKS(count), CAFFE_CUDA_NUM_THREADS>>>(
        count, col_.gpu_diff(), num, h, w, kernel_size_, pad_, dpre);
    CUDA_POST_KERNEL_CHECK;
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionReLUBackward<Dtype><<<CAFFE_GET_BLOCKS(count),
        CAFFE_CUDA_NUM_THREADS>>>(count, act, dpre);
    CUDA_POST_KERNEL_CHECK;
    // Scale: dgamma = sum(dpre * x_hat), dbeta = sum(dpre), per channel.
    Dtype* sums = sums_.mutable_gpu_data();
    caffe_gpu_mul(count, dpre, x_hat, patch_tmp_.mutable_gpu_data());
    caffe_gpu_gemv<Dtype>(CblasNoTrans, C, m, 1, patch_tmp_.gpu_data(),
        ones_.gpu_data(), 0, sums);
    caffe_gpu_gemv<Dtype>(CblasNoTrans, C, m, 1, dpre, ones_.gpu_data(), 0,
        sums + C);
    if (this->param_propagate_down(2)) {
      caffe_gpu_axpy(C, Dtype(1), sums,
          this->blobs_[kGamma]->mutable_gpu_diff() + p * C);
    }
    if (this->param_propagate_down(3)) {
      caffe_gpu_axpy(C, Dtype(1), sums + C,
          this->blobs_[kBeta]->mutable_gpu_diff() + p * C);
    }
    if (!propagate_down[0]) {
      continue;
    }
    // BatchNorm backward plus the identity addition's dy; patches tile the
    // map, so every bottom diff value is written exactly once.
    // NOLINT_NEXT_LINE(whitespace/operators)
    RegionBackwardBottom<Dtype><<<CAFFE_GET_BLOCKS(count),
        CAFFE_CUDA_NUM_THREADS>>>(count, dy, dpre, x_hat, gamma + p * C,
        batch_std_.gpu_data() + p * C, sums_.gpu_data(), use_global_stats_,
        num, C, height, width, y0, x0, h, w, bottom[0]->mutable_gpu_diff());
    CUDA_POST_KERNEL_CHECK;
  }
}

INSTANTIATE_LAYER_GPU_FUNCS(RegionLayer);

}  // namespace caffe
