#ifndef CAFFE_AD_MSR_LOSS_LAYER_HPP_
#define CAFFE_AD_MSR_LOSS_LAYER_HPP_

#include <vector>

#include "caffe/blob.hpp"
#include "caffe/layer.hpp"
#include "caffe/proto/caffe.pb.h"

#include "caffe/layers/msr_loss_layer.hpp"

namespace caffe {

/**
 * @brief The Advanced MSR (Ad-MSR) loss of Wang et al. 2019, Sec. 2.3
 *        (eqs. 8-11): MSR's per-AU losses L_cur, each weighted by a loss gain
 *        beta from its deviation from the running mean loss L_S.
 *
 * Bottoms, labels and L_cur as MSRLossLayer. State: blobs_[0] = L_pre (n),
 * blobs_[1] = number of updates (1), statistics with lr_mult = decay_mult = 0,
 * saved by snapshots. Forward, with alpha and beta_mode from msr_loss_param:
 *   L_pre := L_cur if no update has happened yet (the first batch)
 *   L_S = (1/n) sum_i (alpha L_cur^(i) + (1 - alpha) L_pre^(i))    (eq. 8)
 *   r_i = (L_cur^(i) - L_S) / (L_cur^(i) + L_S) + 1, 1 if L_cur + L_S = 0
 *                                                                  (eq. 10)
 *   beta_i = CLAMPED: r_i if L_cur^(i) > L_S else 1; PAPER_ZERO: r_i if
 *            L_cur^(i) > L_S else 0; RAW: r_i
 *   top[0] = sum_i beta_i L_cur^(i)                                 (eq. 11)
 *   TRAIN only: L_pre := alpha L_cur + (1 - alpha) L_pre, count += 1 (eq. 9)
 * Backward treats beta and L_S as constants. Optional tops: [1] beta (n, no
 * gradient), [2] L_cur (n; its diff, if any, flows back).
 * See docs/layers/msr_loss.md.
 */
template <typename Dtype>
class AdMSRLossLayer : public MSRLossLayer<Dtype> {
 public:
  explicit AdMSRLossLayer(const LayerParameter& param)
      : MSRLossLayer<Dtype>(param) {}
  virtual void LayerSetUp(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Reshape(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);

  virtual inline const char* type() const { return "AdMSRLoss"; }
  virtual inline int MaxTopBlobs() const { return 3; }

 protected:
  /// Eqs. 8-11 and, in TRAIN, eq. 9's update of the state.
  virtual Dtype CombinePerAULosses(const vector<Blob<Dtype>*>& top);
  /// dLoss/dL_cur^(i) = beta_i times the loss weight, plus the L_cur top's
  /// diff if any.
  virtual void ComputeLossCoefficients(const vector<Blob<Dtype>*>& top);

  Dtype alpha_;
  MSRLossParameter_BetaMode beta_mode_;
  /// beta (n) of the last Forward, used by Backward.
  Blob<Dtype> beta_;
};

}  // namespace caffe

#endif  // CAFFE_AD_MSR_LOSS_LAYER_HPP_
