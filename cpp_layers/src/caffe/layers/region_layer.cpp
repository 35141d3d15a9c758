#include <algorithm>
#include <vector>

#include "caffe/filler.hpp"
#include "caffe/layers/region_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

// Loops over channels run in parallel in OpenMP builds when they touch more
// than kParallelMin values (below that, starting threads costs more than it
// saves, and much more when other work shares the cores): each channel reads
// and writes its own rows, so the results do not depend on the thread count.
static const int kParallelMin = 16384;

// Layouts used below. The map is N x C x H x W. A patch buffer holds patch
// (y0, x0, h, w) of all N images as C x N x h x w, so that channel c is one
// contiguous row of m = N*h*w values: element e = (n*h + i)*w + j of row c is
// map[n][c][y0 + i][x0 + j].

// Patch clipping: map patch (y0, x0, h, w) of all N images -> C x N x h x w.
template <typename Dtype>
static void region_gather_cpu(const Dtype* map, const int num,
    const int channels, const int height, const int width, const int y0,
    const int x0, const int h, const int w, Dtype* patch) {
#pragma omp parallel for if (channels * num * h * w > kParallelMin)
  for (int c = 0; c < channels; ++c) {
    Dtype* out = patch + c * num * h * w;
    for (int n = 0; n < num; ++n) {
      for (int i = 0; i < h; ++i) {
        const Dtype* row = map + ((n * channels + c) * height + y0 + i) * width
            + x0;
        std::copy(row, row + w, out);
        out += w;
      }
    }
  }
}

// im2col over the whole batch, zero padding at each patch's own border:
// col[(c*K + u)*K + v][(n*h + i)*w + j] = patch[c][n][i+u-pad][j+v-pad].
template <typename Dtype>
static void region_im2col_cpu(const Dtype* patch, const int channels,
    const int num, const int h, const int w, const int kernel, const int pad,
    Dtype* col) {
#pragma omp parallel for if (channels * num * h * w > kParallelMin)
  for (int c = 0; c < channels; ++c) {
    Dtype* out = col + c * kernel * kernel * num * h * w;
    for (int u = 0; u < kernel; ++u) {
      for (int v = 0; v < kernel; ++v) {
        for (int n = 0; n < num; ++n) {
          const Dtype* image = patch + (c * num + n) * h * w;
          for (int i = 0; i < h; ++i) {
            const int ii = i + u - pad;
            for (int j = 0; j < w; ++j) {
              const int jj = j + v - pad;
              *(out++) = (ii >= 0 && ii < h && jj >= 0 && jj < w) ?
                  image[ii * w + jj] : Dtype(0);
            }
          }
        }
      }
    }
  }
}

// The adjoint of region_im2col_cpu: each column entry is added back to the
// patch element it was copied from, so that patch[c][n][i][j] =
//   sum_{u,v} col[(c*K + u)*K + v][(n*h + i-u+pad)*w + j-v+pad]
// over the (u, v) where that column position lies inside the patch.
template <typename Dtype>
static void region_col2im_cpu(const Dtype* col, const int channels,
    const int num, const int h, const int w, const int kernel, const int pad,
    Dtype* patch) {
  const int m = num * h * w;
  caffe_set(channels * m, Dtype(0), patch);
#pragma omp parallel for if (channels * m > kParallelMin)
  for (int c = 0; c < channels; ++c) {
    for (int u = 0; u < kernel; ++u) {
      for (int v = 0; v < kernel; ++v) {
        const Dtype* col_row = col + ((c * kernel + u) * kernel + v) * m;
        for (int n = 0; n < num; ++n) {
          Dtype* image = patch + (c * num + n) * h * w;
          for (int i = 0; i < h; ++i) {
            const int ii = i + u - pad;
            for (int j = 0; j < w; ++j) {
              const int jj = j + v - pad;
              if (ii >= 0 && ii < h && jj >= 0 && jj < w) {
                image[ii * w + jj] += col_row[(n * h + i) * w + j];
              }
            }
          }
        }
      }
    }
  }
}

