// The trainers: mip-online-trainer and mip-offline-trainer (one loop, two
// schedules; MIP-BEHAVIOUR.md section 3), checkpoints and exact resume.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <mip/core/files.hpp>
#include <mip/core/training.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

constexpr const char* kOnlineDefaults = R"(
training:
  terminal_conditions:
    loss_stop: 1.0e-5
    episode_limit: 100000
    epoch_limit: -1
validation:
  partial_validation_interval: 100
)";

constexpr const char* kOfflineDefaults = R"(
training:
  terminal_conditions:
    loss_stop: 1.0e-5
    episode_limit: -1
    epoch_limit: 10
    early_stop_validations: -1
    early_stop_delta: 0.0
validation:
  partial_validation_interval: -1
)";

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

/// Fault injection for the kill-and-resume tests: MIP_FAULT_KILL_AT_EPISODE=N
/// sends SIGKILL to this process right after episode N's step.
int64_t fault_kill_episode() {
  const char* v = std::getenv("MIP_FAULT_KILL_AT_EPISODE");
  return v ? std::atoll(v) : -1;
}

/// Episodes left out of the timing in status.yaml (allocator, caches).
constexpr int64_t kWarmupEpisodes = 5;

double unix_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string stats_key(const std::string& key) {
  return "stats.training." + key;
}

/// A NaN or infinite loss ends the run; the checkpoints already written stay.
void check_finite(double loss, const std::string& what, int64_t episode) {
  if (std::isfinite(loss))
    return;
  throw TrainingFailed(
      "the " + what + " loss is " + std::to_string(loss) + " at episode " +
      std::to_string(episode) +
      "; stopped (lower the learning rate or clip gradients). The last "
      "good checkpoints (models/) are kept.");
}

}  // namespace

Trainer::Trainer(WorkerOptions options, Mode mode)
    : Session(std::move(options),
              mode == Mode::kOnline ? kOnlineDefaults : kOfflineDefaults),
      mode_(mode) {}

bool Trainer::curriculum_enabled() const {
  return registry_.has("training.curriculum_learning");
}

