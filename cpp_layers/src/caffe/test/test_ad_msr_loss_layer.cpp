#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/layers/ad_msr_loss_layer.hpp"

#include "caffe/test/test_caffe_main.hpp"
#include "caffe/test/test_gradient_check_util.hpp"
#include "caffe/test/test_msr_loss_reference.hpp"

namespace caffe {

const MSRLossParameter_BetaMode kBetaModes[] = {
    MSRLossParameter_BetaMode_CLAMPED, MSRLossParameter_BetaMode_PAPER_ZERO,
    MSRLossParameter_BetaMode_RAW};

template <typename TypeParam>
class AdMSRLossLayerTest : public MultiDeviceTest<TypeParam> {
  typedef typename TypeParam::Dtype Dtype;

 protected:
  AdMSRLossLayerTest()
      : blob_bottom_data_(new Blob<Dtype>()),
        blob_bottom_label_(new Blob<Dtype>()),
        blob_top_loss_(new Blob<Dtype>()),
        blob_top_beta_(new Blob<Dtype>()),
        blob_top_au_loss_(new Blob<Dtype>()) {
    blob_bottom_vec_.push_back(blob_bottom_data_);
    blob_bottom_vec_.push_back(blob_bottom_label_);
    blob_top_vec_.push_back(blob_top_loss_);
    blob_top_vec_.push_back(blob_top_beta_);
    blob_top_vec_.push_back(blob_top_au_loss_);
    FillBottoms(vector<int>{8, 6}, true);
  }
  virtual ~AdMSRLossLayerTest() {
    delete blob_bottom_data_;
    delete blob_bottom_label_;
    delete blob_top_loss_;
    delete blob_top_beta_;
    delete blob_top_au_loss_;
  }

  void FillBottoms(const vector<int>& shape, bool with_ignored) {
    blob_bottom_data_->Reshape(shape);
    blob_bottom_label_->Reshape(shape);
    FillMSRLogits(blob_bottom_data_);
    FillMSRLabels(with_ignored, blob_bottom_label_);
  }

  LayerParameter MakeParam(bool with_ignored, MSRLossParameter_BetaMode mode,
                           Phase phase, float alpha = 0.5) {
    LayerParameter param;
    param.set_phase(phase);
    if (with_ignored) {
      param.mutable_loss_param()->set_ignore_label(kMSRIgnore);
    }
    param.mutable_msr_loss_param()->set_alpha(alpha);
    param.mutable_msr_loss_param()->set_beta_mode(mode);
    return param;
  }

  // Presets the state blobs of a set-up layer: L_pre and the update count.
  void SetState(AdMSRLossLayer<Dtype>* layer, const vector<double>& l_pre,
                double updates) {
    Dtype* state = layer->blobs()[0]->mutable_cpu_data();
    for (int i = 0; i < l_pre.size(); ++i) state[i] = l_pre[i];
    layer->blobs()[1]->mutable_cpu_data()[0] = updates;
  }

  vector<double> GetLPre(AdMSRLossLayer<Dtype>* layer) {
    const Dtype* state = layer->blobs()[0]->cpu_data();
    return vector<double>(state, state + layer->blobs()[0]->count());
  }

  // One Forward against the reference from the state (l_pre, updates), which
  // it advances by eq. 9 when `train`.
  void ExpectForward(AdMSRLossLayer<Dtype>* layer, bool with_ignored,
      MSRLossParameter_BetaMode mode, bool train, vector<double>* l_pre,
      double* updates) {
    const Dtype layer_loss = layer->Forward(blob_bottom_vec_, blob_top_vec_);
    vector<double> l_cur, grad, beta, l_pre_next;
    MSRReference(*blob_bottom_data_, *blob_bottom_label_, with_ignored,
                 &l_cur, &grad);
    const double loss = AdMSRReference(l_cur, *l_pre, *updates, 0.5, mode,
                                       &beta, &l_pre_next);
    EXPECT_NEAR(loss, layer_loss, 1e-4 * std::max(1., loss));
    EXPECT_NEAR(loss, blob_top_loss_->cpu_data()[0], 1e-4 * std::max(1., loss));
    for (int i = 0; i < l_cur.size(); ++i) {
      EXPECT_NEAR(beta[i], blob_top_beta_->cpu_data()[i], 1e-4) << i;
      EXPECT_NEAR(l_cur[i], blob_top_au_loss_->cpu_data()[i], 1e-4) << i;
    }
    if (train) {
      *l_pre = l_pre_next;
      *updates += 1;
    }
    const vector<double> state = GetLPre(layer);
    for (int i = 0; i < l_cur.size(); ++i) {
      EXPECT_NEAR((*l_pre)[i], state[i], 1e-4) << i;
    }
    EXPECT_EQ(*updates, layer->blobs()[1]->cpu_data()[0]);
  }

