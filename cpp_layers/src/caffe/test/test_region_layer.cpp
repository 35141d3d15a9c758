#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/filler.hpp"
#include "caffe/layers/batch_norm_layer.hpp"
#include "caffe/layers/region_layer.hpp"

#include "caffe/test/test_caffe_main.hpp"
#include "caffe/test/test_gradient_check_util.hpp"

namespace caffe {

// Rows [r0, r1) and columns [c0, c1) of one patch.
struct RegionPatch { int r0, r1, c0, c1; };

// Patch clipping as the issue fixes it: boundaries floor(k*H/grid_h) and
// floor(k*W/grid_w); patch p = i*grid_w + j.
static vector<RegionPatch> GridPatches(int height, int width, int grid_h,
    int grid_w) {
  vector<RegionPatch> patches;
  for (int i = 0; i < grid_h; ++i) {
    for (int j = 0; j < grid_w; ++j) {
      RegionPatch q = {i * height / grid_h, (i + 1) * height / grid_h,
                       j * width / grid_w, (j + 1) * width / grid_w};
      patches.push_back(q);
    }
  }
  return patches;
}

// The statistics channel c of patch p is normalised with, by Caffe's
// BatchNorm: batch mean and biased variance E((x - E x)^2), or the running
// sums (blobs 4, 5) divided by the scale factor (blob 6). stdv is
// sqrt(var + eps).
template <typename Dtype>
static void PatchStats(const Blob<Dtype>& x,
    const vector<shared_ptr<Blob<Dtype> > >& blobs, const RegionPatch& q,
    int p, int c, bool use_global_stats, double eps, double* mean,
    double* stdv) {
  const int C = x.channels();
  double var = 0;
  if (use_global_stats) {
    const double s = blobs[6]->cpu_data()[0];
    const double scale = s == 0 ? 0 : 1 / s;
    *mean = blobs[4]->cpu_data()[p * C + c] * scale;
    var = blobs[5]->cpu_data()[p * C + c] * scale;
  } else {
    double sum = 0;
    int m = 0;
    for (int n = 0; n < x.num(); ++n) {
      for (int r = q.r0; r < q.r1; ++r) {
        for (int col = q.c0; col < q.c1; ++col, ++m) {
          sum += x.data_at(n, c, r, col);
        }
      }
    }
    *mean = sum / m;
    for (int n = 0; n < x.num(); ++n) {
      for (int r = q.r0; r < q.r1; ++r) {
        for (int col = q.c0; col < q.c1; ++col) {
          var += std::pow(x.data_at(n, c, r, col) - *mean, 2) / m;
        }
      }
    }
  }
  *stdv = std::sqrt(var + eps);
}

// A straightforward Region forward (paper Sec. 2.1, Fig. 1), pixel by pixel
// in double: y = conv_p(ReLU(gamma_p * BN_p(x) + beta_p)) + x, where the
// convolution of a pixel of image n only reads image n's own patch.
template <typename Dtype>
static vector<double> ReferenceForward(const Blob<Dtype>& x,
    const vector<shared_ptr<Blob<Dtype> > >& blobs, int grid_h, int grid_w,
    int kernel, bool use_global_stats, double eps) {
  const int N = x.num(), C = x.channels(), pad = (kernel - 1) / 2;
  const vector<RegionPatch> patches = GridPatches(x.height(), x.width(),
      grid_h, grid_w);
  vector<double> act(x.count());
  for (int p = 0; p < patches.size(); ++p) {
    const RegionPatch& q = patches[p];
    for (int c = 0; c < C; ++c) {
      double mean, stdv;
      PatchStats(x, blobs, q, p, c, use_global_stats, eps, &mean, &stdv);
      for (int n = 0; n < N; ++n) {
        for (int r = q.r0; r < q.r1; ++r) {
          for (int col = q.c0; col < q.c1; ++col) {
            const double x_hat = (x.data_at(n, c, r, col) - mean) / stdv;
            act[x.offset(n, c, r, col)] = std::max(0.0,
                blobs[2]->cpu_data()[p * C + c] * x_hat
                + blobs[3]->cpu_data()[p * C + c]);
          }
        }
      }
    }
  }
  vector<double> y(x.count());
  for (int p = 0; p < patches.size(); ++p) {
    const RegionPatch& q = patches[p];
    for (int n = 0; n < N; ++n) {
      for (int o = 0; o < C; ++o) {
        for (int r = q.r0; r < q.r1; ++r) {
          for (int col = q.c0; col < q.c1; ++col) {
            double sum = blobs[1]->cpu_data()[p * C + o]
                + x.data_at(n, o, r, col);
            for (int c = 0; c < C; ++c) {
              for (int u = 0; u < kernel; ++u) {
                for (int v = 0; v < kernel; ++v) {
                  const int rr = r + u - pad, cc = col + v - pad;
                  if (rr >= q.r0 && rr < q.r1 && cc >= q.c0 && cc < q.c1) {
                    sum += blobs[0]->cpu_data()[
                        (((p * C + o) * C + c) * kernel + u) * kernel + v]
                        * act[x.offset(n, c, rr, cc)];
                  }
                }
              }
            }
            y[x.offset(n, o, r, col)] = sum;
          }
        }
      }
    }
  }
  return y;
}

// Sets each patch's shift beta_p[c] to put the ReLU kink in the middle of
// the widest gap between the sorted gamma * x_hat values of that channel:
// finite-difference steps then never cross the kink, and the ReLU passes
// some values and blocks others.
template <typename Dtype>
static void ShiftsAwayFromReLUKink(const Blob<Dtype>& x,
    const vector<shared_ptr<Blob<Dtype> > >& blobs, int grid_h, int grid_w,
    bool use_global_stats, double eps) {
  const int C = x.channels();
  const vector<RegionPatch> patches = GridPatches(x.height(), x.width(),
      grid_h, grid_w);
  for (int p = 0; p < patches.size(); ++p) {
    const RegionPatch& q = patches[p];
    for (int c = 0; c < C; ++c) {
      double mean, stdv;
      PatchStats(x, blobs, q, p, c, use_global_stats, eps, &mean, &stdv);
      vector<double> scaled;
      for (int n = 0; n < x.num(); ++n) {
        for (int r = q.r0; r < q.r1; ++r) {
          for (int col = q.c0; col < q.c1; ++col) {
            scaled.push_back(blobs[2]->cpu_data()[p * C + c]
                * (x.data_at(n, c, r, col) - mean) / stdv);
          }
        }
      }
      std::sort(scaled.begin(), scaled.end());
      CHECK_GT(scaled.size(), 1) << "a patch channel needs 2 values";
      int widest = 0;
      for (int i = 1; i + 1 < scaled.size(); ++i) {
        if (scaled[i + 1] - scaled[i] > scaled[widest + 1] - scaled[widest]) {
          widest = i;
        }
      }
      blobs[3]->mutable_cpu_data()[p * C + c] =
          -(scaled[widest] + scaled[widest + 1]) / 2;
    }
  }
}

// Shows GradientChecker, which perturbs every blob of a layer, only a Region
// layer's learnable blobs 0-3: with global statistics the running statistics
// (blobs 4-6) change the output but, being statistics, get no gradient.
template <typename Dtype>
class RegionLearnableBlobsView : public Layer<Dtype> {
 public:
  explicit RegionLearnableBlobsView(RegionLayer<Dtype>* region)
      : Layer<Dtype>(region->layer_param()), region_(region) {
    this->blobs_.assign(region->blobs().begin(), region->blobs().begin() + 4);
  }
  virtual void Reshape(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top) { region_->Reshape(bottom, top); }
  virtual inline const char* type() const { return "RegionLearnableBlobs"; }

