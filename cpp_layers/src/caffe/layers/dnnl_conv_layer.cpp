#ifdef USE_DNNL

#include <string>
#include <vector>

#include "caffe/layers/dnnl_conv_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

template <typename Dtype>
std::string DnnlConvolutionLayer<Dtype>::UnsupportedReason() const {
  if (sizeof(Dtype) != sizeof(float)) {
    return "oneDNN computes in float, this layer is double";
  }
  if (this->num_spatial_axes_ != 2) {
    return "the convolution is not 2-D";
  }
  if (this->channel_axis_ != 1) {
    return "the channel axis is not 1";
  }
  if (this->force_nd_im2col_) {
    return "force_nd_im2col is set";
  }
  return "";
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::LayerSetUp(
    const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top) {
  ConvolutionLayer<Dtype>::LayerSetUp(bottom, top);
  const std::string reason = UnsupportedReason();
  use_dnnl_ = reason.empty();
  if (!use_dnnl_) {
    LOG(INFO) << "Layer " << this->layer_param_.name() << ": engine DNNL "
        << "falls back to CAFFE (" << reason << ")";
  }
  conv_.reset();
  conv_shape_.clear();
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::Reshape(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  ConvolutionLayer<Dtype>::Reshape(bottom, top);
  const vector<int>& shape = bottom[0]->shape();
  if (!use_dnnl_ || shape == conv_shape_) {
    return;
  }
  typedef dnnl::memory::format_tag tag;
  typedef dnnl::memory::dims dims;
  const dnnl::memory::data_type f32 = dnnl::memory::data_type::f32;
  const int* kernel = this->kernel_shape_.cpu_data();
  const int* stride = this->stride_.cpu_data();
  const int* pad = this->pad_.cpu_data();
  const int* dilation = this->dilation_.cpu_data();
  const int g = this->group_, num_output = this->num_output_;
  // Caffe's blob layouts: N x C x H x W maps, O x C/G x KH x KW weights.
  const dnnl::memory::desc src(dims{shape[0], shape[1], shape[2], shape[3]},
      f32, tag::nchw);
  const dnnl::memory::desc dst(dims{shape[0], num_output,
      this->output_shape_[0], this->output_shape_[1]}, f32, tag::nchw);
  const dnnl::memory::desc weights = g == 1
      ? dnnl::memory::desc(dims{num_output, shape[1], kernel[0], kernel[1]},
            f32, tag::oihw)
      : dnnl::memory::desc(dims{g, num_output / g, shape[1] / g, kernel[0],
            kernel[1]}, f32, tag::goihw);
  // Caffe drops the rows and columns a stride does not reach; oneDNN wants
  // the right padding that makes the output size exact (negative where rows
  // are dropped). oneDNN counts dilation from 0, Caffe from 1.
  dims pad_r(2), dilates(2);
  for (int i = 0; i < 2; ++i) {
    const int extent = dilation[i] * (kernel[i] - 1) + 1;
    pad_r[i] = (this->output_shape_[i] - 1) * stride[i] + extent
        - shape[2 + i] - pad[i];
    dilates[i] = dilation[i] - 1;
  }
  conv_.reset(new DnnlConvolution(src, weights, this->bias_term_, dst,
      dims{stride[0], stride[1]}, dilates, dims{pad[0], pad[1]}, pad_r));
  conv_shape_ = shape;
  if (this->bias_term_) {
    bias_diff_.Reshape(vector<int>(1, num_output));
  }
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::Forward_cpu(
    const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top) {
  if (!use_dnnl_) {
    ConvolutionLayer<Dtype>::Forward_cpu(bottom, top);
    return;
  }
  const Dtype* bias = this->bias_term_ ? this->blobs_[1]->cpu_data() : NULL;
  for (int i = 0; i < bottom.size(); ++i) {
    conv_->Forward(bottom[i]->cpu_data(), this->blobs_[0]->cpu_data(), bias,
        top[i]->mutable_cpu_data());
  }
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::Backward_cpu(
    const vector<Blob<Dtype>*>& top, const vector<bool>& propagate_down,
    const vector<Blob<Dtype>*>& bottom) {
  if (!use_dnnl_) {
    ConvolutionLayer<Dtype>::Backward_cpu(top, propagate_down, bottom);
    return;
  }
  const bool weights_down = this->param_propagate_down_[0];
  const bool bias_down = this->bias_term_ && this->param_propagate_down_[1];
  for (int i = 0; i < top.size(); ++i) {
    const Dtype* top_diff = top[i]->cpu_diff();
    // oneDNN gives the bias gradient with the weights'; without those,
    // Caffe's own sum over the batch.
    if (bias_down && !weights_down) {
      Dtype* bias_diff = this->blobs_[1]->mutable_cpu_diff();
      for (int n = 0; n < this->num_; ++n) {
        this->backward_cpu_bias(bias_diff, top_diff + n * this->top_dim_);
      }
    }
    conv_->Backward(bottom[i]->cpu_data(), top_diff,
        this->blobs_[0]->cpu_data(),
        propagate_down[i] ? bottom[i]->mutable_cpu_diff() : NULL,
        weights_down ? this->blobs_[0]->mutable_cpu_diff() : NULL,
        this->bias_term_ ? bias_diff_.mutable_cpu_data() : NULL);
    if (bias_down && weights_down) {
      caffe_axpy(this->num_output_, Dtype(1), bias_diff_.cpu_data(),
          this->blobs_[1]->mutable_cpu_diff());
    }
  }
}

INSTANTIATE_CLASS(DnnlConvolutionLayer);

}  // namespace caffe

#endif  // USE_DNNL