void Trainer::setup() {
  std::vector<std::string> files = opts_.configs;
  if (!opts_.resume.empty()) {
    MIP_CHECK(opts_.configs.empty(), ConfigError,
              "--resume takes the configuration saved in the experiment "
              "folder; drop --config");
    MIP_CHECK(!opts_.seed, ConfigError,
              "--resume keeps the run's seeds; drop --seed");
    const fs::path dir = fs::path(expand_user(opts_.resume));
    MIP_CHECK(
        fs::is_regular_file(dir / "training_configuration.yaml") &&
            fs::is_regular_file(dir / "models" / "model_last.pt"),
        ConfigError, "--resume [", opts_.resume,
        "]: not an experiment folder with training_configuration.yaml and "
        "models/model_last.pt");
    dir_ = fs::canonical(dir).string();
    resumed_ = true;
    files = {(fs::path(dir_) / "training_configuration.yaml").string()};
    if (!opts_.sets.empty())
      log_.warn(
          "--set with --resume changes the run: it will differ from one never "
          "stopped");
  }
  configure(files);
  const Component& train_c = problem_component("training");
  const Component& valid_c = problem_component("validation");
  if (registry_.has("testing.problem.name"))
    problem_component("testing");
  const Component& model_c = model_component();
  problem_name_ = registry_.view("training.problem")->get<std::string>("name");
  model_name_ = model_c.name;

  const auto tc = registry_.view("training.terminal_conditions");
  auto origin = [&](const std::string& k) { return registry_.origin(k); };
  loss_stop_ = tc->get<double>("loss_stop");
  episode_limit_ = tc->get<int64_t>("episode_limit");
  epoch_limit_ = tc->get<int64_t>("epoch_limit");
  interval_ =
      registry_.view("validation")->get<int64_t>("partial_validation_interval");
  if (mode_ == Mode::kOnline) {
    MIP_CHECK(episode_limit_ > 0, ConfigError,
              "[training.terminal_conditions.episode_limit] must be > 0 for "
              "the online "
              "trainer, got ",
              episode_limit_, " (",
              origin("training.terminal_conditions.episode_limit"), ")");
    MIP_CHECK(
        interval_ > 0, ConfigError,
        "[validation.partial_validation_interval] must be > 0 for the online "
        "trainer, got ",
        interval_, " (", origin("validation.partial_validation_interval"), ")");
  } else {
    MIP_CHECK(epoch_limit_ > 0, ConfigError,
              "[training.terminal_conditions.epoch_limit] must be > 0 for the "
              "offline "
              "trainer, got ",
              epoch_limit_, " (",
              origin("training.terminal_conditions.epoch_limit"), ")");
    early_stop_ = tc->get<int64_t>("early_stop_validations");
    early_stop_delta_ = tc->get<double>("early_stop_delta");
  }
  MIP_CHECK(registry_.has("training.optimizer.name"), ConfigError,
            "[training.optimizer.name] is required, e.g. Adam");

  seed("training");
  check_keys(false);
  train_problem_ = build_problem(train_c, "training");
  valid_problem_ = build_problem(valid_c, "validation");
  // The problem's values (sizes) become model defaults; then every key is
  // known.
  add_problem_values(*train_problem_, problem_name_);
  check_keys(true);
  model_ = build_model(model_c);
  check_fit(*train_problem_, "training");
  check_fit(*valid_problem_, "validation");
  setup_device();
  if (!resumed_ &&
      (registry_.has("model.load") || !opts_.model_checkpoint.empty())) {
    const std::string ckpt =
        expand_user(!opts_.model_checkpoint.empty()
                        ? opts_.model_checkpoint
                        : registry_.view("model")->get<std::string>("load"));
    const CheckpointMeta m = load_checkpoint(ckpt, *model_);
    log_.info("Loaded model " + m.model_name + " from " + ckpt + " (episode " +
              std::to_string(m.episode) + ", loss " + std::to_string(m.loss) +
              ", status: " + m.status + ")");
  }
  model_->to(device_);
  optimizer_ = make_optimizer(*registry_.view("training.optimizer"),
                              model_->parameters());
  if (registry_.has("training.scheduler.name"))
    scheduler_ =
        make_scheduler(*registry_.view("training.scheduler"), *optimizer_);
  if (registry_.has("training.gradient_clipping")) {
    // A number clips by value (MI-Prometheus); {value: v} or {norm: n}.
    try {
      clip_value_ =
          registry_.view("training")->get<double>("gradient_clipping");
    } catch (const ParameterError&) {
      auto clip = registry_.view("training.gradient_clipping");
      for (const auto& k : clip->keys())
        MIP_CHECK(k == "value" || k == "norm", ConfigError,
                  "[training.gradient_clipping.", k,
                  "] is unknown; use a number, {value: v} or {norm: n}");
      clip_value_ = clip->get<double>("value", 0.0);
      clip_norm_ = clip->get<double>("norm", 0.0);
    }
  }

  train_stream_ = std::make_unique<BatchStream>(
      train_problem_,
      registry_.view("training.problem")->get<int64_t>("batch_size"),
      seed_data_, 0, SamplerSpec::from_config(registry_, "training"));
  valid_stream_ = std::make_unique<BatchStream>(
      valid_problem_,
      registry_.view("validation.problem")->get<int64_t>("batch_size"),
      seed_data_, 1, SamplerSpec::from_config(registry_, "validation"));
  train_prefetch_ = PrefetchSpec::from_config(registry_, "training");
  valid_batches_ = std::make_unique<BatchPrefetcher>(
      *valid_stream_, PrefetchSpec::from_config(registry_, "validation"));

  if (curriculum_enabled()) {
    const auto cl = registry_.view("training.curriculum_learning");
    must_finish_ = cl->get<bool>("must_finish", true);
    guarded("problem [" + problem_name_ + "] curriculum",
            [&] { train_problem_->curriculum_learning_initialize(*cl); });
    curriculum_at(0);
  }

  declare_statistics(*train_problem_, train_, true);
  declare_statistics(*valid_problem_, valid_, true);
  if (resumed_)
    resume_from_checkpoint();
  open_experiment();
}

void Trainer::curriculum_at(int64_t episode) {
  if (!curriculum_enabled())
    return;
  curriculum_done_ = guarded("problem [" + problem_name_ + "] curriculum", [&] {
    return train_problem_->curriculum_learning_update_params(episode);
  });
}