 protected:
  virtual void Forward_cpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top) { region_->Forward(bottom, top); }
  virtual void Forward_gpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top) { region_->Forward(bottom, top); }
  virtual void Backward_cpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom) {
    region_->Backward(top, propagate_down, bottom);
  }
  virtual void Backward_gpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom) {
    region_->Backward(top, propagate_down, bottom);
  }

 private:
  RegionLayer<Dtype>* region_;
};

template <typename TypeParam>
class RegionLayerTest : public MultiDeviceTest<TypeParam> {
  typedef typename TypeParam::Dtype Dtype;

 protected:
  RegionLayerTest()
      : blob_bottom_(new Blob<Dtype>()), blob_top_(new Blob<Dtype>()),
        tolerance_(sizeof(Dtype) == 4 ? 1e-4 : 1e-10) {
    blob_bottom_vec_.push_back(blob_bottom_);
    blob_top_vec_.push_back(blob_top_);
  }
  virtual ~RegionLayerTest() { delete blob_bottom_; delete blob_top_; }

  static void FillGaussian(Blob<Dtype>* blob) {
    FillerParameter filler_param;
    GaussianFiller<Dtype> filler(filler_param);
    filler.Fill(blob);
  }

  // Region parameters with fillers larger than the defaults, so that every
  // term of the forward pass and of the gradient matters.
  static LayerParameter RegionParam(int grid_h, int grid_w, int kernel,
      Phase phase) {
    LayerParameter param;
    param.set_phase(phase);
    RegionParameter* region_param = param.mutable_region_param();
    region_param->set_grid_h(grid_h);
    region_param->set_grid_w(grid_w);
    region_param->set_kernel_size(kernel);
    region_param->mutable_weight_filler()->set_type("gaussian");
    region_param->mutable_weight_filler()->set_std(0.2);
    region_param->mutable_bias_filler()->set_type("gaussian");
    region_param->mutable_bias_filler()->set_std(0.2);
    region_param->mutable_scale_filler()->set_type("uniform");
    region_param->mutable_scale_filler()->set_min(0.5);
    region_param->mutable_scale_filler()->set_max(1.5);
    region_param->mutable_shift_filler()->set_type("gaussian");
    region_param->mutable_shift_filler()->set_std(0.5);
    return param;
  }

