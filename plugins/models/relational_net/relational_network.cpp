// RelationalNetwork: MI-Prometheus's relation network for SortOfCLEVR.
#include <torch/torch.h>

#include <mip/sdk/sdk.hpp>

#include "conv_input_model.hpp"

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kUnits = 256;

/// Memory the pair network reuses from one batch to the next: five
/// [rows, 256] tensors (the four layers' activations, kept for the backward
/// pass, and one for the gradients). At 64 scenes of 128x128 each is 268 MB;
/// made afresh for every batch they cost more in page faults (the kernel
/// zeroes every new page) than the matrix products.
struct PairWorkspace {
  at::Tensor buffers[5];

  /// Buffer `i` as a [rows, kUnits] tensor, grown when too small.
  at::Tensor get(int i, int64_t rows, const at::TensorOptions& opts) {
    at::Tensor& b = buffers[i];
    if (!b.defined() || b.size(0) < rows ||
        b.options().dtype() != opts.dtype() || b.device() != opts.device())
      b = at::empty({rows, kUnits}, opts);
    return b.narrow(0, 0, rows);
  }
};

/// g_theta over every ordered pair (o_i, o_j, q) of the N objects, summed
/// over the pairs: [B, N, k] objects and [B, Q] questions -> [B, 256]. The
/// first layer is applied to each part and added per pair; the layers and
/// ReLUs then work in place on the workspace, and the backward pass writes
/// the gradients through the same memory. The same sums as autograd over
/// the layers, without a fresh [B * N * N, 256] tensor per operation. A
/// forward pass overwrites the previous one's activations: autograd's
/// version check makes a backward pass through an older graph an error.
struct PairNetwork : torch::autograd::Function<PairNetwork> {
  static at::Tensor forward(AutogradContext* ctx,
                            const at::Tensor& objects,
                            const at::Tensor& questions,
                            const at::Tensor& w1,
                            const at::Tensor& b1,
                            const at::Tensor& w2,
                            const at::Tensor& b2,
                            const at::Tensor& w3,
                            const at::Tensor& b3,
                            const at::Tensor& w4,
                            const at::Tensor& b4,
                            PairWorkspace* work) {
    const int64_t b = objects.size(0), n = objects.size(1);
    const int64_t k = objects.size(2), q = questions.size(1);
    const int64_t rows = b * n * n;
    const auto opts = objects.options();
    // Pair (i, j) reads (o_j, o_i, q): o_j meets the first k columns.
    const at::Tensor inner = at::matmul(objects, w1.narrow(1, 0, k).t());
    const at::Tensor outer = at::matmul(objects, w1.narrow(1, k, k).t());
    const at::Tensor question =
        at::addmm(b1, questions, w1.narrow(1, 2 * k, q).t());
    at::Tensor a1 = work->get(0, rows, opts);
    at::Tensor pairs = a1.view({b, n, n, kUnits});
    at::add_out(pairs, outer.unsqueeze(2), inner.unsqueeze(1));
    a1.view({b, n * n, kUnits}).add_(question.unsqueeze(1));
    a1.relu_();
    at::Tensor a2 = work->get(1, rows, opts);
    at::addmm_out(a2, b2, a1, w2.t()).relu_();
    at::Tensor a3 = work->get(2, rows, opts);
    at::addmm_out(a3, b3, a2, w3.t()).relu_();
    at::Tensor a4 = work->get(3, rows, opts);
    at::addmm_out(a4, b4, a3, w4.t()).relu_();
    ctx->save_for_backward(
        {objects, questions, w1, w2, w3, w4, a1, a2, a3, a4});
    ctx->saved_data["work"] = reinterpret_cast<int64_t>(work);
    return a4.view({b, n * n, kUnits}).sum(1);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &objects = saved[0], &questions = saved[1];
    const at::Tensor &w1 = saved[2], &w2 = saved[3], &w3 = saved[4],
                     &w4 = saved[5];
    at::Tensor a1 = saved[6], a2 = saved[7], a3 = saved[8], a4 = saved[9];
    auto* work =
        reinterpret_cast<PairWorkspace*>(ctx->saved_data["work"].toInt());
    const int64_t b = objects.size(0), n = objects.size(1);
    const int64_t k = objects.size(2), q = questions.size(1);
    const int64_t rows = b * n * n;
    at::Tensor d = work->get(4, rows, objects.options());
    // A ReLU's output, through sign_(), becomes its derivative (0 or 1).
    // Layer 4: the gradient of the sum reaches every pair.
    at::Tensor g4 = a4.sign_();
    g4.view({b, n * n, kUnits}).mul_(grads[0].unsqueeze(1));
    const at::Tensor gw4 = at::mm(g4.t(), a3), gb4 = g4.sum(0);
    at::mm_out(d, g4, w4).mul_(a3.sign_());  // layer 3's
    const at::Tensor gw3 = at::mm(d.t(), a2), gb3 = d.sum(0);
    at::Tensor g2 = at::mm_out(g4, d, w3).mul_(a2.sign_());
    const at::Tensor gw2 = at::mm(g2.t(), a1), gb2 = g2.sum(0);
    at::Tensor g1 =
        at::mm_out(d, g2, w2).mul_(a1.sign_()).view({b, n, n, kUnits});
    // Layer 1: back to the parts each pair was made of.
    const at::Tensor g_outer = g1.sum(2), g_inner = g1.sum(1);  // [B, N, U]
    const at::Tensor g_question = g_outer.sum(1);               // [B, U]
    const at::Tensor flat = objects.reshape({b * n, k});
    const at::Tensor gw1 =
        at::cat({at::mm(g_inner.reshape({b * n, kUnits}).t(), flat),
                 at::mm(g_outer.reshape({b * n, kUnits}).t(), flat),
                 at::mm(g_question.t(), questions)},
                1);
    const at::Tensor g_objects = at::matmul(g_inner, w1.narrow(1, 0, k)) +
                                 at::matmul(g_outer, w1.narrow(1, k, k));
    const at::Tensor g_questions = at::mm(g_question, w1.narrow(1, 2 * k, q));
    return {g_objects, g_questions, gw1, g_question.sum(0), gw2, gb2, gw3,
            gb3,       gw4,         gb4, at::Tensor()};
  }
};

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
    // g_theta on every pair (o_j, o_i, q), as MI-Prometheus concatenates it
    // (j the inner index), summed over the pairs: [B, U].
    at::Tensor x = PairNetwork::apply(
        objects.contiguous(), batch.at("questions"), g_[0]->weight, g_[0]->bias,
        g_[1]->weight, g_[1]->bias, g_[2]->weight, g_[2]->bias, g_[3]->weight,
        g_[3]->bias, &work_);
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
  PairWorkspace work_;
};

}  // namespace

MIP_REGISTER_MODEL(RelationalNetwork,
                   "RelationalNetwork",
                   "relation network: a 4-layer CNN's cells as objects, an MLP "
                   "over every pair with the question, summed, then an MLP "
                   "(MI-Prometheus's RelationalNetwork, Santoro et al. 2017)")
