// A section's stream of batches, and what an episode does with a batch.
#include <mip/core/episode.hpp>
#include <mip/core/handshake.hpp>
#include <mip/core/run.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace mip {

void Section::make_stream(const Run& run,
                          uint64_t stream_id,
                          Shard shard,
                          bool global_batch) {
  batches.reset();  // before its stream
  const ParamRegistry& registry = run.registry();
  const int64_t per_rank =
      registry.view(name + ".problem")->get<int64_t>("batch_size");
  const int64_t batch_size = global_batch ? per_rank : per_rank * shard.world;
  stream = std::make_unique<BatchStream>(
      problem, batch_size, run.data_seed(), stream_id,
      SamplerSpec::from_config(registry, name));
  const std::string key = name + ".problem.batch_size";
  stream->set_shard(shard, "[" + key + "] (" + registry.origin(key) + ")");
  batch_checked = false;  // a new stream, perhaps of a rebuilt problem
  if (batch_size > stream->size()) {
    run.log().warn("[" + key + "] (" + registry.origin(key) + ") is " +
                   std::to_string(batch_size) + ", more than the " +
                   std::to_string(stream->size()) +
                   " samples drawn from; every batch holds those " +
                   std::to_string(stream->size()) + " samples");
  }
  batches = std::make_unique<BatchPrefetcher>(
      *stream, PrefetchSpec::from_config(registry, name));
}

void Section::declare_statistics(const Run& run, bool with_epoch) {
  col.add_statistic("loss", "{:12.10f}");
  col.add_statistic("episode", "{:06d}");
  if (with_epoch)
    col.add_statistic("epoch", "{:02d}");
  agg.add_aggregator("episode", "{:06d}");
  agg.add_aggregator("episodes_aggregated", "{:06d}");
  sdk::add_mean_std_aggregators(agg, "loss", "{:12.10f}");
  if (with_epoch)
    agg.add_aggregator("epoch", "{:02d}");
  with_context("problem [" + run.section_problem_name(name) + "] statistics",
               [&] {
                 problem->add_statistics(col);
                 problem->add_aggregators(agg);
               });
  with_context("model [" + run.model_name() + "] statistics", [&] {
    run.model().add_statistics(col);
    run.model().add_aggregators(agg);
  });
}

sdk::DataDict Section::batch(const Run& run, int64_t index) {
  sdk::DataDict b = with_context(
      [&] {
        return "problem [" + run.section_problem_name(name) + "] " + name +
               " batch " + std::to_string(index);
      },
      [&] { return batches->take(index); });
  if (!batch_checked) {
    // Blames a problem that makes what it did not declare, before the model
    // fails on it.
    const std::string who = run.section_problem_name(name);
    check_batch(
        "[" + who + "] (" + name + ", batch " + std::to_string(index) + ")",
        with_context("problem [" + who + "] data definitions",
                     [&] { return problem->data_definitions(); }),
        b);
    batch_checked = true;
  }
  return run.device().is_cpu() ? b : b.to(run.device(), true);
}

double Section::evaluate(const Run& run,
                         const sdk::DataDict& batch,
                         int64_t episode,
                         int64_t epoch,
                         torch::Tensor* loss_out,
                         sdk::DataDict* predictions_out) {
  const auto at = [episode] {
    return " (episode " + std::to_string(episode) + ")";
  };
  sdk::Model& model = run.model();
  const sdk::DataDict predictions = with_context(
      [&] { return "model [" + run.model_name() + "] forward" + at(); },
      [&] { return model.forward(batch); });
  const torch::Tensor loss = with_context(
      [&] {
        return "problem [" + run.section_problem_name(name) + "] loss" + at();
      },
      [&] { return problem->evaluate_loss(batch, predictions); });
  const double value = loss.item<double>();
  col.collect("loss", value);
  col.collect("episode", static_cast<double>(episode));
  if (col.declared("epoch"))
    col.collect("epoch", static_cast<double>(epoch));
  with_context(
      [&] {
        return "problem [" + run.section_problem_name(name) + "] statistics" +
               at();
      },
      [&] { problem->collect_statistics(col, batch, predictions); });
  with_context(
      [&] { return "model [" + run.model_name() + "] statistics" + at(); },
      [&] { model.collect_statistics(col, batch, predictions); });
  if (loss_out)
    *loss_out = loss;
  if (predictions_out)
    *predictions_out = predictions;
  return value;
}

double Section::evaluate(const Run& run,
                         const sdk::DataDict& batch,
                         const BatchInfo& info,
                         int64_t epoch,
                         Observers& observers,
                         torch::Tensor* loss_out) {
  observers.batch_starting(info);
  sdk::DataDict predictions;
  const double value =
      evaluate(run, batch, info.episode, epoch, loss_out, &predictions);
  observers.batch_evaluated({info, batch, predictions});
  return value;
}

void Section::aggregate(const Run& run, int64_t episode) {
  if (col.count() == 0)
    return;
  agg.set("episode", static_cast<double>(episode));
  agg.set("episodes_aggregated", static_cast<double>(col.count()));
  sdk::aggregate_mean_std(col, agg, "loss");
  if (agg.declared("epoch"))
    agg.set("epoch", col.values("epoch").back());
  with_context("problem [" + run.section_problem_name(name) + "] aggregates",
               [&] { problem->aggregate_statistics(col, agg); });
  with_context("model [" + run.model_name() + "] aggregates",
               [&] { run.model().aggregate_statistics(col, agg); });
}

}  // namespace mip
