#ifndef CAFFE_DNNL_CONV_LAYER_HPP_
#define CAFFE_DNNL_CONV_LAYER_HPP_

#ifdef USE_DNNL

#include <string>
#include <vector>

#include "caffe/blob.hpp"
#include "caffe/layer.hpp"
#include "caffe/layers/conv_layer.hpp"
#include "caffe/proto/caffe.pb.h"
#include "caffe/util/dnnl_convolution.hpp"

namespace caffe {

/**
 * @brief Convolution through oneDNN (engine DNNL; engine DEFAULT in CPU
 *        builds with USE_DNNL): forward, backward data, backward weights and
 *        bias, with groups, stride, padding and dilation.
 *
 * The weights stay in Caffe's blob layout (O x I/G x KH x KW) and are
 * reordered to the primitive's layout on every pass, so a solver's in-place
 * update is always seen (DnnlConvolution). Weight and bias diffs are
 * accumulated into the blobs' diffs, as Caffe's engine does (iter_size,
 * shared weights). The primitives are built in Reshape when the bottom's
 * shape changes.
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

  bool use_dnnl_;
  // The primitives, for the bottom shape they were built for.
  shared_ptr<DnnlConvolution> conv_;
  vector<int> conv_shape_;
  // The bias gradient of one pass, added to the bias blob's diff.
  Blob<Dtype> bias_diff_;
};

}  // namespace caffe

#endif  // USE_DNNL
#endif  // CAFFE_DNNL_CONV_LAYER_HPP_
