#pragma once

// mip-online-trainer and mip-offline-trainer: one loop over the training
// batches; a schedule decides when epochs end, what to validate, what to save
// and when to stop; observers record what happens.

#include <memory>
#include <string>
#include <vector>

#include <mip/core/distributed.hpp>
#include <mip/core/episode.hpp>
#include <mip/core/folder.hpp>
#include <mip/core/observer.hpp>
#include <mip/core/optim.hpp>
#include <mip/core/progress.hpp>
#include <mip/core/run.hpp>
#include <mip/core/schedule.hpp>

namespace mip {

class Trainer {
 public:
  /// `options.worker` is mip-online-trainer or mip-offline-trainer; `place`
  /// this process's rank (world 1: a single process).
  explicit Trainer(WorkerOptions options, RankPlace place = {});
  ~Trainer();
  /// Builds everything from the configuration (or the folder to resume).
  void setup();
  /// Trains; returns the exit code.
  int train();
  /// --dry-run (after setup()): the first training batch forward and
  /// backward, the first validation batch forward; prints the resolved
  /// configuration; returns the exit code. Nothing is written.
  int dry_run();
  /// Records a failure in the experiment folder (status.yaml).
  void fail(const std::string& error);

 private:
  void read_configuration();
  void build_components();
  void build_optimisation();
  void resume();
  /// Refuses a checkpoint of another run, another trainer, or of a saved
  /// configuration edited since (unless --force).
  void check_identity(const CheckpointMeta& m, const std::string& path);
  void open_experiment();
  /// Before an episode: the reason to stop (a signal, a limit), or "".
  std::string stop_before(int64_t episode);
  /// After an episode's step: validations, epoch end, checkpoint, as the
  /// schedule says; the reason to stop, or "".
  std::string validate_and_save(int64_t episode);
  /// After the loop: final validations, checkpoints, status; the exit code.
  int finish(int64_t first_episode);
  /// One training episode: batch, forward, loss, backward, step.
  double train_episode(int64_t episode);
  void end_epoch(int64_t episode);
  double partial_validation(int64_t episode);
  /// The validations after the loop; a stop signal abandons them.
  void final_validation(int64_t last_done);
  /// Throws when a stop signal came during the final validation.
  void stop_final_validation() const;
  /// On the whole validation set; `epoch` is recorded with it.
  double full_validation(int64_t episode, int64_t epoch);
  /// A validation that counts: best model, scheduler; returns the reason to
  /// stop, or "".
  std::string counted_validation(double loss,
                                 int64_t episode,
                                 int64_t epoch,
                                 bool full);
  /// Writes model_best.pt when `loss` is the best so far.
  void save_best(double loss,
                 int64_t episode,
                 int64_t epoch,
                 const std::string& status);
  void save_last(double loss, const std::string& status);
  CheckpointMeta meta(double loss, const std::string& status) const;
  void curriculum_at(int64_t episode);
  /// Data parallel: joins the ranks (before the configuration is read).
  void join_ranks();
  /// Data parallel: the ranks agree on what they built; rank 0's weights
  /// go to all; the gradient hooks are attached.
  void start_ranks();
  /// The stop signal: this process's, or (data parallel) the one the ranks
  /// agreed on at the last reduction.
  int stop_signal() const;
  /// Data parallel: the statistics `section` collected since `before`,
  /// reduced over the ranks (batch `index`'s share is the weight).
  void reduce(Section& section,
              const std::vector<size_t>& before,
              int64_t index);

  Run run_;
  std::unique_ptr<Schedule> schedule_;
  Section train_, valid_;
  sdk::DataDict validation_batch_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrScheduler> scheduler_;
  GradientClipping clipping_;
  std::vector<torch::Tensor> params_;
  TrainingProgress progress_;
  std::string cause_ = "Not Converged";  ///< MI-Prometheus's status string
  RunState end_state_ = RunState::kFinished;
  int64_t last_full_ = -1;  ///< the episode of the last full validation
  bool final_ = false;      ///< in the final validation (a signal stops it)
  double last_loss_ = 0.0;  ///< the last validation loss
  bool resumed_ = false;
  bool has_checkpoint_ = false;        ///< the folder has models/model_last.pt
  FolderLock lock_;                    ///< held for the whole run
  SavedConfiguration saved_;           ///< the run id and configuration digest
  std::vector<std::string> notes_;     ///< what the resume repaired (logged)
  std::vector<std::string> warnings_;  ///< --force's acceptance (logged)
  bool curriculum_ = false;
  bool curriculum_done_ = true;
  std::string dir_;
  Observers observers_;
  RankPlace place_;
  std::unique_ptr<DataParallel> dp_;  ///< null for a single process
  DataParallelSettings dp_settings_;
  bool writes_ = true;  ///< rank 0 (or a single process) writes the folder
};

}  // namespace mip