  // A TEST-phase layer (global statistics) whose parameters and running
  // statistics come from `iterations` TRAIN forwards on gaussian batches
  // shaped like blob_bottom_.
  void SetUpTrainedTestLayer(const LayerParameter& train_param,
      int iterations, RegionLayer<Dtype>* test_layer) {
    RegionLayer<Dtype> train_layer(train_param);
    Blob<Dtype> batch, out;
    batch.ReshapeLike(*blob_bottom_);
    vector<Blob<Dtype>*> bottom(1, &batch), top(1, &out);
    train_layer.SetUp(bottom, top);
    for (int i = 0; i < iterations; ++i) {
      FillGaussian(&batch);
      train_layer.Forward(bottom, top);
    }
    test_layer->SetUp(blob_bottom_vec_, blob_top_vec_);
    for (int i = 0; i < 7; ++i) {
      test_layer->blobs()[i]->CopyFrom(*train_layer.blobs()[i]);
    }
  }

  void ExpectTopNear(const vector<double>& expected) {
    ASSERT_EQ(expected.size(), blob_top_->count());
    for (int i = 0; i < blob_top_->count(); ++i) {
      EXPECT_NEAR(blob_top_->cpu_data()[i], expected[i],
          tolerance_ * std::max(1.0, std::fabs(expected[i]))) << "at " << i;
    }
  }

