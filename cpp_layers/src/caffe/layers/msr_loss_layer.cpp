#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "caffe/layers/msr_loss_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

/// log(sigmoid(x)) without overflow: min(x, 0) - log(1 + exp(-|x|)).
template <typename Dtype>
inline Dtype LogSigmoid(Dtype x) {
  return std::min(x, Dtype(0)) - std::log1p(std::exp(-std::fabs(x)));
}

template <typename Dtype>
void MSRLossLayer<Dtype>::LayerSetUp(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  // The loss is top[0]; the per-AU tops are outputs unless told otherwise.
  if (this->layer_param_.loss_weight_size() == 0) {
    this->layer_param_.add_loss_weight(Dtype(1));
    for (int i = 1; i < top.size(); ++i) {
      this->layer_param_.add_loss_weight(Dtype(0));
    }
  }
  LossLayer<Dtype>::LayerSetUp(bottom, top);
  has_ignore_label_ = this->layer_param_.loss_param().has_ignore_label();
  ignore_label_ = this->layer_param_.loss_param().ignore_label();
}

template <typename Dtype>
void MSRLossLayer<Dtype>::Reshape(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  LossLayer<Dtype>::Reshape(bottom, top);
  CHECK_GE(bottom[0]->num_axes(), 2) << this->type()
      << ": logits must be N x n or N x n x 1 x 1, got "
      << bottom[0]->shape_string();
  CHECK_EQ(bottom[0]->count(2), 1) << this->type()
      << ": logits must be N x n or N x n x 1 x 1, got "
      << bottom[0]->shape_string();
  CHECK_EQ(bottom[0]->count(), bottom[1]->count()) << this->type()
      << ": logits " << bottom[0]->shape_string() << " and labels "
      << bottom[1]->shape_string() << " must have the same count";
  num_ = bottom[0]->shape(0);
  num_aus_ = bottom[0]->shape(1);
  const vector<int> au_shape(1, num_aus_);
  for (int i = 1; i < top.size(); ++i) {
    top[i]->Reshape(au_shape);
  }
  au_sums_.Reshape(vector<int>{4, num_aus_});
  au_loss_.Reshape(au_shape);
  pos_scale_.Reshape(au_shape);
  neg_scale_.Reshape(au_shape);
  au_coef_.Reshape(au_shape);
}

template <typename Dtype>
void MSRLossLayer<Dtype>::CheckLabels(const Blob<Dtype>& label) {
  const Dtype* y = label.cpu_data();
  for (int k = 0; k < label.count(); ++k) {
    if (y[k] == Dtype(0) || y[k] == Dtype(1) ||
        (has_ignore_label_ && y[k] == Dtype(ignore_label_))) {
      continue;
    }
    LOG(FATAL) << this->type() << ": label " << y[k] << " at (sample "
        << k / num_aus_ << ", AU " << k % num_aus_ << ") is not "
        << (has_ignore_label_ ? "0, 1 or loss_param.ignore_label " : "0 or 1")
        << (has_ignore_label_ ? std::to_string(ignore_label_) : "");
  }
}

template <typename Dtype>
void MSRLossLayer<Dtype>::SumPerAU_cpu(const vector<Blob<Dtype>*>& bottom) {
  const Dtype* x = bottom[0]->cpu_data();
  const Dtype* y = bottom[1]->cpu_data();
  Dtype* sums = au_sums_.mutable_cpu_data();
  caffe_set(au_sums_.count(), Dtype(0), sums);
  for (int j = 0; j < num_; ++j) {
    for (int i = 0; i < num_aus_; ++i) {
      const int k = j * num_aus_ + i;
      if (has_ignore_label_ && y[k] == Dtype(ignore_label_)) {
        continue;
      }
      if (y[k] == Dtype(1)) {
        sums[i] += 1;
        sums[2 * num_aus_ + i] += LogSigmoid(x[k]);
      } else {
        sums[num_aus_ + i] += 1;
        sums[3 * num_aus_ + i] += LogSigmoid(-x[k]);
      }
    }
  }
}

