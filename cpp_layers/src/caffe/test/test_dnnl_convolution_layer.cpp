#ifdef USE_DNNL

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/filler.hpp"
#include "caffe/layer_factory.hpp"
#include "caffe/layers/conv_layer.hpp"
#include "caffe/layers/dnnl_conv_layer.hpp"
#include "caffe/layers/region_layer.hpp"
#include "caffe/util/math_functions.hpp"

#include "caffe/test/test_caffe_main.hpp"

namespace caffe {

// A convolution of one of the seven nets (tools/generate_prototxt.py), on a
// batch of 2. Maps the nets run at 56 x 56 or more are cut to 15 x 15 (odd,
// so stride 2 drops a column as at 7 x 7 -> 4 x 4): the kernels oneDNN picks
// depend on the channels, kernel, stride and group, not on the map's size.
struct ConvConfig {
  const char* where;
  int channels, height, width;
  int num_output, kernel, stride, pad, group, dilation;
  bool bias;
};

const ConvConfig kNetConvs[] = {
  // ResNet-18 (resnet18, dscmr, ldscmr): no bias.
  {"resnet18 conv1 7x7/2", 3, 30, 30, 64, 7, 2, 3, 1, 1, false},
  {"ldscmr conv1 7x7/2 after Region", 32, 15, 15, 64, 7, 2, 3, 1, 1, false},
  {"resnet18 1x1 64", 64, 15, 15, 64, 1, 1, 0, 1, 1, false},
  {"resnet18 3x3 64", 64, 15, 15, 64, 3, 1, 1, 1, 1, false},
  {"resnet18 1x1/2 64->128", 64, 15, 15, 128, 1, 2, 0, 1, 1, false},
  {"resnet18 3x3/2 64->128", 64, 15, 15, 128, 3, 2, 1, 1, 1, false},
  {"resnet18 3x3 128", 128, 28, 28, 128, 3, 1, 1, 1, 1, false},
  {"resnet18 1x1/2 128->256", 128, 28, 28, 256, 1, 2, 0, 1, 1, false},
  {"resnet18 3x3/2 128->256", 128, 28, 28, 256, 3, 2, 1, 1, 1, false},
  {"resnet18 3x3 256", 256, 14, 14, 256, 3, 1, 1, 1, 1, false},
  {"resnet18 1x1/2 256->512", 256, 14, 14, 512, 1, 2, 0, 1, 1, false},
  {"resnet18 3x3/2 256->512", 256, 14, 14, 512, 3, 2, 1, 1, 1, false},
  {"resnet18 3x3 512", 512, 7, 7, 512, 3, 1, 1, 1, 1, false},
  // L-DSCMR's first convolution and its Region's per-patch convolutions.
  {"ldscmr conv0 11x11", 3, 24, 24, 32, 11, 1, 0, 1, 1, false},
  {"ldscmr region patch 3x3", 32, 26, 27, 32, 3, 1, 1, 1, 1, true},
  // AlexNet: bias, group 2.
  // 37 x 37 -> 7 x 7 drops 2 columns (oneDNN's right padding -2), as 224
  // drops 1.
  {"alexnet conv1 11x11/4", 3, 37, 37, 96, 11, 4, 0, 1, 1, true},
  {"alexnet conv2 5x5 g2", 96, 13, 13, 256, 5, 1, 2, 2, 1, true},
  {"alexnet conv3 3x3", 256, 13, 13, 384, 3, 1, 1, 1, 1, true},
  {"alexnet conv4 3x3 g2", 384, 13, 13, 384, 3, 1, 1, 2, 1, true},
  {"alexnet conv5 3x3 g2", 384, 13, 13, 256, 3, 1, 1, 2, 1, true},
  // DRML: bias, no padding.
  {"drml conv1 11x11", 3, 24, 24, 32, 11, 1, 0, 1, 1, true},
  {"drml conv3 8x8", 32, 20, 20, 16, 8, 1, 0, 1, 1, true},
  {"drml conv4 8x8", 16, 13, 13, 16, 8, 1, 0, 1, 1, true},
  {"drml conv5 6x6/2", 16, 17, 17, 16, 6, 2, 0, 1, 1, true},
  {"drml conv6 5x5", 16, 9, 9, 16, 5, 1, 0, 1, 1, true},
  // Not in the nets: dilation, and an uneven stride/pad remainder.
  {"dilated 3x3 d2", 16, 12, 11, 24, 3, 1, 2, 1, 2, true},
  {"dilated 3x3/2 d3 g2", 16, 16, 13, 8, 3, 2, 1, 2, 3, true},
};

class DnnlConvolutionLayerTest : public CPUDeviceTest<float> {
 protected:
  DnnlConvolutionLayerTest() : bottom_(new Blob<float>()) {
    bottom_vec_.push_back(bottom_.get());
  }

