#include <cmath>
#include <vector>

#include "gtest/gtest.h"

#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/layers/msr_loss_layer.hpp"

#include "caffe/test/test_caffe_main.hpp"
#include "caffe/test/test_gradient_check_util.hpp"
#include "caffe/test/test_msr_loss_reference.hpp"

namespace caffe {

template <typename TypeParam>
class MSRLossLayerTest : public MultiDeviceTest<TypeParam> {
  typedef typename TypeParam::Dtype Dtype;

 protected:
  MSRLossLayerTest()
      : blob_bottom_data_(new Blob<Dtype>()),
        blob_bottom_label_(new Blob<Dtype>()),
        blob_top_loss_(new Blob<Dtype>()),
        blob_top_au_loss_(new Blob<Dtype>()) {
    blob_bottom_vec_.push_back(blob_bottom_data_);
    blob_bottom_vec_.push_back(blob_bottom_label_);
    blob_top_vec_.push_back(blob_top_loss_);
    blob_top_vec_.push_back(blob_top_au_loss_);
  }
  virtual ~MSRLossLayerTest() {
    delete blob_bottom_data_;
    delete blob_bottom_label_;
    delete blob_top_loss_;
    delete blob_top_au_loss_;
  }

  // Random logits of `shape` and the reference label pattern.
  void FillBottoms(const vector<int>& shape, bool with_ignored) {
    blob_bottom_data_->Reshape(shape);
    blob_bottom_label_->Reshape(shape);
    FillMSRLogits(blob_bottom_data_);
    FillMSRLabels(with_ignored, blob_bottom_label_);
  }

  LayerParameter MakeParam(bool with_ignored) {
    LayerParameter param;
    if (with_ignored) {
      param.mutable_loss_param()->set_ignore_label(kMSRIgnore);
    }
    return param;
  }

  // Loss, L_cur top and bottom diff against the reference loops, with loss
  // weight kLossWeight scaling both the returned loss and the gradient.
  void TestForwardBackward(const vector<int>& shape, bool with_ignored) {
    const Dtype kLossWeight = 3.7;
    FillBottoms(shape, with_ignored);
    LayerParameter param = MakeParam(with_ignored);
    param.add_loss_weight(kLossWeight);
    param.add_loss_weight(0);
    MSRLossLayer<Dtype> layer(param);
    layer.SetUp(blob_bottom_vec_, blob_top_vec_);
    const Dtype weighted_loss = layer.Forward(blob_bottom_vec_, blob_top_vec_);
    vector<double> l_cur, grad;
    MSRReference(*blob_bottom_data_, *blob_bottom_label_, with_ignored,
                 &l_cur, &grad);
    double loss = 0;
    const int num_aus = l_cur.size();
    ASSERT_EQ(num_aus, blob_top_au_loss_->count());
    for (int i = 0; i < num_aus; ++i) {
      EXPECT_NEAR(l_cur[i], blob_top_au_loss_->cpu_data()[i], 1e-4) << i;
      loss += l_cur[i];
    }
    EXPECT_GT(loss, 0);
    EXPECT_NEAR(loss, blob_top_loss_->cpu_data()[0], 1e-4 * loss);
    EXPECT_NEAR(kLossWeight * loss, weighted_loss, 1e-4 * loss);
    vector<bool> propagate_down(2, false);
    propagate_down[0] = true;
    layer.Backward(blob_top_vec_, propagate_down, blob_bottom_vec_);
    const Dtype* diff = blob_bottom_data_->cpu_diff();
    for (int k = 0; k < blob_bottom_data_->count(); ++k) {
      EXPECT_NEAR(kLossWeight * grad[k], diff[k], 1e-5) << k;
    }
  }

  void TestGradient(const vector<int>& shape, bool with_ignored) {
    FillBottoms(shape, with_ignored);
    MSRLossLayer<Dtype> layer(MakeParam(with_ignored));
    GradientChecker<Dtype> checker(1e-2, 1e-2, 1701);
    // Both tops: the loss and each L_cur^(i), w.r.t. the logits.
    checker.CheckGradientExhaustive(&layer, blob_bottom_vec_, blob_top_vec_, 0);
  }