  // Checks Backward against central differences of sum_i beta_i L_cur^(i)(x)
  // with beta frozen at its value at x: Backward treats beta and L_S as
  // constants, while Forward recomputes them from x, so Caffe's
  // GradientChecker, which differentiates Forward's top, cannot check it where
  // beta varies. The layer must be in TEST phase, where Forward leaves the
  // state alone, so each perturbed Forward sees the same L_pre.
  void CheckFrozenBetaGradient(AdMSRLossLayer<Dtype>* layer) {
    const vector<double> l_pre_before = GetLPre(layer);
    layer->Forward(blob_bottom_vec_, blob_top_vec_);
    const int n = blob_top_beta_->count(), count = blob_bottom_data_->count();
    const vector<Dtype> beta(blob_top_beta_->cpu_data(),
                             blob_top_beta_->cpu_data() + n);
    blob_top_loss_->mutable_cpu_diff()[0] = 1;
    caffe_set(n, Dtype(0), blob_top_beta_->mutable_cpu_diff());
    caffe_set(n, Dtype(0), blob_top_au_loss_->mutable_cpu_diff());
    layer->Backward(blob_top_vec_, vector<bool>{true, false}, blob_bottom_vec_);
    const vector<Dtype> computed(blob_bottom_data_->cpu_diff(),
                                 blob_bottom_data_->cpu_diff() + count);
    const Dtype step = 1e-2;
    for (int k = 0; k < count; ++k) {
      double objective[2];
      for (int s = 0; s < 2; ++s) {
        blob_bottom_data_->mutable_cpu_data()[k] += s == 0 ? step : -2 * step;
        layer->Forward(blob_bottom_vec_, blob_top_vec_);
        objective[s] = 0;
        for (int i = 0; i < n; ++i) {
          objective[s] += beta[i] * blob_top_au_loss_->cpu_data()[i];
        }
      }
      blob_bottom_data_->mutable_cpu_data()[k] += step;
      const double estimated = (objective[0] - objective[1]) / (2 * step);
      EXPECT_NEAR(estimated, computed[k],
          1e-2 * std::max(1., std::fabs(estimated))) << k;
    }
    EXPECT_EQ(l_pre_before, GetLPre(layer));
  }

  Blob<Dtype>* const blob_bottom_data_;
  Blob<Dtype>* const blob_bottom_label_;
  Blob<Dtype>* const blob_top_loss_;
  Blob<Dtype>* const blob_top_beta_;
  Blob<Dtype>* const blob_top_au_loss_;
  vector<Blob<Dtype>*> blob_bottom_vec_;
  vector<Blob<Dtype>*> blob_top_vec_;
};

TYPED_TEST_CASE(AdMSRLossLayerTest, TestDtypesAndDevices);

TYPED_TEST(AdMSRLossLayerTest, TestSetUp) {
  typedef typename TypeParam::Dtype Dtype;
  LayerParameter param =
      this->MakeParam(true, MSRLossParameter_BetaMode_CLAMPED, TRAIN);
  param.add_param()->set_lr_mult(1);  // overwritten: statistics, not learned
  param.mutable_param(0)->set_decay_mult(1);
  AdMSRLossLayer<Dtype> layer(param);
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  ASSERT_EQ(2, layer.blobs().size());
  EXPECT_EQ(vector<int>(1, 6), layer.blobs()[0]->shape());
  EXPECT_EQ(vector<int>(1, 1), layer.blobs()[1]->shape());
  EXPECT_EQ(vector<double>(6, 0), this->GetLPre(&layer));
  EXPECT_EQ(Dtype(0), layer.blobs()[1]->cpu_data()[0]);
  ASSERT_EQ(2, layer.layer_param().param_size());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(0, layer.layer_param().param(i).lr_mult());
    EXPECT_EQ(0, layer.layer_param().param(i).decay_mult());
  }
  EXPECT_EQ(0, this->blob_top_loss_->num_axes());
  EXPECT_EQ(vector<int>(1, 6), this->blob_top_beta_->shape());
  EXPECT_EQ(vector<int>(1, 6), this->blob_top_au_loss_->shape());
  EXPECT_EQ(Dtype(1), layer.loss(0));
  EXPECT_EQ(Dtype(0), layer.loss(1));
  EXPECT_EQ(Dtype(0), layer.loss(2));
}

