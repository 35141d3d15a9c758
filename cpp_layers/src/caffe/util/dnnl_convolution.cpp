#ifdef USE_DNNL

#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "caffe/common.hpp"
#include "caffe/util/dnnl_convolution.hpp"

namespace caffe {

using dnnl::memory;

// Scratch slots: forward src, weights, dst; backward diff_dst (shared by
// data and weights), weights, diff_src, src, diff_weights, and diff_dst of
// the weights pass when its layout differs from the data pass's.
enum { kFwdSrc, kFwdWeights, kFwdDst, kDiffDst, kBwdWeights, kDiffSrc,
       kBwdSrc, kDiffWeights, kDiffDstForWeights, kNumSlots };

// The thread's scratch buffer `slot`, at least `bytes` long (64-byte
// aligned, as oneDNN's own buffers). It only grows.
static void* Scratch(int slot, size_t bytes) {
  struct Free { void operator()(void* p) const { free(p); } };
  static thread_local std::unique_ptr<void, Free> buffers[kNumSlots];
  static thread_local size_t sizes[kNumSlots];
  if (bytes > sizes[slot]) {
    sizes[slot] = (bytes + 63) / 64 * 64;
    buffers[slot].reset(aligned_alloc(64, sizes[slot]));
    CHECK(buffers[slot]) << "DNNL: out of memory for " << sizes[slot]
        << " bytes of scratch";
  }
  return buffers[slot].get();
}

void DnnlBuffer::Init(const memory::desc& user, const memory::desc& prim,
    const dnnl::engine& engine, int slot, bool accumulate) {
  user_ = memory(user, engine, DNNL_MEMORY_NONE);
  slot_ = slot;
  // Accumulating needs the reorder's sum even where the layouts agree.
  needs_reorder_ = accumulate || user != prim;
  if (!needs_reorder_) {
    return;
  }
  prim_ = memory(prim, engine, DNNL_MEMORY_NONE);
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
  // oneDNN takes every buffer as void*; it only reads inputs.
  user_.set_data_handle(const_cast<void*>(data));
  if (!needs_reorder_) {
    return user_;
  }
  prim_.set_data_handle(Scratch(slot_, prim_.get_desc().get_size()));
  to_prim_.execute(*stream, user_, prim_);
  return prim_;
}

const memory& DnnlBuffer::Output(void* data) {
  user_.set_data_handle(data);
  if (!needs_reorder_) {
    return user_;
  }
  prim_.set_data_handle(Scratch(slot_, prim_.get_desc().get_size()));
  return prim_;
}

void DnnlBuffer::ToUser(dnnl::stream* stream) {
  if (needs_reorder_) {
    to_user_.execute(*stream, prim_, user_);
  }
}

// One CPU engine for every convolution: it holds no state of its own.
static const dnnl::engine& CpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

DnnlConvolution::DnnlConvolution(const memory::desc& src,
    const memory::desc& weights, bool bias, const memory::desc& dst,
    const memory::dims& strides, const memory::dims& dilates,
    const memory::dims& pad_l, const memory::dims& pad_r)
    : bias_(bias), engine_(CpuEngine()), stream_(engine_) {
  const memory::data_type f32 = memory::data_type::f32;
  const memory::desc src_any(src.dims(), f32, memory::format_tag::any);
  const memory::desc dst_any(dst.dims(), f32, memory::format_tag::any);
  const memory::desc weights_any(weights.dims(), f32,
      memory::format_tag::any);
  const memory::desc bias_md(memory::dims{dst.dims()[1]}, f32,
      memory::format_tag::x);
  const dnnl::algorithm algo = dnnl::algorithm::convolution_direct;

  const dnnl::convolution_forward::primitive_desc fwd_pd(bias
      ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
            algo, src_any, weights_any, bias_md, dst_any, strides, dilates,
            pad_l, pad_r)
      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
            algo, src_any, weights_any, dst_any, strides, dilates, pad_l,
            pad_r), engine_);
  fwd_ = dnnl::convolution_forward(fwd_pd);
  fwd_src_.Init(src, fwd_pd.src_desc(), engine_, kFwdSrc);
  fwd_weights_.Init(weights, fwd_pd.weights_desc(), engine_, kFwdWeights);
  fwd_dst_.Init(dst, fwd_pd.dst_desc(), engine_, kFwdDst);

  const dnnl::convolution_backward_data::primitive_desc bwd_data_pd(
      dnnl::convolution_backward_data::desc(algo, src_any, weights_any,
          dst_any, strides, dilates, pad_l, pad_r),
      engine_, fwd_pd);
  bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd);
  bwd_data_diff_dst_.Init(dst, bwd_data_pd.diff_dst_desc(), engine_,
      kDiffDst);
  bwd_data_weights_.Init(weights, bwd_data_pd.weights_desc(), engine_,
      kBwdWeights);
  bwd_data_diff_src_.Init(src, bwd_data_pd.diff_src_desc(), engine_,
      kDiffSrc);

  const dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd(
      bias
      ? dnnl::convolution_backward_weights::desc(algo, src_any, weights_any,
            bias_md, dst_any, strides, dilates, pad_l, pad_r)
      : dnnl::convolution_backward_weights::desc(algo, src_any, weights_any,
            dst_any, strides, dilates, pad_l, pad_r),
      engine_, fwd_pd);
  bwd_weights_ = dnnl::convolution_backward_weights(bwd_weights_pd);
  shared_diff_dst_ =
      bwd_weights_pd.diff_dst_desc() == bwd_data_pd.diff_dst_desc();
  bwd_weights_src_.Init(src, bwd_weights_pd.src_desc(), engine_, kBwdSrc);
  bwd_weights_diff_dst_.Init(dst, bwd_weights_pd.diff_dst_desc(), engine_,
      shared_diff_dst_ ? kDiffDst : kDiffDstForWeights);
  // Caffe accumulates weight gradients (iter_size, shared weights).
  bwd_weights_diff_weights_.Init(weights, bwd_weights_pd.diff_weights_desc(),
      engine_, kDiffWeights, true);
  if (bias) {
    bias_mem_ = memory(bias_md, engine_, DNNL_MEMORY_NONE);
    diff_bias_mem_ = memory(bias_md, engine_, DNNL_MEMORY_NONE);
  }
}