  Blob<Dtype>* const blob_bottom_data_;
  Blob<Dtype>* const blob_bottom_label_;
  Blob<Dtype>* const blob_top_loss_;
  Blob<Dtype>* const blob_top_au_loss_;
  vector<Blob<Dtype>*> blob_bottom_vec_;
  vector<Blob<Dtype>*> blob_top_vec_;
};

TYPED_TEST_CASE(MSRLossLayerTest, TestDtypesAndDevices);

TYPED_TEST(MSRLossLayerTest, TestSetUpShapes) {
  typedef typename TypeParam::Dtype Dtype;
  this->FillBottoms(vector<int>{8, 6, 1, 1}, true);
  MSRLossLayer<Dtype> layer(this->MakeParam(true));
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  EXPECT_EQ(0, this->blob_top_loss_->num_axes());
  EXPECT_EQ(vector<int>(1, 6), this->blob_top_au_loss_->shape());
  // Without an explicit loss_weight, only top[0] is a loss.
  EXPECT_EQ(Dtype(1), layer.loss(0));
  EXPECT_EQ(Dtype(0), layer.loss(1));
}

TYPED_TEST(MSRLossLayerTest, TestForwardBackward2D) {
  this->TestForwardBackward(vector<int>{8, 6}, false);
}

TYPED_TEST(MSRLossLayerTest, TestForwardBackward4DIgnore) {
  this->TestForwardBackward(vector<int>{8, 6, 1, 1}, true);
}

TYPED_TEST(MSRLossLayerTest, TestForwardBackwardOtherShapeIgnore) {
  this->TestForwardBackward(vector<int>{11, 4}, true);
}

// The pattern's special AUs by hand: all-positive and all-negative AUs have
// weights 1 (gamma undefined), a fully ignored AU has L_cur = 0 and no
// gradient, and gamma = 2 doubles the positives' weight.
TYPED_TEST(MSRLossLayerTest, TestSpecialAUs) {
  typedef typename TypeParam::Dtype Dtype;
  this->FillBottoms(vector<int>{8, 6}, true);
  MSRLossLayer<Dtype> layer(this->MakeParam(true));
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
  layer.Backward(this->blob_top_vec_, vector<bool>{true, false},
                 this->blob_bottom_vec_);
  const Dtype* x = this->blob_bottom_data_->cpu_data();
  const Dtype* l_cur = this->blob_top_au_loss_->cpu_data();
  const Dtype* diff = this->blob_bottom_data_->cpu_diff();
  double all_pos = 0, all_neg = 0, au0 = 0;
  for (int j = 0; j < 8; ++j) {
    all_pos -= std::log(1 / (1 + std::exp(-x[j * 6 + 1]))) / 8;
    all_neg -= std::log(1 - 1 / (1 + std::exp(-x[j * 6 + 2]))) / 8;
    EXPECT_EQ(Dtype(0), diff[j * 6 + 3]);
  }
  // AU 0: positives at samples 0 and 5, negatives at 1, 2, 4, 6; m = 6.
  for (int j : {0, 5}) au0 -= 2 * std::log(1 / (1 + std::exp(-x[j * 6]))) / 6;
  for (int j : {1, 2, 4, 6}) {
    au0 -= std::log(1 - 1 / (1 + std::exp(-x[j * 6]))) / 6;
  }
  EXPECT_EQ(Dtype(0), diff[3 * 6]);
  EXPECT_EQ(Dtype(0), diff[7 * 6]);
  EXPECT_NEAR(au0, l_cur[0], 1e-5);
  EXPECT_NEAR(all_pos, l_cur[1], 1e-5);
  EXPECT_NEAR(all_neg, l_cur[2], 1e-5);
  EXPECT_EQ(Dtype(0), l_cur[3]);
}

// Only the loss top, with logits far outside exp's range.
TYPED_TEST(MSRLossLayerTest, TestLossTopOnlyStableForLargeLogits) {
  typedef typename TypeParam::Dtype Dtype;
  this->FillBottoms(vector<int>{8, 6, 1, 1}, true);
  Dtype* x = this->blob_bottom_data_->mutable_cpu_data();
  x[0] = 200;    // positive, log s(x) ~ 0
  x[1] = -200;   // positive, log s(x) ~ -200
  vector<Blob<Dtype>*> top(1, this->blob_top_loss_);
  MSRLossLayer<Dtype> layer(this->MakeParam(true));
  layer.SetUp(this->blob_bottom_vec_, top);
  layer.Forward(this->blob_bottom_vec_, top);
  const Dtype loss = this->blob_top_loss_->cpu_data()[0];
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 200 / 8.);
  layer.Backward(top, vector<bool>{true, false}, this->blob_bottom_vec_);
  EXPECT_NEAR(0, this->blob_bottom_data_->cpu_diff()[0], 1e-6);
  // AU 1 is all positive (weight 1, m = 8): s(-200) - 1 = -1.
  EXPECT_NEAR(-1. / 8, this->blob_bottom_data_->cpu_diff()[1], 1e-6);
}

TYPED_TEST(MSRLossLayerTest, TestGradient2D) {
  this->TestGradient(vector<int>{8, 6}, false);
}

TYPED_TEST(MSRLossLayerTest, TestGradient4DIgnore) {
  this->TestGradient(vector<int>{8, 6, 1, 1}, true);
}

TYPED_TEST(MSRLossLayerTest, TestGradientOtherShapeIgnore) {
  this->TestGradient(vector<int>{5, 9}, true);
}

TYPED_TEST(MSRLossLayerTest, TestBadLabelDies) {
  typedef typename TypeParam::Dtype Dtype;
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  this->FillBottoms(vector<int>{8, 6}, true);
  MSRLossLayer<Dtype> layer(this->MakeParam(true));
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  this->blob_bottom_label_->mutable_cpu_data()[2 * 6 + 4] = 0.5;
  EXPECT_DEATH(layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_),
      "MSRLoss: label 0.5 at \\(sample 2, AU 4\\) is not 0, 1 or "
      "loss_param.ignore_label 999");
  this->blob_bottom_label_->mutable_cpu_data()[2 * 6 + 4] = 1;
  this->blob_bottom_label_->mutable_cpu_data()[7 * 6 + 5] = 2;
  EXPECT_DEATH(layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_),
      "MSRLoss: label 2 at \\(sample 7, AU 5\\)");
}

TYPED_TEST(MSRLossLayerTest, TestIgnoreLabelWithoutIgnoreParamDies) {
  typedef typename TypeParam::Dtype Dtype;
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  this->FillBottoms(vector<int>{8, 6}, true);
  MSRLossLayer<Dtype> layer(this->MakeParam(false));
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  EXPECT_DEATH(layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_),
      "MSRLoss: label 999 at \\(sample 0, AU 3\\) is not 0 or 1");
}

}  // namespace caffe
