#ifndef CAFFE_UTIL_DNNL_CONVOLUTION_HPP_
#define CAFFE_UTIL_DNNL_CONVOLUTION_HPP_

#ifdef USE_DNNL

#include <oneapi/dnnl/dnnl.hpp>

namespace caffe {

/**
 * @brief A caller's float buffer handed to a oneDNN primitive. When the
 *        primitive takes the caller's layout the buffer is used in place;
 *        otherwise it goes through a reorder into, or out of, one of the
 *        thread's scratch buffers (the reordered copy lives only within one
 *        call, so all convolutions share them). The reorders are built once,
 *        in Init.
 */
class DnnlBuffer {
 public:
  DnnlBuffer() : needs_reorder_(false), slot_(0) {}
  // user: the caller's layout; prim: the layout the primitive asked for;
  // slot: the scratch buffer for the copy (buffers of one call need their
  // own). accumulate: ToUser adds into the caller's buffer.
  void Init(const dnnl::memory::desc& user, const dnnl::memory::desc& prim,
      const dnnl::engine& engine, int slot, bool accumulate = false);
  // The memory to pass for an input: data, reordered in if needed.
  const dnnl::memory& FromUser(const void* data, dnnl::stream* stream);
  // The memory to pass for an output; ToUser then writes it to data.
  const dnnl::memory& Output(void* data);
  void ToUser(dnnl::stream* stream);

 private:
  bool needs_reorder_;
  int slot_;
  dnnl::memory user_, prim_;
  dnnl::reorder to_prim_, to_user_;
};

/**
 * @brief One 2-D float convolution through oneDNN, on buffers in the
 *        caller's plain (possibly strided) layouts: forward, backward data,
 *        backward weights and bias. The primitives pick their own blocked
 *        layouts; inputs are reordered in and outputs out on every call, so
 *        no copy of the caller's data (weights included) is ever kept.
 */
class DnnlConvolution {
 public:
  // src N x C x H x W, weights O x C x KH x KW or G x O/G x C/G x KH x KW,
  // dst N x O x OH x OW; bias: a bias of O values. strides, dilates (from 0,
  // oneDNN's convention), pad_l and pad_r are per spatial axis.
  DnnlConvolution(const dnnl::memory::desc& src,
      const dnnl::memory::desc& weights, bool bias,
      const dnnl::memory::desc& dst, const dnnl::memory::dims& strides,
      const dnnl::memory::dims& dilates, const dnnl::memory::dims& pad_l,
      const dnnl::memory::dims& pad_r);

  // dst = conv(src, weights) (+ bias).
  void Forward(const void* src, const void* weights, const void* bias,
      void* dst);
  // Gradients from diff_dst, each skipped when its pointer is NULL:
  // diff_src = the gradient of src; diff_weights += the gradient of the
  // weights, and then (with a bias) diff_bias = the gradient of the bias.
  void Backward(const void* src, const void* diff_dst, const void* weights,
      void* diff_src, void* diff_weights, void* diff_bias);

 private:
  bool bias_;
  // Backward data and backward weights take diff_dst in the same layout:
  // it is reordered once for both.
  bool shared_diff_dst_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_weights_;
  DnnlBuffer fwd_src_, fwd_weights_, fwd_dst_;
  DnnlBuffer bwd_data_diff_dst_, bwd_data_weights_, bwd_data_diff_src_;
  DnnlBuffer bwd_weights_src_, bwd_weights_diff_dst_;
  DnnlBuffer bwd_weights_diff_weights_;
  dnnl::memory bias_mem_, diff_bias_mem_;
};

}  // namespace caffe

#endif  // USE_DNNL
#endif  // CAFFE_UTIL_DNNL_CONVOLUTION_HPP_
