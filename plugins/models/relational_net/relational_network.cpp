// RelationalNetwork: MI-Prometheus's relation network for SortOfCLEVR.
#include <torch/torch.h>

#include <mip/sdk/sdk.hpp>

#include "conv_input_model.hpp"

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;

constexpr int64_t kUnits = 256;

class RelationalNetwork final : public mip::sdk::Model {
 public:
  explicit RelationalNetwork(mip::sdk::Context& ctx)
      : sizes_(ctx.params()),
        cnn_model_(register_module("cnn_model",
                                   mip::vqa::ConvInputModel(sizes_.depth))) {
    // Objects: the feature-map channels and their two coordinates.
    objects_size_ = mip::vqa::ConvInputModelImpl::output_filters() + 2;
    const int64_t input_size = 2 * objects_size_ + sizes_.question_size;
    // g_theta and f_phi, under MI-Prometheus's module names.
    auto g =
        register_module("pair_network", std::make_shared<torch::nn::Module>());
    g_[0] = g->register_module("g_fc1", torch::nn::Linear(input_size, kUnits));
    g_[1] = g->register_module("g_fc2", torch::nn::Linear(kUnits, kUnits));
    g_[2] = g->register_module("g_fc3", torch::nn::Linear(kUnits, kUnits));
    g_[3] = g->register_module("g_fc4", torch::nn::Linear(kUnits, kUnits));
    auto f =
        register_module("sum_network", std::make_shared<torch::nn::Module>());
    f1_ = f->register_module("f_fc1", torch::nn::Linear(kUnits, kUnits));
    f2_ = f->register_module("f_fc2", torch::nn::Linear(kUnits, kUnits));
    f3_ =
        f->register_module("f_fc3", torch::nn::Linear(kUnits, sizes_.classes));
  }

  DataDefinitions input_definitions() const override {
    return {{"images", sizes_.images()},
            {"questions",
             {{-1, sizes_.question_size},
              torch::kFloat32,
              "encoded questions [B, Q]"}}};
  }

  DataDefinitions output_definitions() const override {
    return {
        {"predictions",
         {{-1, sizes_.classes}, torch::kFloat32, "logits [B, num_classes]"}}};
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor maps = cnn_model_->forward(batch.at("images"));
    const int64_t b = maps.size(0), h = maps.size(2), w = maps.size(3);
    const int64_t n = h * w, k = objects_size_;
    // Coordinates of each cell: channel 0 the column, 1 the row.
    const auto opts = maps.options();
    const at::Tensor cols = torch::linspace(-0.5, 0.5, w, opts);
    const at::Tensor rows = torch::linspace(-0.5, 0.5, h, opts);
    const at::Tensor coords = torch::stack({cols.unsqueeze(0).expand({h, w}),
                                            rows.unsqueeze(1).expand({h, w})})
                                  .unsqueeze(0)
                                  .expand({b, 2, h, w});
    // Objects [B, N, k].
    const at::Tensor objects =
        torch::cat({maps, coords}, 1).view({b, k, n}).transpose(1, 2);
    // g_theta's first layer on the pair (o_j, o_i, q), as MI-Prometheus
    // concatenates it (j the inner index), computed per part and broadcast:
    // the same sums without building the [B, N * N, 2k + Q] pairs.
    const at::Tensor weight = g_[0]->weight;
    const at::Tensor inner =
        torch::matmul(objects, weight.narrow(1, 0, k).t());  // [B, N, U]
    const at::Tensor outer =
        torch::matmul(objects, weight.narrow(1, k, k).t());  // [B, N, U]
    const at::Tensor question =
        torch::matmul(batch.at("questions"),
                      weight.narrow(1, 2 * k, sizes_.question_size).t()) +
        g_[0]->bias;  // [B, U]
    at::Tensor x = torch::relu(outer.unsqueeze(2) + inner.unsqueeze(1) +
                               question.view({b, 1, 1, kUnits}));
    x = x.view({b, n * n, kUnits});
    for (int i = 1; i < 4; ++i)
      x = torch::relu(g_[i]->forward(x));
    x = x.sum(1);  // [B, U]
    x = torch::relu(f1_->forward(x));
    x = torch::relu(f2_->forward(x));
    DataDict out;
    out["predictions"] =
        f3_->forward(mip::vqa::train_dropout(x, is_training()));
    return out;
  }

 private:
  mip::vqa::VqaSizes sizes_;
  mip::vqa::ConvInputModel cnn_model_;
  int64_t objects_size_ = 0;
  torch::nn::Linear g_[4] = {nullptr, nullptr, nullptr, nullptr};
  torch::nn::Linear f1_{nullptr}, f2_{nullptr}, f3_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(RelationalNetwork,
                   "RelationalNetwork",
                   "relation network: a 4-layer CNN's cells as objects, an MLP "
                   "over every pair with the question, summed, then an MLP "
                   "(MI-Prometheus's RelationalNetwork, Santoro et al. 2017)")
