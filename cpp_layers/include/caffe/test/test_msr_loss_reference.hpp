#ifndef CAFFE_TEST_MSR_LOSS_REFERENCE_HPP_
#define CAFFE_TEST_MSR_LOSS_REFERENCE_HPP_

// Straightforward loops over eqs. 2-11 of Wang et al. 2019, in double, that the
// MSRLoss and AdMSRLoss gtests compare the layers with. Shared test fixtures'
// data (logits and a fixed label pattern) live here too.

#include <cmath>
#include <vector>

#include "caffe/blob.hpp"
#include "caffe/filler.hpp"
#include "caffe/proto/caffe.pb.h"

namespace caffe {

const int kMSRIgnore = 999;

// Label pattern of 8 samples x 6 AUs (I = kMSRIgnore): AU 0 mixed with ignored
// samples (gamma = 2), AU 1 all positive, AU 2 all negative, AU 3 fully
// ignored, AU 4 more positives (gamma = 0.4), AU 5 balanced (gamma = 1).
// Larger shapes repeat it; without an ignore label, I becomes 0.
template <typename Dtype>
void FillMSRLabels(bool with_ignored, Blob<Dtype>* label) {
  const int I = -1;
  const int kPattern[8][6] = {
      {1, 1, 0, I, 1, 1}, {0, 1, 0, I, 1, 0}, {0, 1, 0, I, 1, 1},
      {I, 1, 0, I, 0, 0}, {0, 1, 0, I, 1, 1}, {1, 1, 0, I, I, 0},
      {0, 1, 0, I, 1, 1}, {I, 1, 0, I, 0, 0}};
  const int num = label->shape(0), num_aus = label->count(1);
  Dtype* y = label->mutable_cpu_data();
  for (int j = 0; j < num; ++j) {
    for (int i = 0; i < num_aus; ++i) {
      const int v = kPattern[j % 8][i % 6];
      y[j * num_aus + i] = v != I ? v : (with_ignored ? kMSRIgnore : 0);
    }
  }
}

template <typename Dtype>
void FillMSRLogits(Blob<Dtype>* x) {
  FillerParameter filler_param;
  filler_param.set_std(1.5);
  GaussianFiller<Dtype> filler(filler_param);
  filler.Fill(x);
}

// Per-AU loss L_cur (eq. 4 with the valid-count m and the empty-set rule) and
// its gradient dL_cur^(i)/dx_ji (N x n, row-major).
template <typename Dtype>
void MSRReference(const Blob<Dtype>& x_blob, const Blob<Dtype>& y_blob,
    bool with_ignored, std::vector<double>* l_cur, std::vector<double>* grad) {
  const int num = x_blob.shape(0), num_aus = x_blob.count(1);
  const Dtype* x = x_blob.cpu_data();
  const Dtype* y = y_blob.cpu_data();
  l_cur->assign(num_aus, 0);
  grad->assign(num * num_aus, 0);
  for (int i = 0; i < num_aus; ++i) {
    int n_pos = 0, n_neg = 0;
    for (int j = 0; j < num; ++j) {
      const Dtype label = y[j * num_aus + i];
      if (with_ignored && label == kMSRIgnore) continue;
      if (label == 1) ++n_pos;
      if (label == 0) ++n_neg;
    }
    const int m = n_pos + n_neg;
    if (m == 0) continue;
    double w_pos = 1, w_neg = 1;
    if (n_pos > 0 && n_neg > 0) {
      const double gamma = static_cast<double>(n_neg) / n_pos;
      if (gamma > 1) w_pos = gamma;
      if (gamma < 1) w_neg = 1 / gamma;
    }
    for (int j = 0; j < num; ++j) {
      const int k = j * num_aus + i;
      if (with_ignored && y[k] == kMSRIgnore) continue;
      const double p = 1 / (1 + std::exp(-static_cast<double>(x[k])));
      if (y[k] == 1) {
        (*l_cur)[i] -= w_pos * std::log(p) / m;
        (*grad)[k] = w_pos * (p - 1) / m;
      } else {
        (*l_cur)[i] -= w_neg * std::log(1 - p) / m;
        (*grad)[k] = w_neg * p / m;
      }
    }
  }
}

// Ad-MSR from L_cur and the state (L_pre, updates): returns the loss (eq. 11),
// fills beta (eq. 10 under mode) and the state after eq. 9 (TRAIN's update).
inline double AdMSRReference(const std::vector<double>& l_cur,
    const std::vector<double>& l_pre_state, double updates, double alpha,
    MSRLossParameter_BetaMode mode, std::vector<double>* beta,
    std::vector<double>* l_pre_next) {
  const int n = l_cur.size();
  const std::vector<double>& l_pre = updates == 0 ? l_cur : l_pre_state;
  double l_s = 0;
  for (int i = 0; i < n; ++i) l_s += alpha * l_cur[i] + (1 - alpha) * l_pre[i];
  l_s /= n;
  beta->assign(n, 0);
  l_pre_next->assign(n, 0);
  double loss = 0;
  for (int i = 0; i < n; ++i) {
    const double sum = l_cur[i] + l_s;
    const double r = (sum == 0 ? 0 : (l_cur[i] - l_s) / sum) + 1;
    if (mode == MSRLossParameter_BetaMode_RAW || l_cur[i] > l_s) {
      (*beta)[i] = r;
    } else {
      (*beta)[i] = mode == MSRLossParameter_BetaMode_CLAMPED ? 1 : 0;
    }
    loss += (*beta)[i] * l_cur[i];
    (*l_pre_next)[i] = alpha * l_cur[i] + (1 - alpha) * l_pre[i];
  }
  return loss;
}

}  // namespace caffe

#endif  // CAFFE_TEST_MSR_LOSS_REFERENCE_HPP_