void Trainer::open_experiment() {
  if (!resumed_)
    dir_ = create_experiment_dir(opts_.expdir, problem_name_, model_name_,
                                 opts_.savetag);
  logging_add_file((fs::path(dir_) / "training.log").string());
  status_.worker = opts_.worker;
  status_.started = now_string();
  status_.episode = start_episode_;
  status_.epoch = start_epoch_;
  if (resumed_) {
    status_.best_validation_loss = best_loss_;
    status_.best_episode = best_episode_;
    log_.info("Resuming " + dir_ + " after episode " +
              std::to_string(start_episode_ - 1) + " (epoch " +
              std::to_string(start_epoch_) + ")");
  }
  write_status(dir_, status_);
  started_ = true;
  if (!resumed_) {
    std::string header = "# Resolved configuration of " + dir_ + "\n# from:";
    for (const auto& f : registry_.files())
      header += " " + f;
    header += "\n# Rerun: " + opts_.worker + " --config <this file>\n";
    write_file_atomic((fs::path(dir_) / "training_configuration.yaml").string(),
                      header + registry_.dump());
  }
  log_.info("Experiment folder: " + dir_);
  if (opts_.tensorboard)
    log_.warn(
        "--tensorboard is not available in this version; no event files are "
        "written");
  if (opts_.visualize)
    log_.warn("--visualize is not available in this version; ignored");
  log_model_summary();
  if (opts_.agree) {
    std::cout << registry_.dump() << "\nPress Enter to start training..."
              << std::flush;
    std::string line;
    std::getline(std::cin, line);
  }
  const fs::path d(dir_);
  train_.episodes.open((d / "training_statistics.csv").string(),
                       train_.col.csv_header(), resumed_);
  valid_.episodes.open((d / "validation_statistics.csv").string(),
                       valid_.col.csv_header(), resumed_);
  train_.aggregates.open((d / "training_set_agg_statistics.csv").string(),
                         train_.agg.csv_header(), resumed_);
  valid_.aggregates.open((d / "validation_set_agg_statistics.csv").string(),
                         valid_.agg.csv_header(), resumed_);
}

void Trainer::resume_from_checkpoint() {
  const std::string path =
      (fs::path(dir_) / "models" / "model_last.pt").string();
  CheckpointExtra extra;
  const CheckpointMeta m =
      load_checkpoint(path, *model_, optimizer_.get(), &extra, true);
  start_episode_ = m.episode + 1;
  start_epoch_ = m.epoch;
  best_loss_ = m.best_loss;
  best_episode_ = m.best_episode;
  auto scalar = [&](const std::string& k, double fallback) {
    auto it = extra.find(k);
    return it == extra.end() ? fallback : it->second.item<double>();
  };
  stale_validations_ = static_cast<int64_t>(scalar("stale_validations", 0));
  for (const auto& key : train_.col.keys()) {
    auto it = extra.find(stats_key(key));
    if (it == extra.end())
      continue;
    const auto t = it->second.to(torch::kDouble).contiguous();
    for (int64_t i = 0; i < t.numel(); ++i)
      train_.col.collect(key, t.data_ptr<double>()[i]);
  }
  if (scheduler_) {
    std::vector<double> s;
    if (auto it = extra.find("scheduler"); it != extra.end()) {
      const auto t = it->second.to(torch::kDouble).contiguous();
      s.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
    }
    scheduler_->restore(s, start_epoch_);
  }
  // The curriculum is a function of the last epoch end before the checkpoint.
  const int64_t epoch_size = train_stream_->batches_per_epoch();
  const int64_t ends = start_episode_ / epoch_size;
  curriculum_at(ends > 0 ? ends * epoch_size - 1 : 0);
  // Rows written after the checkpoint are written again by the resumed run.
  const fs::path d(dir_);
  for (const char* f :
       {"training_statistics.csv", "validation_statistics.csv",
        "training_set_agg_statistics.csv", "validation_set_agg_statistics.csv"})
    truncate_csv_after((d / f).string(), m.episode);
}

double Trainer::partial_validation(int64_t episode, int64_t epoch) {
  torch::NoGradGuard no_grad;
  model_->eval();
  valid_.col.reset();
  const double loss = forward_and_collect(*valid_problem_, validation_batch_,
                                          valid_.col, episode, epoch, nullptr);
  valid_.episodes.write(valid_.col.csv_row());
  valid_.episodes.flush();
  log_.info(valid_.col.line("Partial Validation"));
  check_finite(loss, "partial validation", episode);
  return loss;
}