template <typename Dtype>
void RegionLayer<Dtype>::LayerSetUp(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top) {
  const RegionParameter& param = this->layer_param_.region_param();
  CHECK_EQ(bottom[0]->num_axes(), 4)
      << "Region: bottom must be N x C x H x W, got "
      << bottom[0]->shape_string();
  CHECK_NE(bottom[0], top[0])
      << "Region: in-place computation is not supported";
  grid_h_ = param.grid_h();
  grid_w_ = param.grid_w();
  CHECK_GE(grid_h_, 1) << "Region: grid_h must be at least 1";
  CHECK_GE(grid_w_, 1) << "Region: grid_w must be at least 1";
  num_patches_ = grid_h_ * grid_w_;
  kernel_size_ = param.kernel_size();
  CHECK(kernel_size_ >= 1 && kernel_size_ % 2 == 1)
      << "Region: kernel_size must be odd and positive (pad (K-1)/2 keeps "
      << "the patch size), got " << kernel_size_;
  pad_ = (kernel_size_ - 1) / 2;
  channels_ = bottom[0]->channels();
  // BatchNorm's defaults: batch statistics in TRAIN, global ones in TEST.
  use_global_stats_ = this->phase_ == TEST;
  if (param.has_use_global_stats()) {
    use_global_stats_ = param.use_global_stats();
  }
  moving_average_fraction_ = param.moving_average_fraction();
  eps_ = param.eps();

  if (this->blobs_.size() > 0) {
    LOG(INFO) << "Skipping parameter initialization";
  } else {
    const int P = num_patches_, C = channels_, K = kernel_size_;
    this->blobs_.resize(kNumBlobs);
    const int weight_dims[] = {P, C, C, K, K};
    this->blobs_[kWeights].reset(new Blob<Dtype>(vector<int>(weight_dims,
        weight_dims + 5)));
    for (int i = kBias; i <= kRunningVar; ++i) {
      this->blobs_[i].reset(new Blob<Dtype>(vector<int>{P, C}));
    }
    this->blobs_[kScaleFactor].reset(new Blob<Dtype>(vector<int>(1, 1)));
    // Each patch's kernel is filled as one C x C x K x K convolution's, so
    // fan-in based fillers (xavier, msra) see a convolution's fan-in.
    FillerParameter weight_filler;
    weight_filler.set_type("gaussian");
    weight_filler.set_std(0.01);
    if (param.has_weight_filler()) {
      weight_filler = param.weight_filler();
    }
    shared_ptr<Filler<Dtype> > filler(GetFiller<Dtype>(weight_filler));
    Blob<Dtype> kernel(vector<int>(weight_dims + 1, weight_dims + 5));
    for (int p = 0; p < P; ++p) {
      filler->Fill(&kernel);
      caffe_copy(kernel.count(), kernel.cpu_data(),
          this->blobs_[kWeights]->mutable_cpu_data() + p * kernel.count());
    }
    FillerParameter bias_filler = param.bias_filler();  // default constant 0
    FillerParameter scale_filler;
    scale_filler.set_value(1);                          // default constant 1
    if (param.has_scale_filler()) {
      scale_filler = param.scale_filler();
    }
    FillerParameter shift_filler = param.shift_filler();  // default constant 0
    filler.reset(GetFiller<Dtype>(bias_filler));
    filler->Fill(this->blobs_[kBias].get());
    filler.reset(GetFiller<Dtype>(scale_filler));
    filler->Fill(this->blobs_[kGamma].get());
    filler.reset(GetFiller<Dtype>(shift_filler));
    filler->Fill(this->blobs_[kBeta].get());
    for (int i = kRunningMean; i < kNumBlobs; ++i) {
      caffe_set(this->blobs_[i]->count(), Dtype(0),
          this->blobs_[i]->mutable_cpu_data());
    }
  }
  // kWeights to kBeta are learned (default ParamSpecs); the rest are statistics:
  // mask them from the solver, as BatchNormLayer does for its blobs.
  while (this->layer_param_.param_size() < kRunningMean) {
    this->layer_param_.add_param();
  }
  for (int i = kRunningMean; i < kNumBlobs; ++i) {
    if (this->layer_param_.param_size() == i) {
      this->layer_param_.add_param()->set_lr_mult(0.f);
    } else {
      CHECK_EQ(this->layer_param_.param(i).lr_mult(), 0.f)
          << "Region: blob " << i << " holds BatchNorm statistics; its "
          << "lr_mult must be 0";
    }
    this->layer_param_.mutable_param(i)->set_decay_mult(0.f);
  }
  use_dnnl_ = false;
  if (param.engine() != RegionParameter_Engine_CAFFE) {
#ifdef USE_DNNL
    // oneDNN computes in float.
    use_dnnl_ = sizeof(Dtype) == sizeof(float);
    if (!use_dnnl_) {
      LOG(INFO) << "Layer " << this->layer_param_.name() << ": Region engine "
          << "DNNL falls back to CAFFE (oneDNN computes in float, this layer "
          << "is double)";
    }
    dnnl_convs_.clear();
    dnnl_num_ = 0;
#else
    CHECK_NE(param.engine(), RegionParameter_Engine_DNNL)
        << "Region: engine DNNL needs a CPU build with USE_DNNL";
#endif
  }
  // Gradients for the learned blobs (a Net may switch them off by lr_mult 0).
  this->param_propagate_down_.assign(kNumBlobs, false);
  for (int i = kWeights; i < kRunningMean; ++i) {
    this->param_propagate_down_[i] = true;
  }
}