  // Forward against ReferenceForward: TRAIN (batch statistics) or TEST
  // (global statistics after 3 TRAIN forwards).
  void CheckForward(int num, int channels, int height, int width, int grid_h,
      int grid_w, int kernel, Phase phase) {
    blob_bottom_->Reshape(num, channels, height, width);
    FillGaussian(blob_bottom_);
    LayerParameter param = RegionParam(grid_h, grid_w, kernel, TRAIN);
    if (phase == TRAIN) {
      RegionLayer<Dtype> layer(param);
      layer.SetUp(blob_bottom_vec_, blob_top_vec_);
      layer.Forward(blob_bottom_vec_, blob_top_vec_);
      ExpectTopNear(ReferenceForward(*blob_bottom_, layer.blobs(), grid_h,
          grid_w, kernel, false, 1e-5));
    } else {
      LayerParameter test_param = param;
      test_param.set_phase(TEST);
      RegionLayer<Dtype> layer(test_param);
      SetUpTrainedTestLayer(param, 3, &layer);
      layer.Forward(blob_bottom_vec_, blob_top_vec_);
      ExpectTopNear(ReferenceForward(*blob_bottom_, layer.blobs(), grid_h,
          grid_w, kernel, true, 1e-5));
    }
  }

  // GradientChecker over x and the learnable blobs. TRAIN checks all seven
  // blobs (the statistics must get zero gradient); TEST, after 3 TRAIN
  // forwards, checks x and blobs 0-3.
  void CheckGradients(int num, int channels, int height, int width,
      int grid_h, int grid_w, int kernel, Phase phase) {
    blob_bottom_->Reshape(num, channels, height, width);
    FillGaussian(blob_bottom_);
    caffe_scal(blob_bottom_->count(), Dtype(0.5),
        blob_bottom_->mutable_cpu_data());
    LayerParameter param = RegionParam(grid_h, grid_w, kernel, TRAIN);
    // In float, rounding of the objective (half the sum of ~200 squared
    // outputs, ~100) alone moves the finite differences by up to ~1.5e-3.
    GradientChecker<Dtype> checker(1e-2, sizeof(Dtype) == 4 ? 4e-3 : 1e-3);
    if (phase == TRAIN) {
      RegionLayer<Dtype> layer(param);
      layer.SetUp(blob_bottom_vec_, blob_top_vec_);
      ShiftsAwayFromReLUKink(*blob_bottom_, layer.blobs(), grid_h, grid_w,
          false, 1e-5);
      checker.CheckGradient(&layer, blob_bottom_vec_, blob_top_vec_);
    } else {
      LayerParameter test_param = param;
      test_param.set_phase(TEST);
      RegionLayer<Dtype> layer(test_param);
      SetUpTrainedTestLayer(param, 3, &layer);
      ShiftsAwayFromReLUKink(*blob_bottom_, layer.blobs(), grid_h, grid_w,
          true, 1e-5);
      RegionLearnableBlobsView<Dtype> view(&layer);
      checker.CheckGradient(&view, blob_bottom_vec_, blob_top_vec_);
    }
  }

  Blob<Dtype>* const blob_bottom_;
  Blob<Dtype>* const blob_top_;
  vector<Blob<Dtype>*> blob_bottom_vec_;
  vector<Blob<Dtype>*> blob_top_vec_;
  const double tolerance_;
};

TYPED_TEST_CASE(RegionLayerTest, TestDtypesAndDevices);

