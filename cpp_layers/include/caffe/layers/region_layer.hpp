#ifndef CAFFE_REGION_LAYER_HPP_
#define CAFFE_REGION_LAYER_HPP_

#include <map>
#include <utility>
#include <vector>

#include "caffe/blob.hpp"
#include "caffe/layer.hpp"
#include "caffe/proto/caffe.pb.h"
#ifdef USE_DNNL
#include "caffe/util/dnnl_convolution.hpp"
#endif

namespace caffe {

/**
 * @brief DRML's region layer as L-DSCMR uses it (Wang et al. 2019, Sec. 2.1,
 *        Fig. 1): patch clipping, local convolution and identity addition.
 *
 * The N x C x H x W bottom is cut into grid_h x grid_w patches; patch (i, j)
 * covers rows floor(i*H/grid_h) .. floor((i+1)*H/grid_h) - 1 and columns
 * likewise. Each patch p of every image goes through its own
 *   BatchNorm (Caffe's BatchNormLayer semantics, per channel),
 *   Scale with bias (gamma_p, beta_p, per channel), ReLU,
 *   a KxK convolution C -> C (pad (K-1)/2, stride 1; weights W_p, bias b_p),
 * and the identity addition:
 *   y_p = conv_p(ReLU(gamma_p BN_p(x_p) + beta_p)) + x_p.
 * The top has the bottom's shape. Images never mix: image n's patches are
 * cut from, and written back to, image n (DRML's Box/Splice layers mixed
 * images when N > 1).
 *
 * Blobs, P = grid_h * grid_w: 0 conv weights P x C x C x K x K, 1 conv bias
 * P x C, 2 gamma P x C, 3 beta P x C, 4 running mean P x C, 5 running variance
 * P x C, 6 moving-average scale factor (1). Blobs 4-6 are BatchNorm
 * statistics: the layer forces their lr_mult and decay_mult to 0.
 *
 * Speed: per patch, the patch of all N images is gathered into one contiguous
 * C x (N h w) buffer, normalised, and convolved in one call for the batch:
 * with engine DNNL (DEFAULT in float CPU builds with USE_DNNL) through oneDNN
 * (one primitive per patch size, the C x N x h x w buffer read as a strided
 * N x C x h x w map), with engine CAFFE by ONE im2col to a (C K K) x (N h w)
 * matrix and ONE GEMM.
 * Buffers are sized in Reshape for the largest patch and reused.
 */
template <typename Dtype>
class RegionLayer : public Layer<Dtype> {
 public:
  // The layer's blobs, in the order of python_layers/region.py's BLOB_NAMES: the per-patch
  // convolution weights (P x C x C x K x K) and biases, the BatchNorm scale (gamma) and shift
  // (beta), learned; the running mean and variance and their scale factor, as BatchNormLayer
  // keeps them, masked from the solver.
  enum BlobIndex { kWeights = 0, kBias, kGamma, kBeta, kRunningMean, kRunningVar, kScaleFactor,
                   kNumBlobs };
  explicit RegionLayer(const LayerParameter& param)
      : Layer<Dtype>(param) {}
  virtual void LayerSetUp(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Reshape(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);

  virtual inline const char* type() const { return "Region"; }
  virtual inline int ExactNumBottomBlobs() const { return 1; }
  virtual inline int ExactNumTopBlobs() const { return 1; }

 protected:
  virtual void Forward_cpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Forward_gpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Backward_cpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom);
  virtual void Backward_gpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom);

  // Patch p's convolution of act (C x N x h x w) into out, same layout.
  void PatchConvForward(int p, int num, int h, int w, const Dtype* act,
      Dtype* out);
  // Its gradients from dy (C x N x h x w): weights (accumulated into blob
  // 0's diff) if weights_down, and the input's into dact if not NULL.
  void PatchConvBackward(int p, int num, int h, int w, const Dtype* act,
      const Dtype* dy, bool weights_down, Dtype* dact);

  // Scale that turns the running sums of blobs 4-5 into statistics
  // (BatchNorm: 1 / scale factor, or 0 if the factor is 0).
  Dtype GlobalStatsScale() const;

  int grid_h_, grid_w_, num_patches_;
  int kernel_size_, pad_;
  int channels_;
  bool use_global_stats_;
  Dtype moving_average_fraction_;
  Dtype eps_;
  // Patch boundaries: patch (i, j) is rows [row_bounds_[i], row_bounds_[i+1])
  // and columns [col_bounds_[j], col_bounds_[j+1]).
  vector<int> row_bounds_, col_bounds_;
  // patch_offset_[p]: where patch p's C x N x h x w block starts in x_norm_
  // and act_ (patch-major layout; N*C*H*W values in all).
  vector<int> patch_offset_;

  // x_hat (BN output), per patch C x N x h x w.
  Blob<Dtype> x_norm_;
  // ReLU(gamma x_hat + beta); diff: dL/d(act), then dL/d(pre-ReLU).
  Blob<Dtype> act_;
  // P x C: the mean and sqrt(var + eps) each patch was normalised with.
  Blob<Dtype> batch_mean_, batch_std_;
  // C x N h w: data: gathered x_p; diff: gathered dL/dy_p.
  Blob<Dtype> patch_in_;
  // C x N h w: the convolution's output.
  Blob<Dtype> patch_tmp_;
  // (C K K) x (N h w): data: im2col columns; diff: column gradients.
  Blob<Dtype> col_;
  // N h w ones: row sums by GEMV.
  Blob<Dtype> ones_;
  // 2 x C: per channel sum(dpre * x_hat), then sum(dpre).
  Blob<Dtype> sums_;
  // Whether the patch convolutions run on oneDNN (engine DNNL).
  bool use_dnnl_;
#ifdef USE_DNNL
  // oneDNN convolutions by patch size (h, w), for batch dnnl_num_.
  std::map<std::pair<int, int>, shared_ptr<DnnlConvolution> > dnnl_convs_;
  int dnnl_num_;
  DnnlConvolution* PatchConv(int num, int h, int w);
#endif
};

}  // namespace caffe

#endif  // CAFFE_REGION_LAYER_HPP_
