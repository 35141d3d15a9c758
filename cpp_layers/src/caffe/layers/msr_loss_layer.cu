#include <vector>

#include "caffe/layers/msr_loss_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

// One thread per AU sums over the batch, as the CPU loop does: au_sums rows
// are |P_i|, |N_i|, sum_P log s(x), sum_N log(1 - s(x)). Labels are checked
// (0, 1 or ignore_label) before the launch.
template <typename Dtype>
__global__ void MSRPerAUSumsGPU(const int num, const int num_aus,
    const Dtype* x, const Dtype* y, const bool has_ignore_label,
    const Dtype ignore_label, Dtype* au_sums) {
  CUDA_KERNEL_LOOP(i, num_aus) {
    Dtype n_pos = 0, n_neg = 0, sum_log_pos = 0, sum_log_neg = 0;
    for (int j = 0; j < num; ++j) {
      const int k = j * num_aus + i;
      if (has_ignore_label && y[k] == ignore_label) {
        continue;
      }
      // log s(z) = min(z, 0) - log(1 + exp(-|z|)), with z = x (positives)
      // or z = -x (negatives).
      const Dtype softplus = log1p(exp(-fabs(x[k])));
      if (y[k] == Dtype(1)) {
        n_pos += 1;
        sum_log_pos += (x[k] < 0 ? x[k] : Dtype(0)) - softplus;
      } else {
        n_neg += 1;
        sum_log_neg += (x[k] > 0 ? -x[k] : Dtype(0)) - softplus;
      }
    }
    au_sums[i] = n_pos;
    au_sums[num_aus + i] = n_neg;
    au_sums[2 * num_aus + i] = sum_log_pos;
    au_sums[3 * num_aus + i] = sum_log_neg;
  }
}

template <typename Dtype>
__global__ void MSRScaledGradientGPU(const int count, const int num_aus,
    const Dtype* x, const Dtype* y, const bool has_ignore_label,
    const Dtype ignore_label, const Dtype* coef, const Dtype* pos_scale,
    const Dtype* neg_scale, Dtype* diff) {
  CUDA_KERNEL_LOOP(k, count) {
    const int i = k % num_aus;
    const Dtype sigmoid = 1 / (1 + exp(-x[k]));
    if (has_ignore_label && y[k] == ignore_label) {
      diff[k] = 0;
    } else if (y[k] == Dtype(1)) {
      diff[k] = coef[i] * pos_scale[i] * (sigmoid - 1);
    } else {
      diff[k] = coef[i] * neg_scale[i] * sigmoid;
    }
  }
}

template <typename Dtype>
void MSRLossLayer<Dtype>::SumPerAU_gpu(const vector<Blob<Dtype>*>& bottom) {
  // NOLINT_NEXT_LINE(whitespace/operators)
  MSRPerAUSumsGPU<Dtype><<<CAFFE_GET_BLOCKS(num_aus_),
      CAFFE_CUDA_NUM_THREADS>>>(num_, num_aus_, bottom[0]->gpu_data(),
      bottom[1]->gpu_data(), has_ignore_label_, Dtype(ignore_label_),
      au_sums_.mutable_gpu_data());
  CUDA_POST_KERNEL_CHECK;
}

template <typename Dtype>
void MSRLossLayer<Dtype>::ScaledGradient_gpu(
    const vector<Blob<Dtype>*>& bottom) {
  const int count = bottom[0]->count();
  // NOLINT_NEXT_LINE(whitespace/operators)
  MSRScaledGradientGPU<Dtype><<<CAFFE_GET_BLOCKS(count),
      CAFFE_CUDA_NUM_THREADS>>>(count, num_aus_, bottom[0]->gpu_data(),
      bottom[1]->gpu_data(), has_ignore_label_, Dtype(ignore_label_),
      au_coef_.gpu_data(), pos_scale_.gpu_data(), neg_scale_.gpu_data(),
      bottom[0]->mutable_gpu_diff());
  CUDA_POST_KERNEL_CHECK;
}

// The per-sample work runs on the GPU; the per-AU steps (n values) are the
// CPU code's, and so is AdMSRLossLayer's CombinePerAULosses.
template <typename Dtype>
void MSRLossLayer<Dtype>::Forward_gpu(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  CheckLabels(*bottom[1]);
  SumPerAU_gpu(bottom);
  ComputePerAULoss();
  top[0]->mutable_cpu_data()[0] = CombinePerAULosses(top);
}

template <typename Dtype>
void MSRLossLayer<Dtype>::Backward_gpu(const vector<Blob<Dtype>*>& top,
    const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom) {
  if (propagate_down[1]) {
    LOG(FATAL) << this->type()
               << " Layer cannot backpropagate to label inputs.";
  }
  if (propagate_down[0]) {
    ComputeLossCoefficients(top);
    ScaledGradient_gpu(bottom);
  }
}

INSTANTIATE_LAYER_GPU_FUNCS(MSRLossLayer);

}  // namespace caffe