  static LayerParameter ConvParam(const ConvConfig& c,
      ConvolutionParameter_Engine engine) {
    LayerParameter param;
    param.set_name(c.where);
    param.set_type("Convolution");
    ConvolutionParameter* conv = param.mutable_convolution_param();
    conv->set_num_output(c.num_output);
    conv->add_kernel_size(c.kernel);
    conv->add_stride(c.stride);
    conv->add_pad(c.pad);
    conv->add_dilation(c.dilation);
    conv->set_group(c.group);
    conv->set_bias_term(c.bias);
    conv->mutable_weight_filler()->set_type("gaussian");
    conv->mutable_weight_filler()->set_std(0.1);
    conv->mutable_bias_filler()->set_type("gaussian");
    conv->set_engine(engine);
    return param;
  }

  // EXPECTs |actual - expected| <= 1e-4 relative: to the element, or, for
  // elements near zero (sums that cancel), to the blob's mean magnitude.
  static void ExpectNear(const float* actual, const float* expected,
      int count, const std::string& what) {
    double mean_abs = 0;
    for (int i = 0; i < count; ++i) {
      mean_abs += std::fabs(expected[i]) / count;
    }
    ASSERT_GT(mean_abs, 0) << what;
    int bad = 0;
    for (int i = 0; i < count && bad < 5; ++i) {
      const double scale = std::max<double>(std::fabs(expected[i]), mean_abs);
      if (std::fabs(actual[i] - expected[i]) > 1e-4 * scale) {
        ADD_FAILURE() << what << " [" << i << "]: " << actual[i]
            << " vs CAFFE " << expected[i];
        ++bad;
      }
    }
  }

  // Runs one configuration through both engines, with the same weights,
  // bottom, top diff and (non-zero) starting parameter diffs, and compares
  // the top, the bottom diff and the accumulated weight and bias diffs.
  void CompareEngines(const ConvConfig& c) {
    const std::string where(c.where);
    bottom_->Reshape(2, c.channels, c.height, c.width);
    FillerParameter filler_param;
    GaussianFiller<float> filler(filler_param);
    filler.Fill(bottom_.get());

    shared_ptr<Layer<float> > caffe_layer = LayerRegistry<float>::CreateLayer(
        ConvParam(c, ConvolutionParameter_Engine_CAFFE));
    shared_ptr<Layer<float> > dnnl_layer = LayerRegistry<float>::CreateLayer(
        ConvParam(c, ConvolutionParameter_Engine_DEFAULT));
    DnnlConvolutionLayer<float>* dnnl =
        dynamic_cast<DnnlConvolutionLayer<float>*>(dnnl_layer.get());
    ASSERT_TRUE(dnnl != NULL) << where << ": DEFAULT is not DNNL";
    Blob<float> caffe_top, dnnl_top;
    vector<Blob<float>*> caffe_top_vec(1, &caffe_top);
    vector<Blob<float>*> dnnl_top_vec(1, &dnnl_top);
    caffe_layer->SetUp(bottom_vec_, caffe_top_vec);
    dnnl_layer->SetUp(bottom_vec_, dnnl_top_vec);
    ASSERT_TRUE(dnnl->uses_dnnl()) << where;
    ASSERT_EQ(caffe_top.shape(), dnnl_top.shape()) << where;
    ASSERT_EQ(caffe_layer->blobs().size(), dnnl_layer->blobs().size());
    for (int b = 0; b < caffe_layer->blobs().size(); ++b) {
      Blob<float>* blob = caffe_layer->blobs()[b].get();
      filler.Fill(blob);
      caffe_copy(blob->count(), blob->cpu_data(), blob->mutable_cpu_diff());
      dnnl_layer->blobs()[b]->CopyFrom(*blob, false);
      dnnl_layer->blobs()[b]->CopyFrom(*blob, true);
    }

    caffe_layer->Forward(bottom_vec_, caffe_top_vec);
    dnnl_layer->Forward(bottom_vec_, dnnl_top_vec);
    ExpectNear(dnnl_top.cpu_data(), caffe_top.cpu_data(), caffe_top.count(),
        where + " top");

    filler.Fill(&caffe_top);
    caffe_copy(caffe_top.count(), caffe_top.cpu_data(),
        caffe_top.mutable_cpu_diff());
    caffe_copy(caffe_top.count(), caffe_top.cpu_diff(),
        dnnl_top.mutable_cpu_diff());
    const vector<bool> propagate_down(1, true);
    caffe_layer->Backward(caffe_top_vec, propagate_down, bottom_vec_);
    Blob<float> caffe_bottom_diff;
    caffe_bottom_diff.CopyFrom(*bottom_, true, true);
    dnnl_layer->Backward(dnnl_top_vec, propagate_down, bottom_vec_);
    ExpectNear(bottom_->cpu_diff(), caffe_bottom_diff.cpu_diff(),
        bottom_->count(), where + " bottom diff");
    ExpectNear(dnnl_layer->blobs()[0]->cpu_diff(),
        caffe_layer->blobs()[0]->cpu_diff(), caffe_layer->blobs()[0]->count(),
        where + " weight diff");
    if (c.bias) {
      ExpectNear(dnnl_layer->blobs()[1]->cpu_diff(),
          caffe_layer->blobs()[1]->cpu_diff(),
          caffe_layer->blobs()[1]->count(), where + " bias diff");
    }
  }

