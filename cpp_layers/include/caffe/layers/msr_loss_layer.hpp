#ifndef CAFFE_MSR_LOSS_LAYER_HPP_
#define CAFFE_MSR_LOSS_LAYER_HPP_

#include <vector>

#include "caffe/blob.hpp"
#include "caffe/layer.hpp"
#include "caffe/proto/caffe.pb.h"

#include "caffe/layers/loss_layer.hpp"

namespace caffe {

/**
 * @brief The Multi-label Slope Rate (MSR) loss of Wang et al. 2019, Sec. 2.2
 *        (eqs. 1-7): per AU, a sigmoid cross-entropy whose positive or negative
 *        terms are weighted by the batch's balance factor gamma.
 *
 * Bottoms: logits x (N x n or N x n x 1 x 1) and labels y (same count), one
 * column per AU. Labels are 0, 1 or loss_param.ignore_label; any other value is
 * a fatal error naming it and its (sample, AU).
 *
 * For AU i, with V_i its valid samples (label != ignore_label), P_i / N_i its
 * positives / negatives and m_i = |V_i|:
 *   gamma_i = |N_i| / |P_i|                                       (eq. 3)
 *   w+ = gamma_i if gamma_i > 1 else 1, w- = 1/gamma_i if gamma_i < 1 else 1,
 *   both 1 if P_i or N_i is empty                                  (eq. 4)
 *   L_cur^(i) = -(1/m_i) [ sum_P w+ log s(x_j) + sum_N w- log(1 - s(x_j)) ],
 *   0 if m_i = 0                                                   (eq. 4)
 *   top[0] = sum_i L_cur^(i)                                       (eq. 7)
 * Optional top[1]: L_cur (n). Its diff, if any, also flows back.
 * See docs/layers/msr_loss.md.
 */
template <typename Dtype>
class MSRLossLayer : public LossLayer<Dtype> {
 public:
  explicit MSRLossLayer(const LayerParameter& param)
      : LossLayer<Dtype>(param) {}
  virtual void LayerSetUp(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Reshape(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);

  virtual inline const char* type() const { return "MSRLoss"; }
  virtual inline int ExactNumTopBlobs() const { return -1; }
  virtual inline int MinTopBlobs() const { return 1; }
  virtual inline int MaxTopBlobs() const { return 2; }

 protected:
  virtual void Forward_cpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Forward_gpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Backward_cpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom);
  virtual void Backward_gpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom);

  /// The loss from the per-AU losses au_loss_ (eq. 7), writing the optional
  /// tops. AdMSRLossLayer overrides it with eqs. 8-11.
  virtual Dtype CombinePerAULosses(const vector<Blob<Dtype>*>& top);
  /// Sets au_coef_ to dLoss/dL_cur^(i) from the tops' diffs.
  virtual void ComputeLossCoefficients(const vector<Blob<Dtype>*>& top);

  /// Number of AUs n.
  int num_aus_;
  /// L_cur (n), computed by Forward.
  Blob<Dtype> au_loss_;
  /// dLoss/dL_cur^(i) (n), set by ComputeLossCoefficients.
  Blob<Dtype> au_coef_;

 private:
  /// Fatal error on a label that is not 0, 1 or ignore_label (on the CPU).
  void CheckLabels(const Blob<Dtype>& label);
  /// Fills au_sums_ from the batch: the only per-sample work of Forward.
  void SumPerAU_cpu(const vector<Blob<Dtype>*>& bottom);
  void SumPerAU_gpu(const vector<Blob<Dtype>*>& bottom);
  /// Eqs. 2-4 from au_sums_: au_loss_, pos_scale_, neg_scale_ (n values).
  void ComputePerAULoss();
  /// bottom[0] diff = au_coef_[i] * dL_cur^(i)/dx for each sample of AU i.
  void ScaledGradient_cpu(const vector<Blob<Dtype>*>& bottom);
  void ScaledGradient_gpu(const vector<Blob<Dtype>*>& bottom);

  /// Batch size N.
  int num_;
  bool has_ignore_label_;
  int ignore_label_;
  /// Per-AU sums over the batch (4 x n): |P_i|, |N_i|, sum_P log s(x),
  /// sum_N log(1 - s(x)).
  Blob<Dtype> au_sums_;
  /// w+/m_i and w-/m_i (n each); 0 when m_i = 0.
  Blob<Dtype> pos_scale_, neg_scale_;
};

}  // namespace caffe

#endif  // CAFFE_MSR_LOSS_LAYER_HPP_
