#include <vector>

#include "caffe/layers/ad_msr_loss_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

template <typename Dtype>
void AdMSRLossLayer<Dtype>::LayerSetUp(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  MSRLossLayer<Dtype>::LayerSetUp(bottom, top);
  const MSRLossParameter& param = this->layer_param_.msr_loss_param();
  alpha_ = param.alpha();
  CHECK(alpha_ >= 0 && alpha_ <= 1) << this->type() << ": alpha " << alpha_
      << " is not in [0, 1]";
  beta_mode_ = param.beta_mode();
  CHECK_GE(bottom[0]->num_axes(), 2) << this->type()
      << ": logits must be N x n or N x n x 1 x 1, got "
      << bottom[0]->shape_string();
  if (this->blobs_.size() > 0) {
    LOG(INFO) << "Skipping parameter initialization";
  } else {
    this->blobs_.resize(2);
    this->blobs_[0].reset(new Blob<Dtype>(vector<int>(1, bottom[0]->shape(1))));
    this->blobs_[1].reset(new Blob<Dtype>(vector<int>(1, 1)));
    for (int i = 0; i < 2; ++i) {
      caffe_set(this->blobs_[i]->count(), Dtype(0),
                this->blobs_[i]->mutable_cpu_data());
    }
  }
  // L_pre and the update count are statistics, never learned: as BatchNorm
  // does, mask them from the solver (here overwriting any given ParamSpec).
  for (int i = 0; i < this->blobs_.size(); ++i) {
    ParamSpec* spec = this->layer_param_.param_size() > i ?
        this->layer_param_.mutable_param(i) : this->layer_param_.add_param();
    spec->set_lr_mult(0.f);
    spec->set_decay_mult(0.f);
  }
}

template <typename Dtype>
void AdMSRLossLayer<Dtype>::Reshape(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  MSRLossLayer<Dtype>::Reshape(bottom, top);
  CHECK_EQ(this->num_aus_, this->blobs_[0]->count()) << this->type()
      << ": the logits have " << this->num_aus_ << " AUs but L_pre has "
      << this->blobs_[0]->count();
  beta_.Reshape(vector<int>(1, this->num_aus_));
}

template <typename Dtype>
Dtype AdMSRLossLayer<Dtype>::CombinePerAULosses(
    const vector<Blob<Dtype>*>& top) {
  const int n = this->num_aus_;
  const Dtype* l_cur = this->au_loss_.cpu_data();
  const Dtype updates = this->blobs_[1]->cpu_data()[0];
  // L_pre is initialised from the first batch: before any update,
  // L_pre := L_cur.
  const Dtype* l_pre = updates == 0 ? l_cur : this->blobs_[0]->cpu_data();
  Dtype l_s = 0;
  for (int i = 0; i < n; ++i) {
    l_s += alpha_ * l_cur[i] + (1 - alpha_) * l_pre[i];
  }
  l_s /= n;  // eq. 8
  Dtype* beta = beta_.mutable_cpu_data();
  Dtype loss = 0;
  for (int i = 0; i < n; ++i) {
    const Dtype denom = l_cur[i] + l_s;
    const Dtype r = (denom == 0 ? 0 : (l_cur[i] - l_s) / denom) + 1;  // eq. 10
    switch (beta_mode_) {
      case MSRLossParameter_BetaMode_CLAMPED:  // beta in [1, 2]
        beta[i] = l_cur[i] > l_s ? r : 1;
        break;
      case MSRLossParameter_BetaMode_PAPER_ZERO:  // "beta = 0 means ... good"
        beta[i] = l_cur[i] > l_s ? r : 0;
        break;
      case MSRLossParameter_BetaMode_RAW:
        beta[i] = r;
        break;
      default:
        LOG(FATAL) << "Unknown beta_mode "
                   << MSRLossParameter_BetaMode_Name(beta_mode_);
    }
    loss += beta[i] * l_cur[i];  // eq. 11
  }
  if (top.size() > 1) {
    caffe_copy(n, beta_.cpu_data(), top[1]->mutable_cpu_data());
  }
  if (top.size() > 2) {
    caffe_copy(n, l_cur, top[2]->mutable_cpu_data());
  }
  // TEST reads the state, never writes it. Element i of L_pre is read before
  // it is written, so l_pre may alias the state.
  if (this->phase_ == TRAIN) {
    Dtype* state = this->blobs_[0]->mutable_cpu_data();
    for (int i = 0; i < n; ++i) {
      state[i] = alpha_ * l_cur[i] + (1 - alpha_) * l_pre[i];  // eq. 9
    }
    this->blobs_[1]->mutable_cpu_data()[0] = updates + 1;
  }
  return loss;
}

template <typename Dtype>
void AdMSRLossLayer<Dtype>::ComputeLossCoefficients(
    const vector<Blob<Dtype>*>& top) {
  // beta and L_S are constants; the beta top passes no gradient.
  Dtype* coef = this->au_coef_.mutable_cpu_data();
  caffe_cpu_scale(this->num_aus_, top[0]->cpu_diff()[0], beta_.cpu_data(),
                  coef);
  if (top.size() > 2) {
    caffe_axpy(this->num_aus_, Dtype(1), top[2]->cpu_diff(), coef);
  }
}

INSTANTIATE_CLASS(AdMSRLossLayer);
REGISTER_LAYER_CLASS(AdMSRLoss);

}  // namespace caffe
