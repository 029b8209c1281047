// MI-Prometheus's visual question answering baselines: CNN_LSTM,
// StackedAttentionNetwork and MultiHopsStackedAttentionNetwork, over the
// ConvInputModel image encoder of the relational network.
#include <torch/torch.h>

#include <string>
#include <vector>

#include <mip/sdk/sdk.hpp>

#include "conv_input_model.hpp"

namespace {

using mip::sdk::DataDefinitions;
using mip::sdk::DataDict;
using mip::sdk::ParamView;
using mip::vqa::ConvInputModel;
using mip::vqa::ConvInputModelImpl;

/// fc1, ReLU, fc2, ReLU, dropout 0.5 (training only), fc3: the classifier
/// every baseline ends with (classifier.nb_hidden_nodes units).
class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(const ParamView& p, int64_t in, int64_t classes) {
    const int64_t hidden = p.get<int64_t>("classifier.nb_hidden_nodes");
    MIP_CHECK(hidden >= 1, mip::ParameterError, "[", p.path(),
              ".classifier.nb_hidden_nodes] must be >= 1, got ", hidden);
    fc1_ = register_module("fc1", torch::nn::Linear(in, hidden));
    fc2_ = register_module("fc2", torch::nn::Linear(hidden, hidden));
    fc3_ = register_module("fc3", torch::nn::Linear(hidden, classes));
  }
  at::Tensor forward(const at::Tensor& x, bool training) {
    at::Tensor h = torch::relu(fc1_->forward(x));
    h = torch::relu(fc2_->forward(h));
    return fc3_->forward(mip::vqa::train_dropout(h, training));
  }

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr};
};
TORCH_MODULE(Classifier);

/// The question LSTM of CNN_LSTM and StackedAttentionNetwork (section
/// `lstm`): reads [B, T, Q] and returns its output at the last step,
/// [B, directions * hidden_size].
torch::nn::LSTM question_lstm(const ParamView& p, int64_t input_size) {
  const int64_t hidden = p.get<int64_t>("lstm.hidden_size");
  const int64_t layers = p.get<int64_t>("lstm.num_layers");
  const double dropout = p.get<double>("lstm.dropout");
  MIP_CHECK(hidden >= 1 && layers >= 1, mip::ParameterError, "[", p.path(),
            ".lstm]: hidden_size and num_layers must be >= 1, got ", hidden,
            ", ", layers);
  MIP_CHECK(dropout >= 0 && dropout < 1, mip::ParameterError, "[", p.path(),
            ".lstm.dropout] must be in [0, 1), got ", dropout);
  return torch::nn::LSTM(torch::nn::LSTMOptions(input_size, hidden)
                             .num_layers(layers)
                             .batch_first(true)
                             .dropout(dropout)
                             .bidirectional(p.get<bool>("lstm.bidirectional")));
}

int64_t lstm_output_size(const torch::nn::LSTM& lstm) {
  const auto& o = lstm->options;
  return o.hidden_size() * (o.bidirectional() ? 2 : 1);
}

/// Refuses use_pretrained_cnn: true, which would need downloaded weights.
void refuse_pretrained(const ParamView& p) {
  MIP_CHECK(!p.get<bool>("use_pretrained_cnn"), mip::ParameterError, "[",
            p.path(),
            ".use_pretrained_cnn] is true, but pretrained ResNet weights are "
            "not available here (nothing is downloaded); set it to false to "
            "encode images with the ConvInputModel trained from scratch");
}

/// Words per question: `seq_length` (from the problem), else `fallback`
/// (0: questions are [B, Q], one vector each).
int64_t words(const ParamView& p, int64_t fallback) {
  const int64_t t = p.get<int64_t>("seq_length", fallback);
  MIP_CHECK(t >= 0, mip::ParameterError, "[", p.path(),
            ".seq_length] must be >= 1, got ", t);
  return t;
}

mip::sdk::DataDefinition questions(int64_t words, int64_t size) {
  if (words == 0)
    return {{-1, size}, torch::kFloat32, "encoded questions [B, Q]"};
  return {{-1, words, size},
          torch::kFloat32,
          "encoded questions, one vector per word [B, T, Q]"};
}

/// Image regions [B, H' * W', 24] from the encoder's maps [B, 24, H', W'].
at::Tensor regions(const at::Tensor& maps) {
  return maps.flatten(2).transpose(1, 2);
}