// Several TRAIN iterations on fresh batches: L_pre starts from the first
// batch's L_cur and follows eq. 9; loss, beta and L_cur follow eqs. 8-11.
TYPED_TEST(AdMSRLossLayerTest, TestForwardTrainSequence) {
  typedef typename TypeParam::Dtype Dtype;
  for (MSRLossParameter_BetaMode mode : kBetaModes) {
    for (bool with_ignored : {false, true}) {
      const vector<int> shape = with_ignored ? vector<int>{8, 6, 1, 1}
                                             : vector<int>{8, 6};
      this->FillBottoms(shape, with_ignored);
      AdMSRLossLayer<Dtype> layer(this->MakeParam(with_ignored, mode, TRAIN));
      layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
      vector<double> l_pre(6, 0);
      double updates = 0;
      for (int iter = 0; iter < 4; ++iter) {
        FillMSRLogits(this->blob_bottom_data_);
        this->ExpectForward(&layer, with_ignored, mode, true, &l_pre, &updates);
      }
      EXPECT_EQ(4, updates);
    }
  }
}

// TEST reads the state and never writes it, also before any update (then
// L_pre is the batch's own L_cur, for this Forward only).
TYPED_TEST(AdMSRLossLayerTest, TestForwardTestPhaseReadsState) {
  typedef typename TypeParam::Dtype Dtype;
  for (MSRLossParameter_BetaMode mode : kBetaModes) {
    AdMSRLossLayer<Dtype> layer(this->MakeParam(true, mode, TEST));
    layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
    vector<double> l_pre(6, 0);
    double updates = 0;
    this->ExpectForward(&layer, true, mode, false, &l_pre, &updates);
    l_pre = vector<double>{0.9, 0.1, 2.0, 0.4, 0.7, 1.3};
    updates = 7;
    this->SetState(&layer, l_pre, updates);
    for (int iter = 0; iter < 2; ++iter) {
      FillMSRLogits(this->blob_bottom_data_);
      this->ExpectForward(&layer, true, mode, false, &l_pre, &updates);
    }
  }
}

// In TRAIN as in TEST, Backward is beta_i times the MSR gradient of AU i,
// times the loss weight.
TYPED_TEST(AdMSRLossLayerTest, TestBackwardIsBetaTimesMSRGradient) {
  typedef typename TypeParam::Dtype Dtype;
  const Dtype kLossWeight = 2.5;
  for (MSRLossParameter_BetaMode mode : kBetaModes) {
    for (Phase phase : {TRAIN, TEST}) {
      LayerParameter param = this->MakeParam(true, mode, phase);
      param.add_loss_weight(kLossWeight);
      param.add_loss_weight(0);
      param.add_loss_weight(0);
      AdMSRLossLayer<Dtype> layer(param);
      layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
      this->SetState(&layer, vector<double>{0.9, 0.1, 2.0, 0.4, 0.7, 1.3}, 3);
      const Dtype weighted = layer.Forward(this->blob_bottom_vec_,
                                           this->blob_top_vec_);
      EXPECT_NEAR(kLossWeight * this->blob_top_loss_->cpu_data()[0], weighted,
                  1e-5 * std::max(Dtype(1), weighted));
      layer.Backward(this->blob_top_vec_, vector<bool>{true, false},
                     this->blob_bottom_vec_);
      vector<double> l_cur, grad;
      MSRReference(*this->blob_bottom_data_, *this->blob_bottom_label_, true,
                   &l_cur, &grad);
      const Dtype* beta = this->blob_top_beta_->cpu_data();
      const Dtype* diff = this->blob_bottom_data_->cpu_diff();
      for (int k = 0; k < this->blob_bottom_data_->count(); ++k) {
        EXPECT_NEAR(kLossWeight * beta[k % 6] * grad[k], diff[k], 1e-5) << k;
      }
    }
  }
}

// The L_cur top does not depend on the state, so GradientChecker applies in
// both phases (the state blobs it also perturbs have no effect on it).
TYPED_TEST(AdMSRLossLayerTest, TestGradientAULossTop) {
  typedef typename TypeParam::Dtype Dtype;
  for (MSRLossParameter_BetaMode mode : kBetaModes) {
    for (Phase phase : {TRAIN, TEST}) {
      AdMSRLossLayer<Dtype> layer(this->MakeParam(true, mode, phase));
      layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
      GradientChecker<Dtype> checker(1e-2, 1e-2, 1701);
      for (int i = 0; i < 6; ++i) {
        checker.CheckGradientSingle(&layer, this->blob_bottom_vec_,
                                    this->blob_top_vec_, 0, 2, i);
      }
    }
  }
}