double Trainer::full_validation(int64_t episode, int64_t epoch) {
  torch::NoGradGuard no_grad;
  model_->eval();
  valid_.col.reset();
  const int64_t n = valid_stream_->batches_per_epoch();
  valid_batches_->plan(n);
  for (int64_t i = 0; i < n; ++i) {
    const sdk::DataDict b = next_batch(*valid_batches_, i, "validation");
    forward_and_collect(*valid_problem_, b, valid_.col, episode, epoch,
                        nullptr);
  }
  aggregate(valid_.col, valid_.agg, *valid_problem_, episode);
  valid_.aggregates.write(valid_.agg.csv_row());
  valid_.aggregates.flush();
  log_.info(valid_.agg.line("Full Validation"));
  check_finite(valid_.agg.get("loss"), "full validation", episode);
  return valid_.agg.get("loss");
}

CheckpointMeta Trainer::meta(int64_t episode,
                             int64_t epoch,
                             double loss,
                             const std::string& status) const {
  CheckpointMeta m;
  m.model_name = model_name_;
  m.problem_name = problem_name_;
  m.episode = episode;
  m.epoch = epoch;
  m.loss = loss;
  m.status = status;
  m.timestamp = now_string();
  m.best_loss = best_loss_;
  m.best_episode = best_episode_;
  auto export_last = [](const StatisticsCollector& col) {
    std::map<std::string, std::string> out;
    for (const auto& k : col.keys())
      if (!col.values(k).empty())
        out[k] = format_statistic(col.format(k), col.values(k).back());
    return out;
  };
  auto export_agg = [](const StatisticsAggregator& agg) {
    std::map<std::string, std::string> out;
    for (const auto& k : agg.keys())
      out[k] = format_statistic(agg.format(k), agg.get(k));
    return out;
  };
  m.training_stats = export_last(train_.col);
  // Online saves on a partial validation (one batch), offline on a full one.
  m.validation_stats =
      mode_ == Mode::kOnline ? export_last(valid_.col) : export_agg(valid_.agg);
  return m;
}

void Trainer::save_best_if_better(double loss,
                                  int64_t episode,
                                  int64_t epoch,
                                  const std::string& status) {
  if (!(loss <
        best_loss_ - (mode_ == Mode::kOffline ? early_stop_delta_ : 0.0))) {
    ++stale_validations_;
    if (!(loss < best_loss_))
      return;
  } else {
    stale_validations_ = 0;
  }
  best_loss_ = loss;
  best_episode_ = episode;
  status_.best_validation_loss = loss;
  status_.best_episode = episode;
  save_checkpoint((fs::path(dir_) / "models" / "model_best.pt").string(),
                  *model_, nullptr, meta(episode, epoch, loss, status));
}

void Trainer::save_last(int64_t episode,
                        int64_t epoch,
                        double loss,
                        const std::string& status) {
  // Rows up to this episode must be on disk before the checkpoint says so.
  for (StatisticsSet* s : {&train_, &valid_}) {
    s->episodes.flush();
    s->aggregates.flush();
  }
  CheckpointExtra extra;
  extra["stale_validations"] =
      torch::tensor(static_cast<double>(stale_validations_));
  for (const auto& key : train_.col.keys())
    extra[stats_key(key)] =
        torch::tensor(train_.col.values(key), torch::kDouble);
  if (scheduler_)
    extra["scheduler"] = torch::tensor(scheduler_->state(), torch::kDouble);
  save_checkpoint((fs::path(dir_) / "models" / "model_last.pt").string(),
                  *model_, optimizer_.get(), meta(episode, epoch, loss, status),
                  &extra);
  if (registry_.view("model")->get<bool>("save_intermediate", false)) {
    char name[64];
    std::snprintf(name, sizeof name, "model_episode_%05lld.pt",
                  static_cast<long long>(episode));
    save_checkpoint((fs::path(dir_) / "models" / name).string(), *model_,
                    nullptr, meta(episode, epoch, loss, status));
  }
  status_.episode = episode;
  status_.epoch = epoch;
  write_status(dir_, status_);
}

