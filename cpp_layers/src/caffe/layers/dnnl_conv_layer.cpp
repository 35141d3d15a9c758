#ifdef USE_DNNL

#include <string>
#include <unordered_map>
#include <vector>

#include "caffe/layers/dnnl_conv_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

using dnnl::memory;

void DnnlBuffer::Init(const memory::desc& user, const memory::desc& prim,
    const dnnl::engine& engine, bool accumulate) {
  user_ = memory(user, engine, DNNL_MEMORY_NONE);
  // Accumulating needs the reorder's sum even where the layouts agree.
  needs_reorder_ = accumulate || user != prim;
  if (!needs_reorder_) {
    return;
  }
  prim_ = memory(prim, engine);
  to_prim_ = dnnl::reorder(user_, prim_);
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops sum;
    sum.append_sum(1.f);
    attr.set_post_ops(sum);
  }
  to_user_ = dnnl::reorder(prim_, user_, attr);
}

const memory& DnnlBuffer::FromUser(const void* data, dnnl::stream* stream) {
  // oneDNN takes inputs as void*; it only reads them.
  user_.set_data_handle(const_cast<void*>(data));
  if (!needs_reorder_) {
    return user_;
  }
  to_prim_.execute(*stream, user_, prim_);
  return prim_;
}

const memory& DnnlBuffer::Output(void* data) {
  user_.set_data_handle(data);
  return needs_reorder_ ? prim_ : user_;
}

void DnnlBuffer::ToUser(dnnl::stream* stream) {
  if (needs_reorder_) {
    to_user_.execute(*stream, prim_, user_);
  }
}

// One CPU engine for all layers: it holds no state of its own.
static const dnnl::engine& CpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

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
  if (use_dnnl_) {
    engine_ = CpuEngine();
    stream_ = dnnl::stream(engine_);
  } else {
    LOG(INFO) << "Layer " << this->layer_param_.name() << ": engine DNNL "
        << "falls back to CAFFE (" << reason << ")";
  }
  built_shape_.clear();
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::Reshape(const vector<Blob<Dtype>*>& bottom,
    const vector<Blob<Dtype>*>& top) {
  ConvolutionLayer<Dtype>::Reshape(bottom, top);
  if (use_dnnl_ && bottom[0]->shape() != built_shape_) {
    BuildPrimitives(bottom[0]->shape());
    built_shape_ = bottom[0]->shape();
  }
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::BuildPrimitives(
    const vector<int>& bottom_shape) {
  typedef memory::format_tag tag;
  const memory::data_type f32 = memory::data_type::f32;
  const int* kernel = this->kernel_shape_.cpu_data();
  const int* stride = this->stride_.cpu_data();
  const int* pad = this->pad_.cpu_data();
  const int* dilation = this->dilation_.cpu_data();
  const int g = this->group_;
  const memory::dims src_dims = {bottom_shape[0], bottom_shape[1],
      bottom_shape[2], bottom_shape[3]};
  const memory::dims dst_dims = {bottom_shape[0], this->num_output_,
      this->output_shape_[0], this->output_shape_[1]};
  const memory::dims weights_dims = g == 1
      ? memory::dims{this->num_output_, bottom_shape[1], kernel[0], kernel[1]}
      : memory::dims{g, this->num_output_ / g, bottom_shape[1] / g, kernel[0],
                     kernel[1]};
  const memory::dims bias_dims = {this->num_output_};
  const memory::dims strides = {stride[0], stride[1]};
  // oneDNN counts dilation from 0 (no dilation), Caffe from 1.
  const memory::dims dilates = {dilation[0] - 1, dilation[1] - 1};
  const memory::dims pad_l = {pad[0], pad[1]};
  // Caffe drops the rows and columns a stride does not reach; oneDNN wants
  // the right padding that makes the output size exact.
  memory::dims pad_r(2);
  for (int i = 0; i < 2; ++i) {
    const int extent = dilation[i] * (kernel[i] - 1) + 1;
    pad_r[i] = (this->output_shape_[i] - 1) * stride[i] + extent
        - bottom_shape[2 + i] - pad[i];
  }

  const memory::desc src_user(src_dims, f32, tag::nchw);
  const memory::desc dst_user(dst_dims, f32, tag::nchw);
  const memory::desc weights_user(weights_dims, f32,
      g == 1 ? tag::oihw : tag::goihw);
  const memory::desc bias_user(bias_dims, f32, tag::x);
  const memory::desc src_any(src_dims, f32, tag::any);
  const memory::desc dst_any(dst_dims, f32, tag::any);
  const memory::desc weights_any(weights_dims, f32, tag::any);
  const dnnl::algorithm algo = dnnl::algorithm::convolution_direct;

  const dnnl::convolution_forward::desc fwd_desc = this->bias_term_
      ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
            algo, src_any, weights_any, bias_user, dst_any, strides, dilates,
            pad_l, pad_r)
      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
            algo, src_any, weights_any, dst_any, strides, dilates, pad_l,
            pad_r);
  const dnnl::convolution_forward::primitive_desc fwd_pd(fwd_desc, engine_);
  fwd_ = dnnl::convolution_forward(fwd_pd);
  fwd_src_.Init(src_user, fwd_pd.src_desc(), engine_);
  fwd_weights_.Init(weights_user, fwd_pd.weights_desc(), engine_);
  if (this->bias_term_) {
    fwd_bias_.Init(bias_user, fwd_pd.bias_desc(), engine_);
  }
  fwd_dst_.Init(dst_user, fwd_pd.dst_desc(), engine_);

  const dnnl::convolution_backward_data::primitive_desc bwd_data_pd(
      dnnl::convolution_backward_data::desc(algo, src_any, weights_any,
          dst_any, strides, dilates, pad_l, pad_r),
      engine_, fwd_pd);
  bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd);
  bwd_data_diff_dst_.Init(dst_user, bwd_data_pd.diff_dst_desc(), engine_);
  bwd_data_weights_.Init(weights_user, bwd_data_pd.weights_desc(), engine_);
  bwd_data_diff_src_.Init(src_user, bwd_data_pd.diff_src_desc(), engine_);

  const dnnl::convolution_backward_weights::desc bwd_weights_desc =
      this->bias_term_
      ? dnnl::convolution_backward_weights::desc(algo, src_any, weights_any,
            bias_user, dst_any, strides, dilates, pad_l, pad_r)
      : dnnl::convolution_backward_weights::desc(algo, src_any, weights_any,
            dst_any, strides, dilates, pad_l, pad_r);
  const dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd(
      bwd_weights_desc, engine_, fwd_pd);
  bwd_weights_ = dnnl::convolution_backward_weights(bwd_weights_pd);
  bwd_weights_src_.Init(src_user, bwd_weights_pd.src_desc(), engine_);
  bwd_weights_diff_dst_.Init(dst_user, bwd_weights_pd.diff_dst_desc(),
      engine_);
  bwd_weights_diff_weights_.Init(weights_user,
      bwd_weights_pd.diff_weights_desc(), engine_, true);
  if (this->bias_term_) {
    bias_diff_.Reshape(vector<int>(1, this->num_output_));
    bias_diff_mem_ = memory(bwd_weights_pd.diff_bias_desc(), engine_,
        bias_diff_.mutable_cpu_data());
  }
}