template <typename Dtype>
void RegionLayer<Dtype>::Reshape(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top) {
  CHECK_EQ(bottom[0]->num_axes(), 4)
      << "Region: bottom must be N x C x H x W, got "
      << bottom[0]->shape_string();
  CHECK_EQ(bottom[0]->channels(), channels_)
      << "Region: the bottom's channels changed since set-up";
  const int num = bottom[0]->num();
  const int height = bottom[0]->height(), width = bottom[0]->width();
  CHECK_LE(grid_h_, height) << "Region: grid_h = " << grid_h_
      << " cuts height " << height << " into patches of less than 1 pixel "
      << "(boundaries floor(k*H/grid_h)); need grid_h <= H";
  CHECK_LE(grid_w_, width) << "Region: grid_w = " << grid_w_
      << " cuts width " << width << " into patches of less than 1 pixel "
      << "(boundaries floor(k*W/grid_w)); need grid_w <= W";
  // Patch clipping (Fig. 1): boundaries floor(k*H/grid_h), floor(k*W/grid_w).
  row_bounds_.resize(grid_h_ + 1);
  col_bounds_.resize(grid_w_ + 1);
  for (int k = 0; k <= grid_h_; ++k) { row_bounds_[k] = k * height / grid_h_; }
  for (int k = 0; k <= grid_w_; ++k) { col_bounds_[k] = k * width / grid_w_; }
  patch_offset_.resize(num_patches_);
  int offset = 0, max_area = 0;
  for (int p = 0; p < num_patches_; ++p) {
    const int area = (row_bounds_[p / grid_w_ + 1] - row_bounds_[p / grid_w_])
        * (col_bounds_[p % grid_w_ + 1] - col_bounds_[p % grid_w_]);
    patch_offset_[p] = offset;
    offset += num * channels_ * area;
    max_area = std::max(max_area, area);
  }
  top[0]->ReshapeLike(*bottom[0]);
  x_norm_.ReshapeLike(*bottom[0]);
  act_.ReshapeLike(*bottom[0]);
  batch_mean_.Reshape(vector<int>{num_patches_, channels_});
  batch_std_.Reshape(vector<int>{num_patches_, channels_});
  sums_.Reshape(vector<int>{2, channels_});
  // Buffers for the largest patch; Blob only reallocates when they grow.
  const int max_m = num * max_area;
  patch_in_.Reshape(vector<int>{channels_, max_m});
  patch_tmp_.Reshape(vector<int>{channels_, max_m});
  col_.Reshape(vector<int>{channels_ * kernel_size_ * kernel_size_, max_m});
  if (ones_.count() != max_m) {
    ones_.Reshape(vector<int>(1, max_m));
    caffe_set(max_m, Dtype(1), ones_.mutable_cpu_data());
  }
}