bool Trainer::after_validation(double loss,
                               int64_t episode,
                               int64_t epoch,
                               const std::string& kind,
                               std::string& cause) {
  save_best_if_better(loss, episode, epoch, cause);
  if (scheduler_)
    scheduler_->validation(loss);
  if (loss < loss_stop_ && (curriculum_done_ || !must_finish_)) {
    cause = "Converged (" + kind +
            " Validation Loss went below Loss Stop threshold)";
    return true;
  }
  return false;
}

int Trainer::train() {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const bool online = mode_ == Mode::kOnline;
  install_stop_handlers();
  const int64_t kill_at = fault_kill_episode();
  if (online || interval_ > 0)
    validation_batch_ = next_batch(*valid_batches_, 0, "validation");
  const int64_t epoch_size = train_stream_->batches_per_epoch();
  log_.info(std::string(online ? "Online" : "Offline") +
            " training: " + std::to_string(epoch_size) + " episodes per epoch" +
            (episode_limit_ > 0
                 ? ", episode limit " + std::to_string(episode_limit_)
                 : "") +
            (epoch_limit_ > 0 ? ", epoch limit " + std::to_string(epoch_limit_)
                              : "") +
            (interval_ > 0 ? ", partial validation every " +
                                 std::to_string(interval_) + " episodes"
                           : ""));

  int64_t episode = start_episode_, epoch = start_epoch_;
  int64_t last_done = episode - 1;  // the last completed episode
  int64_t last_full_validation = -1;
  double last_valid_loss = 0.0;
  std::string cause = "Not Converged";
  RunState end_state = RunState::kFinished;
  std::vector<torch::Tensor> params = model_->parameters();
  BatchPrefetcher prefetcher(*train_stream_, train_prefetch_);
  const int64_t warm_mark = start_episode_ + kWarmupEpisodes - 1;
  auto warm_time = clock::now();
  const std::string tag = online ? "Partial Validation" : "Full Validation";
  for (;; ++episode) {
    if (int sig = stop_requested()) {
      cause = std::string("Interrupted by ") +
              (sig == SIGINT ? "SIGINT" : "SIGTERM");
      end_state = RunState::kInterrupted;
      log_.warn(cause + " after episode " + std::to_string(last_done) +
                "; saving the checkpoint and stopping (--resume " + dir_ +
                " continues)");
      break;
    }
    if (episode_limit_ > 0 && episode >= episode_limit_) {
      cause = "Not converged: Episode Limit reached";
      break;
    }
    if (epoch_limit_ > 0 && epoch >= epoch_limit_) {
      cause = "Not converged: Epoch Limit reached";
      break;
    }
    if (episode % epoch_size == 0)
      guarded("problem [" + problem_name_ + "] initialize_epoch",
              [&] { train_problem_->initialize_epoch(epoch); });
    if (episode % epoch_size == 0 || episode == start_episode_) {
      // Batches are made ahead up to the epoch's end, never past it: the
      // curriculum may change the problem there.
      int64_t end = (episode / epoch_size + 1) * epoch_size;
      if (episode_limit_ > 0)
        end = std::min(end, episode_limit_);
      prefetcher.plan(end);
    }
    if (episode == start_episode_)
      status_.first_episode_unix = unix_now();
    const sdk::DataDict batch = next_batch(prefetcher, episode, "training");
    model_->train();
    optimizer_->zero_grad();
    torch::Tensor loss;
    const double loss_value = forward_and_collect(
        *train_problem_, batch, train_.col, episode, epoch, &loss);
    train_.episodes.write_last(train_.col);
    if (!std::isfinite(loss_value)) {
      train_.episodes.flush();
      check_finite(loss_value, "training", episode);
    }
    loss.backward();
    if (clip_value_ > 0)
      torch::nn::utils::clip_grad_value_(params, clip_value_);
    if (clip_norm_ > 0)
      torch::nn::utils::clip_grad_norm_(params, clip_norm_);
    optimizer_->step();
    last_done = episode;
    if (episode % opts_.log_interval == 0) {
      train_.episodes.flush_async();  // formatted and written off this thread
      log_.info(train_.col.line("Training"));
    }

    bool stop = false;
    bool save = false;
    if (interval_ > 0 && episode % interval_ == 0) {
      last_valid_loss = partial_validation(episode, epoch);
      if (online) {
        save = true;
        stop =
            after_validation(last_valid_loss, episode, epoch, "Partial", cause);
      }
    }
    if ((episode + 1) % epoch_size == 0) {
      guarded("problem [" + problem_name_ + "] finalize_epoch",
              [&] { train_problem_->finalize_epoch(epoch); });
      aggregate(train_.col, train_.agg, *train_problem_, episode);
      train_.aggregates.write(train_.agg.csv_row());
      log_.info(train_.agg.line(online ? "Full Training"
                                       : "Epoch " + std::to_string(epoch)));
      curriculum_at(episode);
      ++epoch;
      train_.col.reset();
      if (scheduler_)
        scheduler_->epoch_end(epoch);
      if (!online) {
        last_valid_loss = full_validation(episode, epoch - 1);
        last_full_validation = episode;
        save = true;
        stop = after_validation(last_valid_loss, episode, epoch - 1, "Full",
                                cause);
        if (!stop && early_stop_ > 0 && stale_validations_ >= early_stop_) {
          stop = true;
          cause =
              "Not converged: Early Stopping (validation loss did not improve "
              "for " +
              std::to_string(early_stop_) + " validations)";
        }
      }
    }
    if (episode == kill_at) {
      train_.episodes.flush();
      std::raise(SIGKILL);
    }
    if (save)
      save_last(episode, epoch, last_valid_loss, cause);
    if (episode == warm_mark)
      warm_time = clock::now();
    if (stop)
      break;
  }
  if (last_done > warm_mark) {
    status_.timed_episodes = last_done - warm_mark;
    status_.timed_seconds =
        std::chrono::duration<double>(clock::now() - warm_time).count();
  }
  train_.episodes.flush();
  const double seconds =
      std::chrono::duration<double>(clock::now() - start).count();
  log_.info("Training ended after episode " + std::to_string(last_done) + " (" +
            format_seconds(seconds) + "): " + cause);

  const bool trained_now = last_done >= start_episode_;
  if (end_state != RunState::kInterrupted && last_done >= 0 && trained_now) {
    if (online) {
      // A last partial validation (saved when best), then a full validation.
      last_valid_loss = partial_validation(last_done, epoch);
      save_best_if_better(last_valid_loss, last_done, epoch, cause);
      full_validation(last_done, epoch);
    } else if (last_full_validation != last_done) {
      last_valid_loss = full_validation(last_done, epoch);
      save_best_if_better(last_valid_loss, last_done, epoch, cause);
    }
  }
  if (trained_now)
    save_last(last_done, epoch, last_valid_loss, cause);
  // model_best.pt records the final status too (as MI-Prometheus does).
  const std::string best_path =
      (fs::path(dir_) / "models" / "model_best.pt").string();
  if (end_state != RunState::kInterrupted && fs::exists(best_path)) {
    CheckpointMeta best = load_checkpoint(best_path, *model_);
    best.status = cause;
    best.timestamp = now_string();
    save_checkpoint(best_path, *model_, nullptr, best);
  }
  mark(end_state, cause);
  log_.info("Experiment folder: " + dir_);
  return end_state == RunState::kInterrupted ? kExitInterrupted : kExitOk;
}