// GradientChecker on the loss top where beta cannot change under a small
// step: TEST phase (no state update between its Forwards) with a preset L_pre
// so large that every L_cur^(i) < L_S, so CLAMPED gives beta = 1 (the MSR
// gradient) and PAPER_ZERO beta = 0 (no gradient). It also perturbs the state
// blobs, which then move neither beta nor the loss.
TYPED_TEST(AdMSRLossLayerTest, TestGradientLossTopConstantBeta) {
  typedef typename TypeParam::Dtype Dtype;
  const vector<int> shapes[] = {vector<int>{8, 6}, vector<int>{5, 6, 1, 1}};
  for (MSRLossParameter_BetaMode mode : {MSRLossParameter_BetaMode_CLAMPED,
       MSRLossParameter_BetaMode_PAPER_ZERO}) {
    for (const vector<int>& shape : shapes) {
      this->FillBottoms(shape, true);
      AdMSRLossLayer<Dtype> layer(this->MakeParam(true, mode, TEST));
      layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
      this->SetState(&layer, vector<double>(6, 100), 1);
      layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
      const Dtype expected_beta =
          mode == MSRLossParameter_BetaMode_CLAMPED ? 1 : 0;
      for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(expected_beta, this->blob_top_beta_->cpu_data()[i]);
      }
      GradientChecker<Dtype> checker(1e-2, 1e-2, 1701);
      checker.CheckGradientSingle(&layer, this->blob_bottom_vec_,
                                  this->blob_top_vec_, 0, 0, 0);
    }
  }
}

// Backward against finite differences with beta frozen, in every beta_mode,
// with a state that gives AUs on both sides of L_S.
TYPED_TEST(AdMSRLossLayerTest, TestGradientFrozenBeta) {
  typedef typename TypeParam::Dtype Dtype;
  for (MSRLossParameter_BetaMode mode : kBetaModes) {
    AdMSRLossLayer<Dtype> layer(this->MakeParam(true, mode, TEST, 0.3));
    layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
    this->SetState(&layer, vector<double>{0.9, 0.1, 2.0, 0.4, 0.7, 1.3}, 4);
    layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
    // beta > 1 exactly for the AUs with L_cur^(i) > L_S, in every mode.
    int above = 0, below = 0;
    for (int i = 0; i < 6; ++i) {
      (this->blob_top_beta_->cpu_data()[i] > 1 ? above : below) += 1;
    }
    EXPECT_GT(above, 0);
    EXPECT_GT(below, 0);
    this->CheckFrozenBetaGradient(&layer);
  }
}

// L_pre and the count are layer blobs: ToProto (what a snapshot writes) holds
// them and a layer built from it (a restored net) continues from them.
TYPED_TEST(AdMSRLossLayerTest, TestStateInProto) {
  typedef typename TypeParam::Dtype Dtype;
  const LayerParameter param =
      this->MakeParam(true, MSRLossParameter_BetaMode_RAW, TRAIN);
  AdMSRLossLayer<Dtype> layer(param);
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  for (int iter = 0; iter < 2; ++iter) {
    FillMSRLogits(this->blob_bottom_data_);
    layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
  }
  LayerParameter saved;
  layer.ToProto(&saved);
  ASSERT_EQ(2, saved.blobs_size());
  AdMSRLossLayer<Dtype> restored(saved);
  restored.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  EXPECT_EQ(this->GetLPre(&layer), this->GetLPre(&restored));
  EXPECT_EQ(Dtype(2), restored.blobs()[1]->cpu_data()[0]);
  FillMSRLogits(this->blob_bottom_data_);
  const Dtype loss = layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_);
  EXPECT_EQ(loss,
            restored.Forward(this->blob_bottom_vec_, this->blob_top_vec_));
  EXPECT_EQ(this->GetLPre(&layer), this->GetLPre(&restored));
}

TYPED_TEST(AdMSRLossLayerTest, TestBadLabelDies) {
  typedef typename TypeParam::Dtype Dtype;
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  AdMSRLossLayer<Dtype> layer(
      this->MakeParam(true, MSRLossParameter_BetaMode_CLAMPED, TRAIN));
  layer.SetUp(this->blob_bottom_vec_, this->blob_top_vec_);
  this->blob_bottom_label_->mutable_cpu_data()[5 * 6 + 1] = -1;
  EXPECT_DEATH(layer.Forward(this->blob_bottom_vec_, this->blob_top_vec_),
      "AdMSRLoss: label -1 at \\(sample 5, AU 1\\) is not 0, 1 or "
      "loss_param.ignore_label 999");
}

}  // namespace caffe