TYPED_TEST(RegionLayerTest, TestSetUpDefaults) {
  typedef typename TypeParam::Dtype Dtype;
  this->blob_bottom_->Reshape(2, 3, 16, 16);
  LayerParameter param;
  RegionLayer<Dtype> layer(param);
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  EXPECT_EQ(this->blob_top_->shape(), this->blob_bottom_->shape());
  ASSERT_EQ(layer.blobs().size(), 7);
  const int weight_dims[] = {64, 3, 3, 3, 3};
  EXPECT_EQ(layer.blobs()[0]->shape(),
      vector<int>(weight_dims, weight_dims + 5));
  for (int i = 1; i < 6; ++i) {
    EXPECT_EQ(layer.blobs()[i]->shape(), (vector<int>{64, 3})) << "blob " << i;
  }
  EXPECT_EQ(layer.blobs()[6]->shape(), vector<int>(1, 1));
  // Default fillers: weights gaussian std 0.01, bias 0, gamma 1, beta 0;
  // statistics start at 0.
  const Blob<Dtype>& weights = *layer.blobs()[0];
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < weights.count(); ++i) {
    sum += weights.cpu_data()[i];
    sum_sq += weights.cpu_data()[i] * weights.cpu_data()[i];
  }
  const double mean = sum / weights.count();
  EXPECT_NEAR(mean, 0, 1e-3);
  EXPECT_NEAR(std::sqrt(sum_sq / weights.count() - mean * mean), 0.01, 1e-3);
  const Dtype expected_constant[] = {0, 1, 0, 0, 0, 0};
  for (int i = 1; i < 7; ++i) {
    for (int k = 0; k < layer.blobs()[i]->count(); ++k) {
      EXPECT_EQ(layer.blobs()[i]->cpu_data()[k], expected_constant[i - 1])
          << "blob " << i;
    }
  }
  // Blobs 0-3 learn; 4-6 are statistics with lr_mult = decay_mult = 0.
  ASSERT_EQ(layer.layer_param().param_size(), 7);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(layer.layer_param().param(i).lr_mult(), i < 4 ? 1 : 0);
    EXPECT_EQ(layer.layer_param().param(i).decay_mult(), i < 4 ? 1 : 0);
  }
}

TYPED_TEST(RegionLayerTest, TestPatchBoundaries) {
  typedef typename TypeParam::Dtype Dtype;
  // With gamma = beta = 0 and zero 1x1 weights, y = x + bias_p: the bias
  // (p + 1) marks which patch each pixel was assigned to.
  const int shapes[][4] = {{214, 214, 8, 8}, {7, 7, 3, 3}, {5, 9, 2, 4}};
  for (int s = 0; s < 3; ++s) {
    const int H = shapes[s][0], W = shapes[s][1];
    const int grid_h = shapes[s][2], grid_w = shapes[s][3];
    this->blob_bottom_->Reshape(2, 1, H, W);
    this->FillGaussian(this->blob_bottom_);
    LayerParameter param;
    param.mutable_region_param()->set_grid_h(grid_h);
    param.mutable_region_param()->set_grid_w(grid_w);
    param.mutable_region_param()->set_kernel_size(1);
    param.mutable_region_param()->mutable_weight_filler()->set_type("constant");
    param.mutable_region_param()->mutable_scale_filler()->set_value(0);
    RegionLayer<Dtype> layer(param);
    layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
    for (int p = 0; p < grid_h * grid_w; ++p) {
      layer.blobs()[1]->mutable_cpu_data()[p] = p + 1;
    }
    layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
    const vector<RegionPatch> patches = GridPatches(H, W, grid_h, grid_w);
    for (int p = 0; p < patches.size(); ++p) {
      const RegionPatch& q = patches[p];
      EXPECT_GE(q.r1 - q.r0, H / grid_h);
      EXPECT_LE(q.r1 - q.r0, H / grid_h + 1);
      for (int n = 0; n < 2; ++n) {
        for (int r = q.r0; r < q.r1; ++r) {
          for (int c = q.c0; c < q.c1; ++c) {
            EXPECT_NEAR(this->blob_top_->data_at(n, 0, r, c)
                - this->blob_bottom_->data_at(n, 0, r, c), p + 1, 1e-4)
                << H << "x" << W << " pixel (" << r << ", " << c << ")";
          }
        }
      }
    }
  }
}

TYPED_TEST(RegionLayerTest, TestForwardTrain) {
  this->CheckForward(2, 3, 7, 7, 3, 3, 3, TRAIN);
  this->CheckForward(3, 2, 5, 9, 2, 4, 1, TRAIN);
  this->CheckForward(2, 2, 5, 9, 2, 4, 3, TRAIN);
}

