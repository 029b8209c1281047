#pragma once

// Optimisation: optimizers by name, learning-rate schedulers and gradient
// clipping, each built from its section of the configuration. Includes
// LibTorch.

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <mip/sdk/param_view.hpp>

namespace mip {

/// Builds a torch optimizer from a section such as `training.optimizer`
/// (`name` plus PyTorch's keyword arguments; unknown arguments are errors).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(
    const sdk::ParamView& section, std::vector<torch::Tensor> params);

/// A scheduler's state as named numbers (PyTorch's state_dict names where
/// they exist: `best`, `num_bad_epochs`, `cooldown_counter`, `lr.<group>`).
using SchedulerState = std::map<std::string, double>;

/// A learning-rate schedule, stepped at epoch ends and validations.
class LrScheduler {
 public:
  virtual ~LrScheduler() = default;
  /// After `epochs_done` completed epochs.
  virtual void epoch_end(int64_t epochs_done) = 0;
  /// After a validation that counts, with its loss.
  virtual void validation(double loss) = 0;
  /// What a checkpoint stores, and its restoration on resume (a schedule
  /// that is a function of the epochs needs only `epochs_done`).
  virtual SchedulerState state() const = 0;
  virtual void restore(const SchedulerState& state, int64_t epochs_done) = 0;
};

/// Builds a scheduler from `training.scheduler` (StepLR, MultiStepLR,
/// ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau).
std::unique_ptr<LrScheduler> make_scheduler(const sdk::ParamView& section,
                                            torch::optim::Optimizer& optimizer);

/// Names the numbers of a scheduler state that 0.1.0 checkpoints stored as a
/// plain list (ReduceLROnPlateau's best, bad epochs, cooldown, then the
/// learning rates), so that they still resume.
SchedulerState scheduler_state_from_list(const std::vector<double>& list);

/// `training.gradient_clipping`: a number clips by value (MI-Prometheus);
/// `{value: v}` or `{norm: n}` choose.
struct GradientClipping {
  double value = 0.0;  ///< clip every gradient element to [-value, value]
  double norm = 0.0;   ///< rescale so the total 2-norm is at most this
  static GradientClipping from_config(const sdk::ParamView& training);
  void apply(const std::vector<torch::Tensor>& params) const;
};

}  // namespace mip