/// One attention layer of Yang et al.: attends over the regions [B, N, C]
/// with the query u [B, C]; returns the attended regions plus u.
class AttentionLayerImpl : public torch::nn::Module {
 public:
  AttentionLayerImpl(int64_t channels, int64_t key_query) {
    ff_image_ =
        register_module("ff_image", torch::nn::Linear(channels, key_query));
    ff_ques_ =
        register_module("ff_ques", torch::nn::Linear(channels, key_query));
    ff_attention_ =
        register_module("ff_attention", torch::nn::Linear(key_query, 1));
  }
  /// Returns u' [B, C] and the attention [B, N, 1].
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& image,
                                            const at::Tensor& u) {
    const at::Tensor key = ff_image_->forward(image);
    const at::Tensor query = ff_ques_->forward(u).unsqueeze(1);
    const at::Tensor attention =
        torch::softmax(ff_attention_->forward(torch::tanh(key + query)), 1);
    return {(attention * image).sum(1) + u, attention};
  }

 private:
  torch::nn::Linear ff_image_{nullptr}, ff_ques_{nullptr},
      ff_attention_{nullptr};
};
TORCH_MODULE(AttentionLayer);

/// Two attention layers, each querying with the previous one's output.
class StackedAttentionImpl : public torch::nn::Module {
 public:
  static constexpr int kLayers = 2;
  StackedAttentionImpl(const ParamView& p, int64_t channels) {
    const int64_t nodes = p.get<int64_t>("attention_layer.nb_nodes");
    MIP_CHECK(nodes >= 1, mip::ParameterError, "[", p.path(),
              ".attention_layer.nb_nodes] must be >= 1, got ", nodes);
    san_ = register_module("san", torch::nn::ModuleList());
    for (int i = 0; i < kLayers; ++i)
      san_->push_back(AttentionLayer(channels, nodes));
  }
  at::Tensor forward(const at::Tensor& image, at::Tensor u) {
    for (const auto& layer : *san_)
      u = layer->as<AttentionLayerImpl>()->forward(image, u).first;
    return u;
  }

 private:
  torch::nn::ModuleList san_{nullptr};
};
TORCH_MODULE(StackedAttention);

/// What the three baselines share: sizes, the image encoder, the output.
class VqaBaseline : public mip::sdk::Model {
 protected:
  explicit VqaBaseline(const ParamView& p)
      : sizes_(p), cnn_(register_module("cnn", ConvInputModel(sizes_.depth))) {}

  DataDefinitions output_definitions() const override {
    return {
        {"predictions",
         {{-1, sizes_.classes}, torch::kFloat32, "logits [B, num_classes]"}}};
  }

  mip::vqa::VqaSizes sizes_;
  ConvInputModel cnn_;
};

class CnnLstm final : public VqaBaseline {
 public:
  explicit CnnLstm(mip::sdk::Context& ctx)
      : VqaBaseline(ctx.params()), words_(words(ctx.params(), 0)) {
    const auto& p = ctx.params();
    const int64_t flat = ConvInputModelImpl::output_filters() *
                         ConvInputModelImpl::output_side(sizes_.height) *
                         ConvInputModelImpl::output_side(sizes_.width);
    lstm_ = register_module("lstm", question_lstm(p, sizes_.question_size));
    classifier_ = register_module(
        "classifier",
        Classifier(p, flat + lstm_output_size(lstm_), sizes_.classes));
  }

  DataDefinitions input_definitions() const override {
    return {{"images", sizes_.images()},
            {"questions", questions(words_, sizes_.question_size)}};
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor image = cnn_->forward(batch.at("images")).flatten(1);
    at::Tensor q = batch.at("questions");
    if (q.dim() == 2)
      q = q.unsqueeze(1);  // one step
    const at::Tensor encoded = std::get<0>(lstm_->forward(q)).select(1, -1);
    DataDict out;
    out["predictions"] =
        classifier_->forward(torch::cat({image, encoded}, 1), is_training());
    return out;
  }

 private:
  int64_t words_ = 0;
  torch::nn::LSTM lstm_{nullptr};
  Classifier classifier_{nullptr};
};