TYPED_TEST(RegionLayerTest, TestForwardTest) {
  this->CheckForward(2, 3, 7, 7, 3, 3, 3, TEST);
  this->CheckForward(3, 2, 5, 9, 2, 4, 1, TEST);
}

// One patch of the Region layer against a real BatchNormLayer run on that
// patch's data: normalised values and running statistics after each of two
// TRAIN forwards, then the normalised values in TEST. With K = 1 identity
// weights, zero bias, gamma 1 and beta 10, the ReLU passes everything and
// y = x_hat + 10 + x.
template <typename Dtype>
static void CompareWithBatchNorm(RegionLayer<Dtype>* region,
    BatchNormLayer<Dtype>* bn, int p, const RegionPatch& q, double tol) {
  Blob<Dtype> x(3, 2, 5, 9), y, patch(3, 2, q.r1 - q.r0, q.c1 - q.c0), bn_top;
  vector<Blob<Dtype>*> x_vec(1, &x), y_vec(1, &y);
  vector<Blob<Dtype>*> patch_vec(1, &patch), bn_top_vec(1, &bn_top);
  FillerParameter filler_param;
  GaussianFiller<Dtype> filler(filler_param);
  filler.Fill(&x);
  for (int n = 0; n < patch.num(); ++n) {
    for (int c = 0; c < patch.channels(); ++c) {
      for (int i = 0; i < patch.height(); ++i) {
        for (int j = 0; j < patch.width(); ++j) {
          patch.mutable_cpu_data()[patch.offset(n, c, i, j)] =
              x.data_at(n, c, q.r0 + i, q.c0 + j);
        }
      }
    }
  }
  region->Forward(x_vec, y_vec);
  bn->Forward(patch_vec, bn_top_vec);
  for (int n = 0; n < patch.num(); ++n) {
    for (int c = 0; c < patch.channels(); ++c) {
      for (int i = 0; i < patch.height(); ++i) {
        for (int j = 0; j < patch.width(); ++j) {
          EXPECT_NEAR(y.data_at(n, c, q.r0 + i, q.c0 + j)
              - x.data_at(n, c, q.r0 + i, q.c0 + j) - 10,
              bn_top.data_at(n, c, i, j), tol);
        }
      }
    }
  }
  const int C = patch.channels();
  for (int c = 0; c < C; ++c) {
    EXPECT_NEAR(region->blobs()[4]->cpu_data()[p * C + c],
        bn->blobs()[0]->cpu_data()[c], tol);
    EXPECT_NEAR(region->blobs()[5]->cpu_data()[p * C + c],
        bn->blobs()[1]->cpu_data()[c], tol);
  }
  EXPECT_NEAR(region->blobs()[6]->cpu_data()[0], bn->blobs()[2]->cpu_data()[0],
      tol);
}