void DnnlConvolution::Forward(const void* src, const void* weights,
    const void* bias, void* dst) {
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, fwd_src_.FromUser(src, &stream_)},
      {DNNL_ARG_WEIGHTS, fwd_weights_.FromUser(weights, &stream_)},
      {DNNL_ARG_DST, fwd_dst_.Output(dst)}};
  if (bias_) {
    bias_mem_.set_data_handle(const_cast<void*>(bias));
    args[DNNL_ARG_BIAS] = bias_mem_;
  }
  fwd_.execute(stream_, args);
  fwd_dst_.ToUser(&stream_);
  stream_.wait();
}

void DnnlConvolution::Backward(const void* src, const void* diff_dst,
    const void* weights, void* diff_src, void* diff_weights,
    void* diff_bias) {
  memory weights_diff_dst;
  if (diff_weights) {
    weights_diff_dst = bwd_weights_diff_dst_.FromUser(diff_dst, &stream_);
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, bwd_weights_src_.FromUser(src, &stream_)},
        {DNNL_ARG_DIFF_DST, weights_diff_dst},
        {DNNL_ARG_DIFF_WEIGHTS,
         bwd_weights_diff_weights_.Output(diff_weights)}};
    if (bias_) {
      diff_bias_mem_.set_data_handle(diff_bias);
      args[DNNL_ARG_DIFF_BIAS] = diff_bias_mem_;
    }
    bwd_weights_.execute(stream_, args);
    bwd_weights_diff_weights_.ToUser(&stream_);
  }
  if (diff_src) {
    bwd_data_.execute(stream_, {
        {DNNL_ARG_DIFF_DST, diff_weights && shared_diff_dst_
            ? weights_diff_dst
            : bwd_data_diff_dst_.FromUser(diff_dst, &stream_)},
        {DNNL_ARG_WEIGHTS, bwd_data_weights_.FromUser(weights, &stream_)},
        {DNNL_ARG_DIFF_SRC, bwd_data_diff_src_.Output(diff_src)}});
    bwd_data_diff_src_.ToUser(&stream_);
  }
  stream_.wait();
}

}  // namespace caffe

#endif  // USE_DNNL
