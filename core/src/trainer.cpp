// The trainers: mip-online-trainer and mip-offline-trainer (one loop, two
// schedules), checkpoints and exact resume.
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iostream>

#include <mip/core/files.hpp>
#include <mip/core/folder.hpp>
#include <mip/core/optim.hpp>
#include <mip/core/signals.hpp>
#include <mip/core/text.hpp>
#include <mip/core/trainer.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/problem.hpp>

namespace fs = std::filesystem;

namespace mip {

namespace {

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
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

std::map<std::string, std::string> last_values(const StatisticsCollector& c) {
  std::map<std::string, std::string> out;
  for (const auto& k : c.keys())
    if (!c.values(k).empty())
      out[k] = format_statistic(c.format(k), c.values(k).back());
  return out;
}

std::map<std::string, std::string> aggregates(const StatisticsAggregator& a) {
  std::map<std::string, std::string> out;
  for (const auto& k : a.keys())
    out[k] = format_statistic(a.format(k), a.get(k));
  return out;
}

/// A stop signal during the final validation: it is abandoned.
struct FinalValidationStopped {
  int signal;
};

}  // namespace

Trainer::Trainer(WorkerOptions options, RankPlace place)
    : run_(std::move(options)), place_(std::move(place)) {
  train_.name = "training";
  valid_.name = "validation";
}

Trainer::~Trainer() = default;

void Trainer::fail(const std::string& error) {
  observers_.run_ended({RunState::kFailed, error});
}

// --- setting up
// ----------------------------------------------------------------

void Trainer::setup() {
  join_ranks();
  read_configuration();
  build_components();
  build_optimisation();
  const WorkerOptions& opts = run_.options();
  if (opts.agree && !opts.dry_run)  // before anything is created or repaired
    run_.confirm(resumed_ ? "continue the experiment in " + dir_
                          : "create the experiment folder under " +
                                opts.expdir + " and train");
  if (resumed_)
    resume();
  start_ranks();
  if (!opts.dry_run)
    open_experiment();
}

void Trainer::join_ranks() {
  if (place_.world <= 1)
    return;
  const WorkerOptions& opts = run_.options();
  dp_ = std::make_unique<DataParallel>(
      place_,
      std::chrono::milliseconds(static_cast<int64_t>(opts.dist_timeout * 1e3)),
      opts.gpu);
  writes_ = dp_->rank() == 0;
  DataParallel* dp = dp_.get();
  run_.set_rank([dp](int64_t seed) { return dp->broadcast_from_rank0(seed); },
                place_.local_rank);
  run_.log().info("Data parallel: " + dp_->who() + " (" + place_.source + ", " +
                  (opts.gpu ? "NCCL" : "Gloo") + ", store " +
                  place_.master_addr + ":" +
                  std::to_string(place_.master_port) + ")");
}

void Trainer::start_ranks() {
  if (!dp_)
    return;
  // Ranks that built something else would all-reduce nonsense.
  dp_->check_same(
      static_cast<int64_t>(std::hash<std::string>{}(run_.registry().dump())),
      "the resolved configuration");
  dp_->check_same(train_.stream->batches_per_epoch(), "the episodes per epoch");
  dp_->check_same(static_cast<int64_t>(params_.size()),
                  "the number of model parameters");
  std::vector<torch::Tensor> state = params_;
  for (const auto& b : run_.model().buffers())
    state.push_back(b);
  dp_->broadcast_from_rank0(state);
  dp_->attach(params_, dp_settings_.bucket_mb);
}

int Trainer::stop_signal() const {
  return dp_ ? dp_->agreed_stop() : stop_requested();
}

void Trainer::reduce(Section& section,
                     const std::vector<size_t>& before,
                     int64_t index) {
  const double samples =
      static_cast<double>(section.stream->shard_rows(index).first);
  dp_->reduce_statistics(section.col, before, samples);
}

int Trainer::dry_run() {
  dry_run_batch(run_, train_, progress_.next_episode(), true);
  dry_run_batch(run_, valid_, 0, false);
  return run_.end_dry_run(run_.dry_run_configuration());
}

void Trainer::read_configuration() {
  const WorkerOptions& opts = run_.options();
  std::vector<std::string> files = opts.configs;
  if (!opts.resume.empty()) {
    MIP_CHECK(opts.configs.empty(), ConfigError,
              "--resume takes the configuration saved in the experiment "
              "folder; drop --config");
    MIP_CHECK(!opts.seed, ConfigError,
              "--resume keeps the run's seeds; drop --seed");
    const fs::path dir = fs::path(expand_user(opts.resume));
    MIP_CHECK(fs::is_regular_file(dir / "training_configuration.yaml"),
              ConfigError, "--resume [", opts.resume,
              "]: not an experiment folder (no training_configuration.yaml)");
    dir_ = fs::canonical(dir).string();
    resumed_ = true;
    // Nothing in the folder is read or changed before the lock is held; a
    // dry run changes nothing, and may look at a folder in use.
    if (!opts.dry_run && writes_)
      lock_.acquire(dir_);
    if (const int n = opts.dry_run || !writes_ ? 0 : remove_temporaries(dir_))
      notes_.push_back("removed " + std::to_string(n) +
                       " temporary file(s) of a killed run");
    const std::string config =
        (fs::path(dir_) / "training_configuration.yaml").string();
    saved_ = read_saved_configuration(config);
    MIP_CHECK(saved_.worker.empty() || saved_.worker == opts.worker,
              ConfigError, "--resume [", dir_, "]: the folder was trained by ",
              saved_.worker, ", not ", opts.worker, "; resume it with ",
              saved_.worker, " --resume ", dir_);
    has_checkpoint_ =
        fs::is_regular_file(fs::path(dir_) / "models" / "model_last.pt");
    files = {config};
    if (!opts.sets.empty())
      run_.log().warn(
          "--set with --resume changes the run: it will differ from one never "
          "stopped");
  }
  run_.configure(files);
}

void Trainer::build_components() {
  ParamRegistry& registry = run_.registry();
  const Component& train_c = run_.problem_component("training");
  const Component& valid_c = run_.problem_component("validation");
  if (registry.has("testing.problem.name"))
    run_.problem_component("testing");
  const Component& model_c = run_.model_component();
  schedule_ = make_schedule(run_.options().worker, registry);
  MIP_CHECK(registry.has("training.optimizer.name"), ConfigError,
            "[training.optimizer.name] is required, e.g. Adam");

  run_.seed("training");
  run_.check_unknown_keys(false);
  train_.problem = run_.build_problem(train_c, "training");
  valid_.problem = run_.build_problem(valid_c, "validation");
  // The problem's values (sizes) become model defaults; then every key is
  // known.
  run_.add_problem_values(*train_.problem);
  run_.check_unknown_keys(true);
  run_.build_model(model_c);
  run_.check_problem_fits_model(*train_.problem, "training");
  run_.check_problem_fits_model(*valid_.problem, "validation");
  run_.setup_device();
  const WorkerOptions& opts = run_.options();
  if (!opts.model_checkpoint.empty() && !resumed_)  // saved with the run
    registry.set_value(
        "model.load", fs::absolute(expand_user(opts.model_checkpoint)).string(),
        "--model");
  if (!has_checkpoint_ && registry.has("model.load")) {
    const std::string ckpt =
        expand_user(registry.view("model")->get<std::string>("load"));
    const CheckpointMeta m = load_checkpoint(ckpt, run_.model());
    run_.log().info("Loaded model " + m.model_name + " from " + ckpt +
                    " (episode " + std::to_string(m.episode) + ", loss " +
                    std::to_string(m.loss) + ", status: " + m.status + ")");
  }
  run_.model().to(run_.device());
  dp_settings_ = DataParallelSettings::from_config(registry);
  const Shard shard{dp_ ? dp_->rank() : 0, dp_ ? dp_->world() : 1};
  train_.make_stream(run_, 0, shard, dp_settings_.global_batch);
  valid_.make_stream(run_, 1, shard, dp_settings_.global_batch);
  schedule_->set_epoch_size(train_.stream->batches_per_epoch());
  curriculum_ = registry.has("training.curriculum_learning");
  if (curriculum_) {
    const auto cl = registry.view("training.curriculum_learning");
    with_context("problem [" + run_.problem_name() + "] curriculum",
                 [&] { train_.problem->curriculum_learning_initialize(*cl); });
    curriculum_at(0);
  }
  train_.declare_statistics(run_, true);
  valid_.declare_statistics(run_, true);
}

void Trainer::build_optimisation() {
  ParamRegistry& registry = run_.registry();
  params_ = run_.model().parameters();
  component_name(registry, "training.optimizer", "optimizer");  // {name:X}
  optimizer_ = make_optimizer(*registry.view("training.optimizer"), params_);
  if (!component_name(registry, "training.scheduler", "scheduler").empty())
    scheduler_ =
        make_scheduler(*registry.view("training.scheduler"), *optimizer_);
  clipping_ = GradientClipping::from_config(*registry.view("training"));
}

void Trainer::curriculum_at(int64_t episode) {
  if (!curriculum_)
    return;
  curriculum_done_ =
      with_context("problem [" + run_.problem_name() + "] curriculum", [&] {
        return train_.problem->curriculum_learning_update_params(episode);
      });
}

void Trainer::check_identity(const CheckpointMeta& m, const std::string& path) {
  const WorkerOptions& opts = run_.options();
  if (m.format_version < 2) {
    notes_.push_back("checkpoint [" + path +
                     "] is of format 1 (0.1.0): it carries no run identity "
                     "or checksum, so neither is checked");
    return;
  }
  MIP_CHECK(m.worker == opts.worker, ConfigError, "--resume [", dir_,
            "]: checkpoint [", path, "] was written by ", m.worker, ", not ",
            opts.worker, "; resume it with ", m.worker);
  MIP_CHECK(m.run_id == saved_.run_id, ConfigError, "--resume [", dir_,
            "]: checkpoint [", path, "] belongs to run ", m.run_id,
            ", but the folder's training_configuration.yaml is run ",
            saved_.run_id.empty() ? "(no run id)" : saved_.run_id,
            "; it was copied from another experiment. Put back this run's "
            "checkpoint, or start a new run (--config)");
  if (m.config_digest == saved_.digest)
    return;
  MIP_CHECK(opts.force, ConfigError, "--resume [", dir_,
            "]: training_configuration.yaml was edited since checkpoint [",
            path, "] was written (digest ", saved_.digest,
            ", the checkpoint's ", m.config_digest,
            "); undo the edit, or pass --force to continue with the edited "
            "configuration (the run then differs from one never stopped)");
  // Logged once training.log is open, so that the folder records it.
  warnings_.push_back(
      "--force: training_configuration.yaml was edited since "
      "the checkpoint (digest " +
      m.config_digest + " then, " + saved_.digest +
      " now); continuing with the edited configuration");
}

void Trainer::resume() {
  int64_t last = -1;
  if (has_checkpoint_) {
    const std::string path =
        (fs::path(dir_) / "models" / "model_last.pt").string();
    check_identity(read_checkpoint_meta(path), path);
    CheckpointExtra extra;
    const CheckpointMeta m =
        load_checkpoint(path, run_.model(), optimizer_.get(), &extra);
    progress_ = TrainingProgress::load(m, extra);
    const int64_t world = dp_ ? dp_->world() : 1;
    MIP_CHECK(progress_.world_size == world, ConfigError, "--resume [", dir_,
              "]: the run was trained on ", progress_.world_size,
              " process(es) (data-parallel ranks) and this launch has ", world,
              "; resume it with ", progress_.world_size,
              " (--nproc, torchrun's --nproc_per_node x --nnodes, srun's "
              "--ntasks): another number changes the batches and the run");
    progress_.restore_rng();
    for (const auto& [key, values] : progress_.epoch_statistics)
      if (train_.col.declared(key))
        for (double v : values)
          train_.col.collect(key, v);
    if (scheduler_)
      scheduler_->restore(progress_.scheduler, progress_.epoch);
    // The curriculum is a function of the last epoch end before the
    // checkpoint.
    const int64_t epoch_size = schedule_->epoch_size();
    const int64_t ends = progress_.next_episode() / epoch_size;
    curriculum_at(ends > 0 ? ends * epoch_size - 1 : 0);
    last = m.episode;
  } else {
    notes_.push_back(
        "no checkpoint yet (killed before the first one): starting again "
        "from episode 0 with the saved configuration and seeds");
  }
  if (run_.options().dry_run || !writes_)
    return;
  // Rows written after the checkpoint are written again by the resumed run.
  for (const char* f :
       {"training_statistics.csv", "validation_statistics.csv",
        "training_set_agg_statistics.csv", "validation_set_agg_statistics.csv"})
    if (std::string what =
            repair_csv((fs::path(dir_) / f).string(), last,
                       std::string(f) == "training_statistics.csv");
        !what.empty())
      notes_.push_back("removed from " + what);
}

void Trainer::open_experiment() {
  const WorkerOptions& opts = run_.options();
  Logger& log = run_.log();
  if (!writes_) {
    log.debug(dp_->who() + ": rank 0 writes the experiment folder");
    return;
  }
  if (!resumed_) {
    dir_ = create_experiment_dir(opts.expdir, run_.problem_name(),
                                 run_.model_name(), opts.savetag);
    lock_.acquire(dir_);
    // Written first: from here on the folder can be resumed.
    std::string header = "# Resolved configuration of " + dir_ + "\n# from:";
    for (const auto& f : run_.registry().files())
      header += " " + f;
    header += "\n# Rerun: " + opts.worker + " --config <this file>\n" +
              run_id_line(new_run_id());
    const std::string config =
        (fs::path(dir_) / "training_configuration.yaml").string();
    write_file_atomic(config, header + run_.registry().dump());
    saved_ = read_saved_configuration(config);
  }
  logging_add_file((fs::path(dir_) / "training.log").string());
  if (resumed_)
    log.info("Resuming " + dir_ + " after episode " +
             std::to_string(progress_.last_episode) + " (epoch " +
             std::to_string(progress_.epoch) + ")");
  for (const auto& note : notes_)
    log.info("Resume: " + note);
  for (const auto& warning : warnings_)
    log.warn(warning);
  observers_.attach(run_);
  observers_.run_started({dir_,
                          resumed_,
                          progress_.next_episode(),
                          progress_.epoch,
                          progress_.best_loss,
                          progress_.best_episode,
                          {{train_.name, &train_.col, &train_.agg},
                           {valid_.name, &valid_.col, &valid_.agg}}});
  log.info("Experiment folder: " + dir_);
  if (dp_)
    log.info("Data parallel: " + std::to_string(dp_->world()) +
             " ranks, batches of " +
             std::to_string(train_.stream->shard_rows(0).second) +
             " samples (training), " +
             (dp_settings_.global_batch ? "batch_size split among the ranks"
                                        : "batch_size per rank"));
  run_.log_model_summary();
}

// --- the loop
// ------------------------------------------------------------------

int Trainer::train() {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  if (schedule_->uses_validation_batch())
    validation_batch_ = valid_.batch(run_, 0);
  run_.log().info(schedule_->describe());

  const int64_t first = progress_.next_episode();
  observers_.training_started(
      {first, schedule_->settings().episode_limit,
       schedule_->settings().epoch_limit, schedule_->epoch_size(),
       dp_ && place_.launched_by_nproc ? int64_t{dp_->world()} : 1});
  for (int64_t episode = first;; ++episode) {
    if (std::string why = stop_before(episode); !why.empty()) {
      cause_ = why;
      break;
    }
    if (schedule_->epoch_starts(episode))
      with_context("problem [" + run_.problem_name() + "] initialize_epoch",
                   [&] { train_.problem->initialize_epoch(progress_.epoch); });
    if (schedule_->epoch_starts(episode) || episode == first)
      train_.batches->make_ahead_until(schedule_->make_ahead_until(episode));
    train_episode(episode);
    progress_.last_episode = episode;
    if (std::string why = validate_and_save(episode); !why.empty()) {
      cause_ = why;
      break;
    }
  }
  observers_.training_stopped({progress_.last_episode, cause_});
  run_.log().info(
      "Training ended after episode " + std::to_string(progress_.last_episode) +
      " (" +
      format_seconds(
          std::chrono::duration<double>(clock::now() - start).count()) +
      "): " + cause_);
  return finish(first);
}

std::string Trainer::stop_before(int64_t episode) {
  if (int sig = stop_signal()) {
    end_state_ = RunState::kInterrupted;
    const std::string cause = std::string("Interrupted by ") + signal_name(sig);
    run_.log().warn(cause + " after episode " +
                    std::to_string(progress_.last_episode) +
                    "; saving the checkpoint and stopping (--resume " + dir_ +
                    " continues)");
    return cause;
  }
  return schedule_->limit_reached(episode, progress_.epoch);
}

std::string Trainer::validate_and_save(int64_t episode) {
  const EpisodePlan plan = schedule_->after_episode(episode);
  bool save = false;
  std::string stop;
  if (plan.partial_validation) {
    last_loss_ = partial_validation(episode);
    if (schedule_->partial_validation_counts()) {
      save = true;
      stop = counted_validation(last_loss_, episode, progress_.epoch, false);
    }
  }
  if (plan.epoch_end) {
    end_epoch(episode);
    if (plan.full_validation) {
      // It belongs to the epoch just completed.
      const int64_t epoch = progress_.epoch - 1;
      last_loss_ = full_validation(episode, epoch);
      last_full_ = episode;
      save = true;
      stop = counted_validation(last_loss_, episode, epoch, true);
    }
  }
  if (save)
    save_last(last_loss_, stop.empty() ? cause_ : stop);
  return stop;
}

int Trainer::finish(int64_t first) {
  const int64_t last_done = progress_.last_episode;
  const bool trained_now = last_done >= first;
  if (end_state_ != RunState::kInterrupted && trained_now) {
    try {
      final_validation(last_done);
    } catch (const FinalValidationStopped& stopped) {
      end_state_ = RunState::kInterrupted;
      cause_ = std::string("Interrupted by ") + signal_name(stopped.signal) +
               " during the final validation";
      run_.log().warn(cause_ + "; it is abandoned, model_last.pt (episode " +
                      std::to_string(last_done) +
                      ") is saved and the run stops");
    }
  }
  const bool interrupted = end_state_ == RunState::kInterrupted;
  if (trained_now)
    save_last(last_loss_, cause_);
  // model_best.pt records the final status too (as MI-Prometheus does).
  const std::string best_path =
      (fs::path(dir_) / "models" / "model_best.pt").string();
  if (!interrupted && writes_ && fs::exists(best_path)) {
    CheckpointMeta best = load_checkpoint(best_path, run_.model());
    best.status = cause_;
    best.timestamp = now_string();
    save_checkpoint(best_path, run_.model(), nullptr, best);
  }
  observers_.flush();  // a failed write fails the run before "finished"
  observers_.run_ended({end_state_, cause_});
  run_.log().info("Experiment folder: " + dir_);
  return interrupted ? kExitInterrupted : kExitOk;
}

void Trainer::final_validation(int64_t last_done) {
  final_ = true;
  const FinalValidation final =
      schedule_->final_validation(last_done, last_full_);
  if (final.partial) {
    last_loss_ = partial_validation(last_done);
    save_best(last_loss_, last_done, progress_.epoch, cause_);
  }
  if (final.full) {
    const double loss = full_validation(last_done, progress_.epoch);
    if (final.full_counts) {
      last_loss_ = loss;
      save_best(last_loss_, last_done, progress_.epoch, cause_);
    }
  }
  final_ = false;
}

void Trainer::stop_final_validation() const {
  if (!final_)
    return;
  if (const int sig = stop_signal())
    throw FinalValidationStopped{sig};
}

double Trainer::train_episode(int64_t episode) {
  const sdk::DataDict batch = train_.batch(run_, episode);
  run_.model().train();
  optimizer_->zero_grad();
  torch::Tensor loss;
  std::vector<size_t> before;
  if (dp_)
    before = value_counts(train_.col);
  double value =
      train_.evaluate(run_, batch, {train_.name, episode, 0, false, false},
                      progress_.epoch, observers_, &loss);
  if (dp_) {
    reduce(train_, before, episode);
    value = train_.col.values("loss").back();
  }
  observers_.episode_done({train_.name, "Training", episode, train_.col});
  if (!std::isfinite(value)) {
    observers_.flush();
    check_finite(value, "training", episode);
  }
  if (dp_) {
    const auto [mine, all] = train_.stream->shard_rows(episode);
    dp_->begin_step(static_cast<double>(mine) / static_cast<double>(all));
  }
  loss.backward();
  if (dp_)
    dp_->finish_step();
  clipping_.apply(params_);
  optimizer_->step();
  observers_.step_done({train_.name, episode});
  return value;
}

void Trainer::end_epoch(int64_t episode) {
  const int64_t epoch = progress_.epoch;
  with_context("problem [" + run_.problem_name() + "] finalize_epoch",
               [&] { train_.problem->finalize_epoch(epoch); });
  train_.aggregate(run_, episode);
  observers_.epoch_done({train_.name,
                         schedule_->partial_validation_counts()
                             ? "Full Training"
                             : "Epoch " + std::to_string(epoch),
                         episode, train_.agg});
  curriculum_at(episode);
  ++progress_.epoch;
  train_.col.reset();
  if (scheduler_)
    scheduler_->epoch_end(progress_.epoch);
}

double Trainer::partial_validation(int64_t episode) {
  stop_final_validation();
  torch::NoGradGuard no_grad;
  run_.model().eval();
  valid_.col.reset();
  double loss = valid_.evaluate(run_, validation_batch_,
                                {valid_.name, episode, 0, false, final_},
                                progress_.epoch, observers_);
  if (dp_) {
    reduce(valid_, {}, 0);
    loss = valid_.col.values("loss").back();
  }
  observers_.validation_done({false, episode, loss, valid_.col, valid_.agg});
  check_finite(loss, "partial validation", episode);
  return loss;
}

double Trainer::full_validation(int64_t episode, int64_t epoch) {
  torch::NoGradGuard no_grad;
  run_.model().eval();
  valid_.col.reset();
  const int64_t n = valid_.stream->batches_per_epoch();
  valid_.batches->make_ahead_until(n);
  observers_.pass_started({valid_.name, n});
  for (int64_t i = 0; i < n; ++i) {
    stop_final_validation();
    std::vector<size_t> before;
    if (dp_)
      before = value_counts(valid_.col);
    valid_.evaluate(run_, valid_.batch(run_, i),
                    {valid_.name, episode, i, true, final_}, epoch, observers_);
    if (dp_)
      reduce(valid_, before, i);
    observers_.validation_batch_done({i, valid_.col});
  }
  valid_.aggregate(run_, episode);
  const double loss = valid_.agg.get("loss");
  observers_.validation_done({true, episode, loss, valid_.col, valid_.agg});
  check_finite(loss, "full validation", episode);
  return loss;
}

std::string Trainer::counted_validation(double loss,
                                        int64_t episode,
                                        int64_t epoch,
                                        bool full) {
  save_best(loss, episode, epoch, "Not Converged");
  if (scheduler_)
    scheduler_->validation(loss);
  return schedule_->stop_after_validation(
      loss, full, progress_.stale_validations, curriculum_done_);
}

// --- checkpoints
// ---------------------------------------------------------------

CheckpointMeta Trainer::meta(double loss, const std::string& status) const {
  CheckpointMeta m;
  m.model_name = run_.model_name();
  m.problem_name = run_.problem_name();
  m.episode = progress_.last_episode;
  m.epoch = progress_.epoch;
  m.loss = loss;
  m.status = status;
  m.timestamp = now_string();
  m.best_loss = progress_.best_loss;
  m.best_episode = progress_.best_episode;
  m.run_id = saved_.run_id;
  m.config_digest = saved_.digest;
  m.worker = run_.options().worker;
  m.training_stats = last_values(train_.col);
  // Online saves on a partial validation (one batch), offline on a full one.
  m.validation_stats = schedule_->partial_validation_counts()
                           ? last_values(valid_.col)
                           : aggregates(valid_.agg);
  return m;
}

void Trainer::save_best(double loss,
                        int64_t episode,
                        int64_t epoch,
                        const std::string& status) {
  if (!progress_.record_validation(loss, episode,
                                   schedule_->improvement_delta()))
    return;
  if (!writes_)
    return;
  const std::string path =
      (fs::path(dir_) / "models" / "model_best.pt").string();
  CheckpointMeta m = meta(loss, status);
  m.episode = episode;
  m.epoch = epoch;
  save_checkpoint(path, run_.model(), nullptr, m);
  observers_.checkpoint_written({path, true, episode, epoch,
                                 progress_.best_loss, progress_.best_episode});
}

void Trainer::save_last(double loss, const std::string& status) {
  // Rows up to this episode must be on disk before the checkpoint says so.
  observers_.flush();
  progress_.epoch_statistics.clear();
  for (const auto& key : train_.col.keys())
    progress_.epoch_statistics[key] = train_.col.values(key);
  if (scheduler_)
    progress_.scheduler = scheduler_->state();
  progress_.capture_rng();
  progress_.world_size = dp_ ? dp_->world() : 1;
  if (!writes_)
    return;
  CheckpointMeta m = meta(loss, status);
  CheckpointExtra extra;
  progress_.save(m, extra);
  const fs::path models = fs::path(dir_) / "models";
  save_checkpoint((models / "model_last.pt").string(), run_.model(),
                  optimizer_.get(), m, &extra);
  if (run_.registry().view("model")->get<bool>("save_intermediate")) {
    char name[64];
    std::snprintf(name, sizeof name, "model_episode_%05lld.pt",
                  static_cast<long long>(m.episode));
    save_checkpoint((models / name).string(), run_.model(), nullptr, m);
  }
  observers_.checkpoint_written({(models / "model_last.pt").string(), false,
                                 m.episode, m.epoch, progress_.best_loss,
                                 progress_.best_episode});
}

// --- entry points
// --------------------------------------------------------------

namespace {

int run_trainer(int argc, char** argv, bool online) {
  const std::string worker =
      online ? "mip-online-trainer" : "mip-offline-trainer";
  const std::string summary =
      online
          ? "Trains a model on a problem episode by episode (data generated on "
            "the fly or cycled), validating on a fixed batch every "
            "partial_validation_interval episodes and on the whole validation "
            "set at the end."
          : "Trains a model epoch by epoch over a finite data set, with a full "
            "validation after every epoch (best model on validation loss), "
            "optional partial validation, epoch/episode limits, loss_stop and "
            "early stopping.";
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
  RankPlace place;
  try {
    place = RankPlace::from_environment();
    MIP_CHECK(opts->nproc == 1 || place.world == 1 || place.launched_by_nproc,
              ConfigError, worker, ": --nproc ", opts->nproc,
              " launches ranks itself, but this process is already rank ",
              place.rank, " of ", place.world, " (", place.source,
              "); drop --nproc");
    MIP_CHECK(place.world == 1 || !opts->dry_run, ConfigError, worker,
              ": --dry-run runs one process; run it without ", place.source);
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  }
  if (opts->nproc > 1 && !place.launched_by_nproc) {
    try {
      return launch_local_ranks(*opts, opts->nproc);
    } catch (const std::exception& e) {
      std::cerr << worker << " --nproc: " << e.what() << "\n";
      return kExitFailed;
    }
  }
  // Rank 0 speaks for the run; the others only warn.
  if (place.rank != 0 &&
      parse_log_level(opts->log_level) < parse_log_level("warn"))
    opts->log_level = "warn";
  Trainer trainer(*opts, place);
  return run_worker(
      [&] {
        trainer.setup();
        return opts->dry_run ? trainer.dry_run() : trainer.train();
      },
      [&](const std::string& error) { trainer.fail(error); }, worker);
}

}  // namespace

int run_online_trainer(int argc, char** argv) {
  return run_trainer(argc, argv, true);
}

int run_offline_trainer(int argc, char** argv) {
  return run_trainer(argc, argv, false);
}

}  // namespace mip