#ifdef USE_DNNL
template <typename Dtype>
DnnlConvolution* RegionLayer<Dtype>::PatchConv(int num, int h, int w) {
  if (num != dnnl_num_) {
    dnnl_convs_.clear();
    dnnl_num_ = num;
  }
  shared_ptr<DnnlConvolution>& conv = dnnl_convs_[std::make_pair(h, w)];
  if (!conv) {
    typedef dnnl::memory::dims dims;
    const dnnl::memory::data_type f32 = dnnl::memory::data_type::f32;
    const int C = channels_, K = kernel_size_;
    // A C x N x h x w patch buffer read as an N x C x h x w map.
    const dnnl::memory::desc map(dims{num, C, h, w}, f32,
        dims{h * w, num * h * w, w, 1});
    const dnnl::memory::desc weights(dims{C, C, K, K}, f32,
        dnnl::memory::format_tag::oihw);
    conv.reset(new DnnlConvolution(map, weights, false, map, dims{1, 1},
        dims{0, 0}, dims{pad_, pad_}, dims{pad_, pad_}));
  }
  return conv.get();
}
#endif

template <typename Dtype>
void RegionLayer<Dtype>::PatchConvForward(int p, int num, int h, int w,
    const Dtype* act, Dtype* out) {
  const int C = channels_, ckk = C * kernel_size_ * kernel_size_;
  const Dtype* weight = this->blobs_[kWeights]->cpu_data() + p * C * ckk;
#ifdef USE_DNNL
  if (use_dnnl_) {
    PatchConv(num, h, w)->Forward(act, weight, NULL, out);
    return;
  }
#endif
  // One im2col, one GEMM.
  region_im2col_cpu(act, C, num, h, w, kernel_size_, pad_,
      col_.mutable_cpu_data());
  caffe_cpu_gemm<Dtype>(CblasNoTrans, CblasNoTrans, C, num * h * w, ckk, 1,
      weight, col_.cpu_data(), 0, out);
}

template <typename Dtype>
void RegionLayer<Dtype>::PatchConvBackward(int p, int num, int h, int w,
    const Dtype* act, const Dtype* dy, bool weights_down, Dtype* dact) {
  const int C = channels_, ckk = C * kernel_size_ * kernel_size_;
  const int m = num * h * w;
  const Dtype* weight = this->blobs_[kWeights]->cpu_data() + p * C * ckk;
#ifdef USE_DNNL
  if (use_dnnl_) {
    PatchConv(num, h, w)->Backward(act, dy, weight, dact, weights_down
        ? this->blobs_[kWeights]->mutable_cpu_diff() + p * C * ckk : NULL, NULL);
    return;
  }
#endif
  if (weights_down) {
    region_im2col_cpu(act, C, num, h, w, kernel_size_, pad_,
        col_.mutable_cpu_data());
    caffe_cpu_gemm<Dtype>(CblasNoTrans, CblasTrans, C, ckk, m, 1, dy,
        col_.cpu_data(), 1, this->blobs_[kWeights]->mutable_cpu_diff() + p * C * ckk);
  }
  if (dact) {
    caffe_cpu_gemm<Dtype>(CblasTrans, CblasNoTrans, ckk, m, C, 1, weight, dy,
        0, col_.mutable_cpu_diff());
    region_col2im_cpu(col_.cpu_diff(), C, num, h, w, kernel_size_, pad_, dact);
  }
}

template <typename Dtype>
Dtype RegionLayer<Dtype>::GlobalStatsScale() const {
  const Dtype factor = this->blobs_[kScaleFactor]->cpu_data()[0];
  return factor == 0 ? Dtype(0) : Dtype(1) / factor;
}

