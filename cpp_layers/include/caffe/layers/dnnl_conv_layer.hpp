#ifndef CAFFE_DNNL_CONV_LAYER_HPP_
#define CAFFE_DNNL_CONV_LAYER_HPP_

#ifdef USE_DNNL

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <vector>

#include "caffe/blob.hpp"
#include "caffe/layer.hpp"
#include "caffe/layers/conv_layer.hpp"
#include "caffe/proto/caffe.pb.h"

namespace caffe {

/**
 * @brief A Caffe buffer handed to a oneDNN primitive. When the primitive
 *        takes Caffe's own (plain) layout the buffer is used in place;
 *        otherwise it goes through a reorder into, or out of, a buffer of
 *        the primitive's layout. The reorders are built once per shape.
 */
class DnnlBuffer {
 public:
  DnnlBuffer() : needs_reorder_(false) {}
  // user: Caffe's layout; prim: the layout the primitive asked for.
  // accumulate: ToUser adds into the Caffe buffer instead of overwriting it.
  void Init(const dnnl::memory::desc& user, const dnnl::memory::desc& prim,
      const dnnl::engine& engine, bool accumulate = false);
  // The memory to pass for an input: data reordered in, if needed.
  const dnnl::memory& FromUser(const void* data, dnnl::stream* stream);
  // The memory to pass for an output; ToUser then writes it to data.
  const dnnl::memory& Output(void* data);
  void ToUser(dnnl::stream* stream);

 private:
  bool needs_reorder_;
  dnnl::memory user_, prim_;
  dnnl::reorder to_prim_, to_user_;
};

/**
 * @brief Convolution through oneDNN (engine DNNL; engine DEFAULT in CPU
 *        builds with USE_DNNL): forward, backward data, backward weights and
 *        bias, with groups, stride, padding and dilation.
 *
 * The weights stay in Caffe's blob layout (O x I/G x KH x KW) and are
 * reordered to the primitive's layout on every pass, so a solver's in-place
 * update is always seen. Weight and bias diffs are accumulated into the blobs'
 * diffs, as Caffe's engine does (iter_size, shared weights). The primitive
 * descriptors are built in Reshape when the bottom's shape changes.
 *
 * oneDNN computes in float: double layers, and convolutions that are not 2-D
 * over axis 1 (N-d, force_nd_im2col), run ConvolutionLayer's code instead,
 * said once in the log at set-up.
 */
template <typename Dtype>
class DnnlConvolutionLayer : public ConvolutionLayer<Dtype> {
 public:
  explicit DnnlConvolutionLayer(const LayerParameter& param)
      : ConvolutionLayer<Dtype>(param), use_dnnl_(false) {}
  virtual void LayerSetUp(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Reshape(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);

  // False when the layer fell back to ConvolutionLayer's im2col + GEMM.
  bool uses_dnnl() const { return use_dnnl_; }

 protected:
  virtual void Forward_cpu(const vector<Blob<Dtype>*>& bottom,
      const vector<Blob<Dtype>*>& top);
  virtual void Backward_cpu(const vector<Blob<Dtype>*>& top,
      const vector<bool>& propagate_down, const vector<Blob<Dtype>*>& bottom);

 private:
  // Why oneDNN cannot run this layer; empty when it can.
  std::string UnsupportedReason() const;
  void BuildPrimitives(const vector<int>& bottom_shape);

  bool use_dnnl_;
  vector<int> built_shape_;
  dnnl::engine engine_;
  dnnl::stream stream_;

  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_weights_;
  // Per primitive argument: forward, backward data, backward weights.
  DnnlBuffer fwd_src_, fwd_weights_, fwd_bias_, fwd_dst_;
  DnnlBuffer bwd_data_diff_dst_, bwd_data_weights_, bwd_data_diff_src_;
  DnnlBuffer bwd_weights_src_, bwd_weights_diff_dst_, bwd_weights_diff_weights_;
  // The bias gradient of one pass, added to the bias blob's diff.
  Blob<Dtype> bias_diff_;
  dnnl::memory bias_diff_mem_;
};

}  // namespace caffe

#endif  // USE_DNNL
#endif  // CAFFE_DNNL_CONV_LAYER_HPP_
