#include <ATen/ATen.h>

#include <cmath>
#include <mip/memory/controllers.hpp>
#include <mip/memory/layers.hpp>
#include <mip/sdk/error.hpp>
#include <mip/sdk/param_view.hpp>

namespace mip::memory {
namespace {

// Layer l reads the controller's input (l = 0) or the layer below.
int64_t layer_input(int64_t l, int64_t input_size, int64_t hidden) {
  return l == 0 ? input_size : hidden;
}

// The first layer keeps MI-Prometheus's attribute name (its checkpoints'
// keys); further layers are suffixed with their index.
std::string layer_name(const char* base, int64_t l) {
  return l == 0 ? std::string(base)
                : std::string(base) + "_" + std::to_string(l);
}

// `layers` stacked cells of `gates` gates registered in `parent` as base,
// base_1, ...: the first reads `in` inputs, the others the layer below.
std::vector<std::shared_ptr<CellWeights>> add_cells(torch::nn::Module& parent,
                                                    const char* base,
                                                    int64_t in,
                                                    int64_t hidden,
                                                    int64_t layers,
                                                    int64_t gates) {
  std::vector<std::shared_ptr<CellWeights>> cells;
  for (int64_t l = 0; l < layers; ++l) {
    cells.push_back(parent.register_module(
        layer_name(base, l), std::make_shared<CellWeights>(
                                 layer_input(l, in, hidden), hidden, gates)));
  }
  return cells;
}

class FeedforwardController final : public Controller {
 public:
  FeedforwardController(int64_t in, int64_t out) : Controller(in, out) {
    ff_ = add_dense(*this, "ff", in, out);
  }
  ControllerState init_state(int64_t, const at::TensorOptions&) const override {
    return {};
  }
  at::Tensor step(const at::Tensor& x, ControllerState&) override {
    return ff_->forward(x);
  }

 private:
  std::shared_ptr<Dense> ff_;
};

enum class NonLinearity { kSigmoid, kTanh, kRelu };

// MI-Prometheus's RNNController: h' = f(W [x, h] + b).
class RnnController final : public Controller {
 public:
  RnnController(int64_t in, int64_t out, int64_t layers, NonLinearity f)
      : Controller(in, out), f_(f) {
    for (int64_t l = 0; l < layers; ++l) {
      layers_.push_back(add_dense(*this, layer_name("rnn", l),
                                  layer_input(l, in, out) + out, out));
    }
  }
  ControllerState init_state(int64_t batch,
                             const at::TensorOptions& options) const override {
    return zero_states(layers_.size(), batch, options);
  }
  at::Tensor step(const at::Tensor& x, ControllerState& state) override {
    at::Tensor in = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
      at::Tensor h = layers_[l]->forward(at::cat({in, state[l]}, 1));
      switch (f_) {
        case NonLinearity::kSigmoid:
          h = at::sigmoid(h);
          break;
        case NonLinearity::kTanh:
          h = at::tanh(h);
          break;
        case NonLinearity::kRelu:
          h = at::relu(h);
          break;
      }
      state[l] = h;
      in = h;
    }
    return in;
  }

 private:
  NonLinearity f_;
  std::vector<std::shared_ptr<Dense>> layers_;
};

class LstmController final : public Controller {
 public:
  LstmController(int64_t in, int64_t out, int64_t layers)
      : Controller(in, out) {
    cells_ = add_cells(*this, "lstm", in, out, layers, 4);
  }
  ControllerState init_state(int64_t batch,
                             const at::TensorOptions& options) const override {
    return zero_states(2 * cells_.size(), batch, options);
  }
  at::Tensor step(const at::Tensor& x, ControllerState& state) override {
    at::Tensor in = x;
    for (size_t l = 0; l < cells_.size(); ++l) {
      const CellWeights& p = *cells_[l];
      auto hc = at::lstm_cell(in, {state[2 * l], state[2 * l + 1]}, p.w_ih,
                              p.w_hh, p.b_ih, p.b_hh);
      state[2 * l] = std::get<0>(hc);
      state[2 * l + 1] = std::get<1>(hc);
      in = state[2 * l];
    }
    return in;
  }