template <typename Dtype>
void RegionLayer<Dtype>::Forward_cpu(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  const int num = bottom[0]->num(), C = channels_;
  const int height = bottom[0]->height(), width = bottom[0]->width();
  const Dtype* bottom_data = bottom[0]->cpu_data();
  Dtype* top_data = top[0]->mutable_cpu_data();
  const Dtype* bias = this->blobs_[kBias]->cpu_data();
  const Dtype* gamma = this->blobs_[kGamma]->cpu_data();
  const Dtype* beta = this->blobs_[kBeta]->cpu_data();
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
    Dtype* x = patch_in_.mutable_cpu_data();
    Dtype* mean = batch_mean_.mutable_cpu_data() + p * C;
    Dtype* stdv = batch_std_.mutable_cpu_data() + p * C;
    Dtype* x_hat = x_norm_.mutable_cpu_data() + patch_offset_[p];
    Dtype* act = act_.mutable_cpu_data() + patch_offset_[p];
    // Patch clipping: patch p of all N images, C x (N h w).
    region_gather_cpu(bottom_data, num, C, height, width, y0, x0, h, w, x);
    // BatchNorm statistics, as BatchNormLayer::Forward_cpu.
    if (use_global_stats_) {
      caffe_cpu_scale(C, stats_scale, this->blobs_[kRunningMean]->cpu_data() + p * C,
          mean);
      caffe_cpu_scale(C, stats_scale, this->blobs_[kRunningVar]->cpu_data() + p * C,
          stdv);
    } else {
      // Per channel, two passes over its row while it is in cache:
      // mean = E x, var = E((x - E x)^2) (into stdv until the sqrt below).
#pragma omp parallel for if (C * m > kParallelMin)
      for (int c = 0; c < C; ++c) {
        const Dtype* row = x + c * m;
        Dtype sum = 0;
#pragma omp simd reduction(+:sum)
        for (int e = 0; e < m; ++e) {
          sum += row[e];
        }
        const Dtype mu = sum / m;
        Dtype sum_sq = 0;
#pragma omp simd reduction(+:sum_sq)
        for (int e = 0; e < m; ++e) {
          sum_sq += (row[e] - mu) * (row[e] - mu);
        }
        mean[c] = mu;
        stdv[c] = sum_sq / m;
      }
      caffe_cpu_axpby(C, Dtype(1), mean, moving_average_fraction_,
          this->blobs_[kRunningMean]->mutable_cpu_data() + p * C);
      const Dtype bias_correction_factor = m > 1 ? Dtype(m) / (m - 1) : 1;
      caffe_cpu_axpby(C, bias_correction_factor, stdv,
          moving_average_fraction_,
          this->blobs_[kRunningVar]->mutable_cpu_data() + p * C);
    }
    caffe_add_scalar(C, eps_, stdv);
    caffe_sqrt(C, stdv, stdv);  // std = sqrt(var + eps)
    // BN, Scale (gamma, beta) and ReLU.
#pragma omp parallel for if (C * m > kParallelMin)
    for (int c = 0; c < C; ++c) {
      const Dtype g = gamma[p * C + c], b = beta[p * C + c];
      for (int e = c * m; e < (c + 1) * m; ++e) {
        x_hat[e] = (x[e] - mean[c]) / stdv[c];
        act[e] = std::max(g * x_hat[e] + b, Dtype(0));
      }
    }
    // Local convolution with patch p's own weights.
    Dtype* tmp = patch_tmp_.mutable_cpu_data();
    PatchConvForward(p, num, h, w, act, tmp);
    // Identity addition, written back to each image's own patch.
#pragma omp parallel for if (C * m > kParallelMin)
    for (int c = 0; c < C; ++c) {
      for (int n = 0; n < num; ++n) {
        for (int i = 0; i < h; ++i) {
          Dtype* out = top_data + ((n * C + c) * height + y0 + i) * width + x0;
          const int e = c * m + (n * h + i) * w;
          for (int j = 0; j < w; ++j) {
            out[j] = tmp[e + j] + bias[p * C + c] + x[e + j];
          }
        }
      }
    }
  }
}