template <typename Dtype>
void DnnlConvolutionLayer<Dtype>::Forward_cpu(
    const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top) {
  if (!use_dnnl_) {
    ConvolutionLayer<Dtype>::Forward_cpu(bottom, top);
    return;
  }
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_WEIGHTS] =
      fwd_weights_.FromUser(this->blobs_[0]->cpu_data(), &stream_);
  if (this->bias_term_) {
    args[DNNL_ARG_BIAS] =
        fwd_bias_.FromUser(this->blobs_[1]->cpu_data(), &stream_);
  }
  for (int i = 0; i < bottom.size(); ++i) {
    args[DNNL_ARG_SRC] = fwd_src_.FromUser(bottom[i]->cpu_data(), &stream_);
    args[DNNL_ARG_DST] = fwd_dst_.Output(top[i]->mutable_cpu_data());
    fwd_.execute(stream_, args);
    fwd_dst_.ToUser(&stream_);
  }
  stream_.wait();
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
  bool data_down = false;
  for (int i = 0; i < bottom.size(); ++i) {
    data_down = data_down || propagate_down[i];
  }
  std::unordered_map<int, memory> data_args;
  if (data_down) {
    data_args[DNNL_ARG_WEIGHTS] =
        bwd_data_weights_.FromUser(this->blobs_[0]->cpu_data(), &stream_);
  }
  for (int i = 0; i < top.size(); ++i) {
    const Dtype* top_diff = top[i]->cpu_diff();
    if (weights_down) {
      // The primitive writes the gradient of this pass; ToUser adds it to
      // the blob's diff, and the bias gradient is added likewise.
      const memory& src =
          bwd_weights_src_.FromUser(bottom[i]->cpu_data(), &stream_);
      const memory& diff_dst =
          bwd_weights_diff_dst_.FromUser(top_diff, &stream_);
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src},
          {DNNL_ARG_DIFF_DST, diff_dst},
          {DNNL_ARG_DIFF_WEIGHTS, bwd_weights_diff_weights_.Output(
              this->blobs_[0]->mutable_cpu_diff())}};
      if (this->bias_term_) {
        args[DNNL_ARG_DIFF_BIAS] = bias_diff_mem_;
      }
      bwd_weights_.execute(stream_, args);
      bwd_weights_diff_weights_.ToUser(&stream_);
      stream_.wait();
      if (bias_down) {
        caffe_axpy(this->num_output_, Dtype(1), bias_diff_.cpu_data(),
            this->blobs_[1]->mutable_cpu_diff());
      }
    } else if (bias_down) {
      Dtype* bias_diff = this->blobs_[1]->mutable_cpu_diff();
      for (int n = 0; n < this->num_; ++n) {
        this->backward_cpu_bias(bias_diff, top_diff + n * this->top_dim_);
      }
    }
    if (propagate_down[i]) {
      data_args[DNNL_ARG_DIFF_DST] =
          bwd_data_diff_dst_.FromUser(top_diff, &stream_);
      data_args[DNNL_ARG_DIFF_SRC] =
          bwd_data_diff_src_.Output(bottom[i]->mutable_cpu_diff());
      bwd_data_.execute(stream_, data_args);
      bwd_data_diff_src_.ToUser(&stream_);
    }
  }
  stream_.wait();
}

INSTANTIATE_CLASS(DnnlConvolutionLayer);

}  // namespace caffe

#endif  // USE_DNNL