class StackedAttentionNetwork final : public VqaBaseline {
 public:
  explicit StackedAttentionNetwork(mip::sdk::Context& ctx)
      : VqaBaseline(ctx.params()), words_(words(ctx.params(), 0)) {
    const auto& p = ctx.params();
    refuse_pretrained(p);
    const int64_t c = ConvInputModelImpl::output_filters();
    lstm_ = register_module("lstm", question_lstm(p, sizes_.question_size));
    ffn_ =
        register_module("ffn", torch::nn::Linear(lstm_output_size(lstm_), c));
    attention_ = register_module("apply_attention", StackedAttention(p, c));
    classifier_ =
        register_module("classifier", Classifier(p, c, sizes_.classes));
  }

  DataDefinitions input_definitions() const override {
    return {{"images", sizes_.images()},
            {"questions", questions(words_, sizes_.question_size)}};
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor image = regions(cnn_->forward(batch.at("images")));
    at::Tensor q = batch.at("questions");
    if (q.dim() == 2)
      q = q.unsqueeze(1);  // one step
    const at::Tensor u0 =
        ffn_->forward(std::get<0>(lstm_->forward(q)).select(1, -1));
    DataDict out;
    out["predictions"] =
        classifier_->forward(attention_->forward(image, u0), is_training());
    return out;
  }

 private:
  int64_t words_ = 0;
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear ffn_{nullptr};
  StackedAttention attention_{nullptr};
  Classifier classifier_{nullptr};
};

class MultiHopsStackedAttentionNetwork final : public VqaBaseline {
 public:
  explicit MultiHopsStackedAttentionNetwork(mip::sdk::Context& ctx)
      : VqaBaseline(ctx.params()) {
    const auto& p = ctx.params();
    refuse_pretrained(p);
    words_ = words(p, p.get<int64_t>("default_nb_hops"));
    MIP_CHECK(words_ >= 1, mip::ParameterError, "[", p.path(),
              ".seq_length] (or default_nb_hops) must be >= 1, got ", words_);
    const int64_t c = ConvInputModelImpl::output_filters();
    lstm_ =
        register_module("lstm", torch::nn::LSTMCell(sizes_.question_size, c));
    attention_ = register_module("apply_attention", StackedAttention(p, c));
    classifier_ = register_module(
        "classifier", Classifier(p, (words_ + 1) * c, sizes_.classes));
  }

  DataDefinitions input_definitions() const override {
    return {{"images", sizes_.images()},
            {"questions", questions(words_, sizes_.question_size)}};
  }

  DataDict forward(const DataDict& batch) override {
    const at::Tensor image = regions(cnn_->forward(batch.at("images")));
    const at::Tensor q = batch.at("questions");
    const int64_t b = q.size(0), c = ConvInputModelImpl::output_filters();
    at::Tensor h = torch::zeros({b, c}, image.options());
    at::Tensor cell = torch::zeros({b, c}, image.options());
    std::vector<at::Tensor> hops;
    for (int64_t t = 0; t < q.size(1); ++t) {
      std::tie(h, cell) =
          lstm_->forward(q.select(1, t), std::make_tuple(h, cell));
      hops.push_back(attention_->forward(image, h));
    }
    hops.push_back(h);
    DataDict out;
    out["predictions"] =
        classifier_->forward(torch::cat(hops, 1), is_training());
    return out;
  }

 private:
  int64_t words_ = 3;
  torch::nn::LSTMCell lstm_{nullptr};
  StackedAttention attention_{nullptr};
  Classifier classifier_{nullptr};
};

}  // namespace

MIP_REGISTER_MODEL(CnnLstm,
                   "CNN_LSTM",
                   "a 4-layer CNN encodes the image, an LSTM the question; "
                   "both codes through three linear layers (MI-Prometheus's "
                   "CNN_LSTM)")
MIP_REGISTER_MODEL(StackedAttentionNetwork,
                   "StackedAttentionNetwork",
                   "an LSTM's question code attends twice over a 4-layer "
                   "CNN's image regions (MI-Prometheus's "
                   "StackedAttentionNetwork, Yang et al. 2016)")
MIP_REGISTER_MODEL(MultiHopsStackedAttentionNetwork,
                   "MultiHopsStackedAttentionNetwork",
                   "one stacked attention over the image regions per "
                   "question word, read by an LSTM cell (MI-Prometheus's "
                   "MultiHopsStackedAttentionNetwork)")