TYPED_TEST(RegionLayerTest, TestMatchesBatchNormOnAPatch) {
  typedef typename TypeParam::Dtype Dtype;
  const int C = 2, grid_h = 2, grid_w = 4;
  const int p = 7;  // rows [2, 5), columns [6, 9) of a 5 x 9 map: 3 x 3
  const RegionPatch q = GridPatches(5, 9, grid_h, grid_w)[p];
  LayerParameter region_param;
  RegionParameter* rp = region_param.mutable_region_param();
  rp->set_grid_h(grid_h);
  rp->set_grid_w(grid_w);
  rp->set_kernel_size(1);
  rp->set_moving_average_fraction(0.9);
  rp->set_eps(1e-3);
  rp->mutable_shift_filler()->set_value(10);
  LayerParameter bn_param;
  bn_param.mutable_batch_norm_param()->set_moving_average_fraction(0.9);
  bn_param.mutable_batch_norm_param()->set_eps(1e-3);
  RegionLayer<Dtype> region(region_param);
  BatchNormLayer<Dtype> bn(bn_param);
  Blob<Dtype> x(3, C, 5, 9), y, patch(3, C, 3, 3), bn_top;
  vector<Blob<Dtype>*> x_vec(1, &x), y_vec(1, &y);
  vector<Blob<Dtype>*> patch_vec(1, &patch), bn_top_vec(1, &bn_top);
  region.SetUp(x_vec, y_vec);
  bn.SetUp(patch_vec, bn_top_vec);
  Blob<Dtype>& weights = *region.blobs()[0];
  caffe_set(weights.count(), Dtype(0), weights.mutable_cpu_data());
  for (int k = 0; k < grid_h * grid_w; ++k) {
    for (int c = 0; c < C; ++c) {
      weights.mutable_cpu_data()[(k * C + c) * C + c] = 1;
    }
  }
  const double tol = this->tolerance_ * 10;
  CompareWithBatchNorm(&region, &bn, p, q, tol);
  CompareWithBatchNorm(&region, &bn, p, q, tol);
  EXPECT_NEAR(region.blobs()[6]->cpu_data()[0],
      1 + region_param.region_param().moving_average_fraction(), tol);
  // TEST phase: both normalise with their running statistics.
  region_param.set_phase(TEST);
  bn_param.set_phase(TEST);
  RegionLayer<Dtype> region_test(region_param);
  BatchNormLayer<Dtype> bn_test(bn_param);
  region_test.SetUp(x_vec, y_vec);
  bn_test.SetUp(patch_vec, bn_top_vec);
  for (int i = 0; i < 7; ++i) {
    region_test.blobs()[i]->CopyFrom(*region.blobs()[i]);
  }
  for (int i = 0; i < 3; ++i) {
    bn_test.blobs()[i]->CopyFrom(*bn.blobs()[i]);
  }
  CompareWithBatchNorm(&region_test, &bn_test, p, q, tol);
}

// Global statistics: image n's output depends on image n only, whatever the
// other images hold or how many there are.
TYPED_TEST(RegionLayerTest, TestImagesIndependentWithGlobalStats) {
  typedef typename TypeParam::Dtype Dtype;
  this->blob_bottom_->Reshape(3, 2, 7, 7);
  LayerParameter param = this->RegionParam(3, 3, 3, TRAIN);
  LayerParameter test_param = param;
  test_param.set_phase(TEST);
  RegionLayer<Dtype> layer(test_param);
  this->SetUpTrainedTestLayer(param, 3, &layer);
  this->FillGaussian(this->blob_bottom_);
  layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
  Blob<Dtype> batch_top;
  batch_top.CopyFrom(*this->blob_top_, false, true);
  const int image = 2 * 7 * 7;
  // Each image alone (N = 1) gives the rows of the batch's output.
  Blob<Dtype> single(1, 2, 7, 7), single_top;
  vector<Blob<Dtype>*> single_bottom_vec(1, &single),
      single_top_vec(1, &single_top);
  for (int n = 0; n < 3; ++n) {
    caffe_copy(image, this->blob_bottom_->cpu_data() + n * image,
        single.mutable_cpu_data());
    layer.Forward(single_bottom_vec, single_top_vec);
    for (int k = 0; k < image; ++k) {
      EXPECT_NEAR(single_top.cpu_data()[k], batch_top.cpu_data()[n * image + k],
          this->tolerance_) << "image " << n;
    }
  }
  // Changing image 1 changes image 1's output and nothing else.
  caffe_scal(image, Dtype(-2), this->blob_bottom_->mutable_cpu_data() + image);
  layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
  double changed = 0;
  for (int k = 0; k < 3 * image; ++k) {
    const double d = std::fabs(this->blob_top_->cpu_data()[k]
        - batch_top.cpu_data()[k]);
    if (k / image == 1) {
      changed = std::max(changed, d);
    } else {
      EXPECT_NEAR(d, 0, this->tolerance_) << "element " << k;
    }
  }
  EXPECT_GT(changed, 0.5);
}