  shared_ptr<Blob<float> > bottom_;
  vector<Blob<float>*> bottom_vec_;
};

TEST_F(DnnlConvolutionLayerTest, TestNetConfigurationsMatchCaffe) {
  const int num_configs = sizeof(kNetConvs) / sizeof(kNetConvs[0]);
  for (int i = 0; i < num_configs; ++i) {
    CompareEngines(kNetConvs[i]);
  }
}

TEST_F(DnnlConvolutionLayerTest, TestReshapeRebuildsPrimitives) {
  const ConvConfig c = {"reshaped", 8, 9, 9, 16, 3, 2, 1, 1, 1, true};
  LayerParameter param = ConvParam(c, ConvolutionParameter_Engine_DEFAULT);
  shared_ptr<Layer<float> > caffe_layer = LayerRegistry<float>::CreateLayer(
      ConvParam(c, ConvolutionParameter_Engine_CAFFE));
  shared_ptr<Layer<float> > dnnl_layer = LayerRegistry<float>::CreateLayer(
      param);
  Blob<float> caffe_top, dnnl_top;
  vector<Blob<float>*> caffe_top_vec(1, &caffe_top);
  vector<Blob<float>*> dnnl_top_vec(1, &dnnl_top);
  FillerParameter filler_param;
  GaussianFiller<float> filler(filler_param);
  bottom_->Reshape(2, 8, 9, 9);
  filler.Fill(bottom_.get());
  caffe_layer->SetUp(bottom_vec_, caffe_top_vec);
  dnnl_layer->SetUp(bottom_vec_, dnnl_top_vec);
  for (int b = 0; b < caffe_layer->blobs().size(); ++b) {
    dnnl_layer->blobs()[b]->CopyFrom(*caffe_layer->blobs()[b]);
  }
  dnnl_layer->Forward(bottom_vec_, dnnl_top_vec);
  // A new batch size and map size: the primitives built for 2 x 8 x 9 x 9
  // would read and write the wrong extents.
  bottom_->Reshape(3, 8, 12, 7);
  filler.Fill(bottom_.get());
  caffe_layer->Reshape(bottom_vec_, caffe_top_vec);
  dnnl_layer->Reshape(bottom_vec_, dnnl_top_vec);
  ASSERT_EQ(vector<int>({3, 16, 6, 4}), dnnl_top.shape());
  caffe_layer->Forward(bottom_vec_, caffe_top_vec);
  dnnl_layer->Forward(bottom_vec_, dnnl_top_vec);
  ExpectNear(dnnl_top.cpu_data(), caffe_top.cpu_data(), caffe_top.count(),
      "reshaped top");
}

TEST_F(DnnlConvolutionLayerTest, TestWeightUpdateIsSeen) {
  // A solver updates the weights in place between passes; a reordered copy
  // kept from the first pass would give the first pass's top again.
  const ConvConfig c = kNetConvs[3];
  shared_ptr<Layer<float> > layer = LayerRegistry<float>::CreateLayer(
      ConvParam(c, ConvolutionParameter_Engine_DEFAULT));
  shared_ptr<Layer<float> > caffe_layer = LayerRegistry<float>::CreateLayer(
      ConvParam(c, ConvolutionParameter_Engine_CAFFE));
  Blob<float> top, caffe_top;
  vector<Blob<float>*> top_vec(1, &top), caffe_top_vec(1, &caffe_top);
  bottom_->Reshape(2, c.channels, c.height, c.width);
  FillerParameter filler_param;
  GaussianFiller<float> filler(filler_param);
  filler.Fill(bottom_.get());
  layer->SetUp(bottom_vec_, top_vec);
  caffe_layer->SetUp(bottom_vec_, caffe_top_vec);
  layer->Forward(bottom_vec_, top_vec);
  caffe_scal(layer->blobs()[0]->count(), 2.f,
      layer->blobs()[0]->mutable_cpu_data());
  caffe_layer->blobs()[0]->CopyFrom(*layer->blobs()[0]);
  layer->Forward(bottom_vec_, top_vec);
  caffe_layer->Forward(bottom_vec_, caffe_top_vec);
  ExpectNear(top.cpu_data(), caffe_top.cpu_data(), top.count(),
      "top after update");
}

TEST_F(DnnlConvolutionLayerTest, TestRegionEnginesAgree) {
  // L-DSCMR's Region on a map whose 3 x 3 grid has patches of 3 sizes, in
  // TRAIN: engine DEFAULT (DNNL) against CAFFE on the top, the bottom diff,
  // the diffs of blobs 0-3 (pre-filled, to check accumulation) and the
  // running statistics.
  LayerParameter param;
  param.set_type("Region");
  param.mutable_region_param()->set_grid_h(3);
  param.mutable_region_param()->set_grid_w(3);
  LayerParameter caffe_param(param);
  caffe_param.mutable_region_param()->set_engine(RegionParameter_Engine_CAFFE);
  RegionLayer<float> dnnl_region(param), caffe_region(caffe_param);
  bottom_->Reshape(4, 32, 26, 25);
  FillerParameter filler_param;
  GaussianFiller<float> filler(filler_param);
  filler.Fill(bottom_.get());
  Blob<float> dnnl_top, caffe_top;
  vector<Blob<float>*> dnnl_top_vec(1, &dnnl_top), caffe_top_vec(1, &caffe_top);
  dnnl_region.SetUp(bottom_vec_, dnnl_top_vec);
  caffe_region.SetUp(bottom_vec_, caffe_top_vec);
  for (int b = 0; b < 4; ++b) {
    Blob<float>* blob = caffe_region.blobs()[b].get();
    filler.Fill(blob);
    caffe_copy(blob->count(), blob->cpu_data(), blob->mutable_cpu_diff());
    dnnl_region.blobs()[b]->CopyFrom(*blob, false);
    dnnl_region.blobs()[b]->CopyFrom(*blob, true);
  }
  dnnl_region.Forward(bottom_vec_, dnnl_top_vec);
  caffe_region.Forward(bottom_vec_, caffe_top_vec);
  ExpectNear(dnnl_top.cpu_data(), caffe_top.cpu_data(), caffe_top.count(),
      "Region top");
  for (int b = 4; b < 7; ++b) {
    ExpectNear(dnnl_region.blobs()[b]->cpu_data(), caffe_region.blobs()[b]->cpu_data(),
        caffe_region.blobs()[b]->count(), "Region running statistics");
  }
  filler.Fill(&caffe_top);
  caffe_copy(caffe_top.count(), caffe_top.cpu_data(),
      caffe_top.mutable_cpu_diff());
  caffe_copy(caffe_top.count(), caffe_top.cpu_diff(),
      dnnl_top.mutable_cpu_diff());
  const vector<bool> propagate_down(1, true);
  caffe_region.Backward(caffe_top_vec, propagate_down, bottom_vec_);
  Blob<float> caffe_bottom_diff;
  caffe_bottom_diff.CopyFrom(*bottom_, true, true);
  dnnl_region.Backward(dnnl_top_vec, propagate_down, bottom_vec_);
  ExpectNear(bottom_->cpu_diff(), caffe_bottom_diff.cpu_diff(),
      bottom_->count(), "Region bottom diff");
  const char* names[] = {"weights", "bias", "gamma", "beta"};
  for (int b = 0; b < 4; ++b) {
    ExpectNear(dnnl_region.blobs()[b]->cpu_diff(), caffe_region.blobs()[b]->cpu_diff(),
        caffe_region.blobs()[b]->count(), std::string("Region diff of ") + names[b]);
  }
}

// Configurations oneDNN does not run fall back to ConvolutionLayer's code:
// its results, bit for bit.
template <typename Dtype>
void ExpectFallbackMatchesCaffe(const vector<int>& bottom_shape,
    const LayerParameter& param) {
  LayerParameter caffe_param(param);
  caffe_param.mutable_convolution_param()->set_engine(
      ConvolutionParameter_Engine_CAFFE);
  shared_ptr<Layer<Dtype> > layer = LayerRegistry<Dtype>::CreateLayer(param);
  shared_ptr<Layer<Dtype> > caffe_layer =
      LayerRegistry<Dtype>::CreateLayer(caffe_param);
  DnnlConvolutionLayer<Dtype>* dnnl =
      dynamic_cast<DnnlConvolutionLayer<Dtype>*>(layer.get());
  ASSERT_TRUE(dnnl != NULL);
  Blob<Dtype> bottom(bottom_shape), top, caffe_top;
  FillerParameter filler_param;
  GaussianFiller<Dtype> filler(filler_param);
  filler.Fill(&bottom);
  vector<Blob<Dtype>*> bottom_vec(1, &bottom);
  vector<Blob<Dtype>*> top_vec(1, &top), caffe_top_vec(1, &caffe_top);
  layer->SetUp(bottom_vec, top_vec);
  caffe_layer->SetUp(bottom_vec, caffe_top_vec);
  EXPECT_FALSE(dnnl->uses_dnnl());
  for (int b = 0; b < layer->blobs().size(); ++b) {
    caffe_layer->blobs()[b]->CopyFrom(*layer->blobs()[b]);
  }
  layer->Forward(bottom_vec, top_vec);
  caffe_layer->Forward(bottom_vec, caffe_top_vec);
  ASSERT_EQ(caffe_top.count(), top.count());
  for (int i = 0; i < top.count(); ++i) {
    ASSERT_EQ(caffe_top.cpu_data()[i], top.cpu_data()[i]) << i;
  }
  filler.Fill(&top);
  caffe_copy(top.count(), top.cpu_data(), top.mutable_cpu_diff());
  caffe_copy(top.count(), top.cpu_data(), caffe_top.mutable_cpu_diff());
  const vector<bool> propagate_down(1, true);
  layer->Backward(top_vec, propagate_down, bottom_vec);
  Blob<Dtype> bottom_diff;
  bottom_diff.CopyFrom(bottom, true, true);
  caffe_layer->Backward(caffe_top_vec, propagate_down, bottom_vec);
  for (int i = 0; i < bottom.count(); ++i) {
    ASSERT_EQ(bottom.cpu_diff()[i], bottom_diff.cpu_diff()[i]) << i;
  }
  const Blob<Dtype>& weights = *layer->blobs()[0];
  for (int i = 0; i < weights.count(); ++i) {
    ASSERT_EQ(caffe_layer->blobs()[0]->cpu_diff()[i], weights.cpu_diff()[i]);
  }
}

TEST_F(DnnlConvolutionLayerTest, TestFallbackToCaffe) {
  LayerParameter param;
  param.set_type("Convolution");
  ConvolutionParameter* conv = param.mutable_convolution_param();
  conv->set_num_output(4);
  conv->add_kernel_size(3);
  conv->add_pad(1);
  conv->mutable_weight_filler()->set_type("gaussian");
  conv->mutable_bias_filler()->set_type("gaussian");
  // oneDNN computes in float: a double layer runs Caffe's code.
  ExpectFallbackMatchesCaffe<double>(vector<int>({2, 3, 6, 5}), param);
  // A 3-D convolution.
  ExpectFallbackMatchesCaffe<float>(vector<int>({2, 3, 5, 6, 4}), param);
  // Caffe's N-d im2col, asked for by name.
  conv->set_force_nd_im2col(true);
  ExpectFallbackMatchesCaffe<float>(vector<int>({2, 3, 6, 5}), param);
}

}  // namespace caffe

#endif  // USE_DNNL