// --- entry points
// --------------------------------------------------------------

namespace {

int run_trainer(int argc, char** argv, Trainer::Mode mode) {
  const bool online = mode == Trainer::Mode::kOnline;
  const std::string worker =
      online ? "mip-online-trainer" : "mip-offline-trainer";
  const std::string summary =
      online
          ? "Trains a model on a problem episode by episode (data generated on "
            "the fly "
            "or cycled), validating on a fixed batch every "
            "partial_validation_interval "
            "episodes and on the whole validation set at the end."
          : "Trains a model epoch by epoch over a finite data set, with a full "
            "validation after every epoch (best model on validation loss), "
            "optional "
            "partial validation, epoch/episode limits, loss_stop and early "
            "stopping.";
  std::optional<WorkerOptions> opts;
  try {
    opts =
        parse_worker_options(argc, argv, worker, summary, WorkerKind::kTrainer);
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  }
  if (!opts)
    return kExitOk;
  Trainer trainer(*opts, mode);
  return run_worker(
      [&] {
        trainer.setup();
        return trainer.train();
      },
      &trainer, worker);
}

}  // namespace

int run_online_trainer(int argc, char** argv) {
  return run_trainer(argc, argv, Trainer::Mode::kOnline);
}

int run_offline_trainer(int argc, char** argv) {
  return run_trainer(argc, argv, Trainer::Mode::kOffline);
}

}  // namespace mip