// Batch statistics: permuting the images permutes the output (images mix
// only through BatchNorm's batch statistics, which ignore the order).
TYPED_TEST(RegionLayerTest, TestBatchPermutationTrain) {
  typedef typename TypeParam::Dtype Dtype;
  this->blob_bottom_->Reshape(3, 2, 5, 9);
  this->FillGaussian(this->blob_bottom_);
  RegionLayer<Dtype> layer(this->RegionParam(2, 4, 3, TRAIN));
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
  Blob<Dtype> top, permuted;
  top.CopyFrom(*this->blob_top_, false, true);
  permuted.ReshapeLike(*this->blob_bottom_);
  const int image = 2 * 5 * 9, order[] = {2, 0, 1};
  for (int n = 0; n < 3; ++n) {
    caffe_copy(image, this->blob_bottom_->cpu_data() + order[n] * image,
        permuted.mutable_cpu_data() + n * image);
  }
  vector<Blob<Dtype>*> permuted_vec(1, &permuted);
  layer.Forward(permuted_vec, this->blob_top_vec_);
  for (int n = 0; n < 3; ++n) {
    for (int k = 0; k < image; ++k) {
      EXPECT_NEAR(this->blob_top_->cpu_data()[n * image + k],
          top.cpu_data()[order[n] * image + k], this->tolerance_)
          << "image " << n;
    }
  }
}

TYPED_TEST(RegionLayerTest, TestGradientTrain) {
  this->CheckGradients(2, 2, 7, 7, 3, 3, 3, TRAIN);
  this->CheckGradients(2, 2, 5, 9, 2, 4, 1, TRAIN);
  this->CheckGradients(2, 2, 5, 9, 2, 4, 3, TRAIN);
}

TYPED_TEST(RegionLayerTest, TestGradientTest) {
  this->CheckGradients(2, 2, 7, 7, 3, 3, 3, TEST);
  this->CheckGradients(2, 2, 5, 9, 2, 4, 1, TEST);
}

// Bad configurations stop with a message that says what is wrong.
class RegionLayerDeathTest : public ::testing::Test {
 protected:
  void ExpectSetUpDies(const LayerParameter& param, int height, int width,
      const char* message) {
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";
    Blob<float> bottom(1, 2, height, width), top;
    vector<Blob<float>*> bottom_vec(1, &bottom), top_vec(1, &top);
    RegionLayer<float> layer(param);
    EXPECT_DEATH(layer.SetUp(bottom_vec, top_vec), message);
  }
};

TEST_F(RegionLayerDeathTest, TestGridLargerThanMap) {
  LayerParameter param;
  param.mutable_region_param()->set_grid_h(4);
  param.mutable_region_param()->set_grid_w(2);
  ExpectSetUpDies(param, 3, 9, "grid_h = 4 cuts height 3 into patches of "
      "less than 1 pixel");
  param.mutable_region_param()->set_grid_h(2);
  param.mutable_region_param()->set_grid_w(10);
  ExpectSetUpDies(param, 3, 9, "grid_w = 10 cuts width 9 into patches of "
      "less than 1 pixel");
}

TEST_F(RegionLayerDeathTest, TestEvenKernel) {
  LayerParameter param;
  param.mutable_region_param()->set_grid_h(1);
  param.mutable_region_param()->set_grid_w(1);
  param.mutable_region_param()->set_kernel_size(2);
  ExpectSetUpDies(param, 4, 4, "kernel_size must be odd and positive");
}

TEST_F(RegionLayerDeathTest, TestLearnedStatistics) {
  LayerParameter param;
  param.mutable_region_param()->set_grid_h(1);
  param.mutable_region_param()->set_grid_w(1);
  for (int i = 0; i < 5; ++i) {
    param.add_param()->set_lr_mult(1);
  }
  ExpectSetUpDies(param, 4, 4, "blob 4 holds BatchNorm statistics");
}

}  // namespace caffe