template <typename Dtype>
void MSRLossLayer<Dtype>::ComputePerAULoss() {
  const Dtype* n_pos = au_sums_.cpu_data();
  const Dtype* n_neg = n_pos + num_aus_;
  const Dtype* sum_log_pos = n_neg + num_aus_;
  const Dtype* sum_log_neg = sum_log_pos + num_aus_;
  Dtype* loss = au_loss_.mutable_cpu_data();
  Dtype* pos_scale = pos_scale_.mutable_cpu_data();
  Dtype* neg_scale = neg_scale_.mutable_cpu_data();
  for (int i = 0; i < num_aus_; ++i) {
    // m of eq. 2 is the AU's number of valid samples; L_cur = 0 when it is 0.
    const Dtype m = n_pos[i] + n_neg[i];
    const Dtype inv_m = m > 0 ? 1 / m : 0;
    // Eq. 4's weights; both are 1 when P_i or N_i is empty (gamma undefined).
    Dtype w_pos = 1, w_neg = 1;
    if (n_pos[i] > 0 && n_neg[i] > 0) {
      const Dtype gamma = n_neg[i] / n_pos[i];  // eq. 3
      if (gamma > 1) { w_pos = gamma; }
      if (gamma < 1) { w_neg = 1 / gamma; }
    }
    pos_scale[i] = w_pos * inv_m;
    neg_scale[i] = w_neg * inv_m;
    // Eq. 4: log P_j is log s(x_j) for positives, log(1 - s(x_j)) for
    // negatives.
    loss[i] = -(pos_scale[i] * sum_log_pos[i] + neg_scale[i] * sum_log_neg[i]);
  }
}

template <typename Dtype>
void MSRLossLayer<Dtype>::ScaledGradient_cpu(
    const vector<Blob<Dtype>*>& bottom) {
  const Dtype* x = bottom[0]->cpu_data();
  const Dtype* y = bottom[1]->cpu_data();
  const Dtype* coef = au_coef_.cpu_data();
  const Dtype* pos_scale = pos_scale_.cpu_data();
  const Dtype* neg_scale = neg_scale_.cpu_data();
  Dtype* diff = bottom[0]->mutable_cpu_diff();
  for (int k = 0; k < bottom[0]->count(); ++k) {
    const int i = k % num_aus_;
    const Dtype sigmoid = 1 / (1 + exp(-x[k]));
    if (has_ignore_label_ && y[k] == Dtype(ignore_label_)) {
      diff[k] = 0;
    } else if (y[k] == Dtype(1)) {
      diff[k] = coef[i] * pos_scale[i] * (sigmoid - 1);
    } else {
      diff[k] = coef[i] * neg_scale[i] * sigmoid;
    }
  }
}

template <typename Dtype>
Dtype MSRLossLayer<Dtype>::CombinePerAULosses(
    const vector<Blob<Dtype>*>& top) {
  const Dtype* au_loss = au_loss_.cpu_data();
  Dtype loss = 0;
  for (int i = 0; i < num_aus_; ++i) {
    loss += au_loss[i];  // eq. 7
  }
  if (top.size() > 1) {
    caffe_copy(num_aus_, au_loss, top[1]->mutable_cpu_data());
  }
  return loss;
}

template <typename Dtype>
void MSRLossLayer<Dtype>::ComputeLossCoefficients(
    const vector<Blob<Dtype>*>& top) {
  // dLoss/dL_cur^(i) is the loss weight, plus the L_cur top's diff if any.
  Dtype* coef = au_coef_.mutable_cpu_data();
  caffe_set(num_aus_, top[0]->cpu_diff()[0], coef);
  if (top.size() > 1) {
    caffe_axpy(num_aus_, Dtype(1), top[1]->cpu_diff(), coef);
  }
}

template <typename Dtype>
void MSRLossLayer<Dtype>::Forward_cpu(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  CheckLabels(*bottom[1]);
  SumPerAU_cpu(bottom);
  ComputePerAULoss();
  top[0]->mutable_cpu_data()[0] = CombinePerAULosses(top);
}

template <typename Dtype>
void MSRLossLayer<Dtype>::Backward_cpu(const vector<Blob<Dtype>*>& top,
    const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom) {
  if (propagate_down[1]) {
    LOG(FATAL) << this->type()
               << " Layer cannot backpropagate to label inputs.";
  }
  if (propagate_down[0]) {
    ComputeLossCoefficients(top);
    ScaledGradient_cpu(bottom);
  }
}

#ifdef CPU_ONLY
STUB_GPU(MSRLossLayer);
#endif

INSTANTIATE_CLASS(MSRLossLayer);
REGISTER_LAYER_CLASS(MSRLoss);

}  // namespace caffe