 private:
  std::vector<std::shared_ptr<CellWeights>> cells_;
};

// GRUController, and FFGRUController (a linear layer before the first cell).
class GruController final : public Controller {
 public:
  GruController(int64_t in, int64_t out, int64_t layers, int64_t ff_size)
      : Controller(in, out) {
    int64_t cell_in = in;
    if (ff_size > 0) {
      ff_ = add_dense(*this, "ff", in, ff_size);
      cell_in = ff_size;
    }
    cells_ = add_cells(*this, "gru", cell_in, out, layers, 3);
  }
  ControllerState init_state(int64_t batch,
                             const at::TensorOptions& options) const override {
    return zero_states(cells_.size(), batch, options);
  }
  at::Tensor step(const at::Tensor& x, ControllerState& state) override {
    at::Tensor in = ff_ ? ff_->forward(x) : x;
    for (size_t l = 0; l < cells_.size(); ++l) {
      const CellWeights& p = *cells_[l];
      state[l] = at::gru_cell(in, state[l], p.w_ih, p.w_hh, p.b_ih, p.b_hh);
      in = state[l];
    }
    return in;
  }

 private:
  std::shared_ptr<Dense> ff_;
  std::vector<std::shared_ptr<CellWeights>> cells_;
};

std::string joined_names() {
  std::string all;
  for (const auto& n : controller_names()) {
    all += (all.empty() ? "" : ", ") + n;
  }
  return all;
}

}  // namespace

ControllerState Controller::zero_states(
    size_t n, int64_t batch, const at::TensorOptions& options) const {
  ControllerState s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(at::zeros({batch, output_size_}, options));
  }
  return s;
}

const std::vector<std::string>& controller_names() {
  static const std::vector<std::string> names{
      "FeedforwardController", "RNNController", "GRUController",
      "LSTMController", "FFGRUController"};
  return names;
}

std::shared_ptr<Controller> make_controller(const mip::sdk::ParamView& section,
                                            int64_t input_size,
                                            int64_t output_size) {
  const std::string where = section.path();
  MIP_CHECK(section.has("name"), mip::ParameterError, "[", where,
            ".name] is required: one of ", joined_names());
  const auto name = section.get<std::string>("name");
  MIP_CHECK(input_size >= 1 && output_size >= 1, mip::ParameterError, "[",
            where,
            "]: the controller's input and output sizes must be >= 1, got ",
            input_size, " and ", output_size);
  for (const char* key : {"input_size", "output_size"}) {
    if (section.has(key)) {
      const auto given = section.get<int64_t>(key);
      const int64_t expected =
          std::string(key) == "input_size" ? input_size : output_size;
      MIP_CHECK(given == expected, mip::ParameterError, "[", where, ".", key,
                "] is ", given, ", but the model feeds its controller ",
                expected,
                " (it is derived from the model's sizes: remove the key)");
    }
  }
  const int64_t layers =
      section.has("num_layers") ? section.get<int64_t>("num_layers") : 1;
  MIP_CHECK(layers >= 1, mip::ParameterError, "[", where,
            ".num_layers] must be >= 1, got ", layers);
  if (name == "FeedforwardController") {
    MIP_CHECK(layers == 1, mip::ParameterError, "[", where, ".num_layers] is ",
              layers, ", but FeedforwardController has one layer: set it to 1");
    return std::make_shared<FeedforwardController>(input_size, output_size);
  }
  if (name == "RNNController") {
    const auto f = section.has("non_linearity")
                       ? section.get<std::string>("non_linearity")
                       : std::string("sigmoid");
    NonLinearity nl;
    if (f == "sigmoid") {
      nl = NonLinearity::kSigmoid;
    } else if (f == "tanh") {
      nl = NonLinearity::kTanh;
    } else if (f == "relu") {
      nl = NonLinearity::kRelu;
    } else {
      throw mip::ParameterError(
          mip::detail::str("[", where, ".non_linearity] is '", f,
                           "': use sigmoid, tanh or relu"));
    }
    return std::make_shared<RnnController>(input_size, output_size, layers, nl);
  }
  if (name == "LSTMController") {
    return std::make_shared<LstmController>(input_size, output_size, layers);
  }
  if (name == "GRUController") {
    return std::make_shared<GruController>(input_size, output_size, layers, 0);
  }
  if (name == "FFGRUController") {
    MIP_CHECK(section.has("ff_output_size"), mip::ParameterError, "[", where,
              ".ff_output_size] is required by FFGRUController: the width of "
              "its feed-forward layer");
    const auto ff = section.get<int64_t>("ff_output_size");
    MIP_CHECK(ff >= 1, mip::ParameterError, "[", where,
              ".ff_output_size] must be >= 1, got ", ff);
    return std::make_shared<GruController>(input_size, output_size, layers, ff);
  }
  throw mip::ParameterError(
      mip::detail::str("[", where, ".name] is '", name,
                       "', which is not a controller: use one of ",
                       joined_names(), " (spelled exactly)"));
}

}  // namespace mip::memory