template <typename Dtype>
void RegionLayer<Dtype>::Backward_cpu(const vector<Blob<Dtype>*>& top,
    const vector<bool>& propagate_down,
    const vector<Blob<Dtype>*>& bottom) {
  const bool need_pre_diff = propagate_down[0]
      || this->param_propagate_down(2) || this->param_propagate_down(3);
  const int num = bottom[0]->num(), C = channels_;
  const int height = bottom[0]->height(), width = bottom[0]->width();
  const Dtype* top_diff = top[0]->cpu_diff();
  const Dtype* gamma = this->blobs_[kGamma]->cpu_data();
  for (int p = 0; p < num_patches_; ++p) {
    const int y0 = row_bounds_[p / grid_w_], x0 = col_bounds_[p % grid_w_];
    const int h = row_bounds_[p / grid_w_ + 1] - y0;
    const int w = col_bounds_[p % grid_w_ + 1] - x0;
    const int m = num * h * w;
    Dtype* dy = patch_in_.mutable_cpu_diff();
    const Dtype* x_hat = x_norm_.cpu_data() + patch_offset_[p];
    const Dtype* act = act_.cpu_data() + patch_offset_[p];
    Dtype* dpre = act_.mutable_cpu_diff() + patch_offset_[p];
    region_gather_cpu(top_diff, num, C, height, width, y0, x0, h, w, dy);
    // Convolution: bias and weight gradients (accumulated, as Caffe does),
    // and the gradient of its input.
    if (this->param_propagate_down(1)) {
      caffe_cpu_gemv<Dtype>(CblasNoTrans, C, m, 1, dy, ones_.cpu_data(), 1,
          this->blobs_[kBias]->mutable_cpu_diff() + p * C);
    }
    PatchConvBackward(p, num, h, w, act, dy, this->param_propagate_down(0),
        need_pre_diff ? dpre : NULL);
    if (!need_pre_diff) {
      continue;
    }
    // ReLU, and for Scale dgamma = sum(dpre * x_hat) and dbeta = sum(dpre)
    // per channel, in one pass over the channel's row.
    Dtype* sums = sums_.mutable_cpu_data();
#pragma omp parallel for if (C * m > kParallelMin)
    for (int c = 0; c < C; ++c) {
      Dtype* d = dpre + c * m;
      const Dtype* a = act + c * m;
      const Dtype* xh = x_hat + c * m;
      Dtype sum_xhat = 0, sum = 0;
#pragma omp simd reduction(+:sum_xhat, sum)
      for (int e = 0; e < m; ++e) {
        const Dtype v = a[e] > 0 ? d[e] : Dtype(0);
        d[e] = v;
        sum_xhat += v * xh[e];
        sum += v;
      }
      sums[c] = sum_xhat;
      sums[C + c] = sum;
    }
    if (this->param_propagate_down(2)) {
      caffe_axpy(C, Dtype(1), sums,
          this->blobs_[kGamma]->mutable_cpu_diff() + p * C);
    }
    if (this->param_propagate_down(3)) {
      caffe_axpy(C, Dtype(1), sums + C,
          this->blobs_[kBeta]->mutable_cpu_diff() + p * C);
    }
    if (!propagate_down[0]) {
      continue;
    }
    // BatchNorm (BatchNormLayer::Backward_cpu with dL/dx_hat = gamma * dpre):
    //   batch statistics:
    //     dx = gamma/std (dpre - mean(dpre) - x_hat mean(dpre x_hat))
    //   global statistics:
    //     dx = gamma/std dpre
    // plus the identity addition's dy. Patches tile the map, so every bottom
    // diff value is written exactly once.
    const Dtype* stdv = batch_std_.cpu_data() + p * C;
    Dtype* bottom_diff = bottom[0]->mutable_cpu_diff();
#pragma omp parallel for if (C * m > kParallelMin)
    for (int c = 0; c < C; ++c) {
      const Dtype k = gamma[p * C + c] / stdv[c];
      const Dtype mean_dpre = use_global_stats_ ? 0 : sums[C + c] / m;
      const Dtype mean_dpre_xhat = use_global_stats_ ? 0 : sums[c] / m;
      for (int n = 0; n < num; ++n) {
        for (int i = 0; i < h; ++i) {
          Dtype* out = bottom_diff + ((n * C + c) * height + y0 + i) * width
              + x0;
          const int e = c * m + (n * h + i) * w;
          for (int j = 0; j < w; ++j) {
            out[j] = dy[e + j] + k * (dpre[e + j] - mean_dpre
                - x_hat[e + j] * mean_dpre_xhat);
          }
        }
      }
    }
  }
}

#ifdef CPU_ONLY
STUB_GPU(RegionLayer);
#endif

INSTANTIATE_CLASS(RegionLayer);
REGISTER_LAYER_CLASS(Region);

}  // namespace caffe
