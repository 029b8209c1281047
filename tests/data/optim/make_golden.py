#!/usr/bin/python3
"""Golden values for MI-Prometheus C++'s optimizers and schedulers, from
Python PyTorch (Debian's python3-torch).

Regenerates golden.yaml next to this script:

    /usr/bin/python3 tests/data/optim/make_golden.py

(/usr/bin/python3: Debian's python3-torch lives in its dist-packages.) The
output is deterministic: fixed starting parameters, gradients from a closed
form with exactly representable values, fixed validation losses, float64
throughout, every number written with repr (shortest exact round trip).
tests/unit/optim_test.cpp replays the same steps through make_optimizer and
make_scheduler and compares every value.

How the C++ side is stepped, and its PyTorch equivalent used here:
- optimizers: one optimizer.step() per gradient, parameters recorded after
  each step;
- epoch schedules (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR):
  the scheduler is built after the optimizer (PyTorch's constructor performs
  the initial step, last_epoch 0); after each completed epoch the trainer
  calls epoch_end(epochs_done), PyTorch's scheduler.step() (last_epoch becomes
  epochs_done); the learning rate is recorded after each;
- ReduceLROnPlateau: validation(loss) is PyTorch's scheduler.step(loss); the
  learning rate and the state (best, num_bad_epochs, cooldown_counter) are
  recorded after each.
"""

import math
import os
import sys

import torch

STEPS = 6  # optimizer steps
EPOCHS = 12  # scheduler steps

# Starting parameters: a 3x2 weight and a 2-element bias.
WEIGHT = [[0.5, -1.25], [2.0, 0.125], [-0.75, 1.5]]
BIAS = [0.25, -0.5]


def gradient(step, index):
    """Gradient of element `index` (row-major: the weight's 6, then the
    bias's 2) at `step` (0-based): multiples of 1/4 in [-1.25, 1.25], signs
    varying, some exactly zero."""
    return ((7 * index + 3 * step + 2) % 11 - 5) / 4.0


def gradients(step):
    w = [[gradient(step, 2 * r + c) for c in range(2)] for r in range(3)]
    b = [gradient(step, 6 + c) for c in range(2)]
    return w, b


OPTIMIZERS = [
    ("Adam_defaults", {"name": "Adam"}),
    ("Adam_lr_betas_eps", {"name": "Adam", "lr": 0.05, "betas": [0.8, 0.95],
                           "eps": 1e-6}),
    ("Adam_amsgrad_weight_decay", {"name": "Adam", "lr": 0.1, "amsgrad": True,
                                   "weight_decay": 0.1}),
    ("AdamW_defaults", {"name": "AdamW"}),
    ("AdamW_weight_decay_amsgrad", {"name": "AdamW", "lr": 0.02,
                                    "weight_decay": 0.3, "amsgrad": True,
                                    "betas": [0.5, 0.9]}),
    ("SGD_plain", {"name": "SGD", "lr": 0.1}),
    ("SGD_momentum_dampening", {"name": "SGD", "lr": 0.05, "momentum": 0.9,
                                "dampening": 0.3}),
    ("SGD_nesterov_weight_decay", {"name": "SGD", "lr": 0.05, "momentum": 0.8,
                                   "nesterov": True, "weight_decay": 0.01}),
    ("RMSprop_defaults", {"name": "RMSprop"}),
    ("RMSprop_centered_momentum", {"name": "RMSprop", "lr": 0.005,
                                   "alpha": 0.9, "centered": True,
                                   "momentum": 0.5, "eps": 1e-4}),
    ("RMSprop_weight_decay", {"name": "RMSprop", "lr": 0.02,
                              "weight_decay": 0.2}),
    ("Adagrad_defaults", {"name": "Adagrad"}),
    ("Adagrad_lr_decay_weight_decay", {"name": "Adagrad", "lr": 0.1,
                                       "lr_decay": 0.05, "weight_decay": 0.1,
                                       "initial_accumulator_value": 0.3,
                                       "eps": 1e-6}),
]

# Schedulers run on an SGD optimizer with learning rate `lr`.
SCHEDULERS = [
    ("StepLR_defaults", 0.1, {"name": "StepLR", "step_size": 3}),
    ("StepLR_gamma", 0.3, {"name": "StepLR", "step_size": 2, "gamma": 0.7}),
    ("MultiStepLR_defaults", 0.1, {"name": "MultiStepLR",
                                   "milestones": [2, 5, 9]}),
    ("MultiStepLR_repeated_unsorted", 1.0, {"name": "MultiStepLR",
                                            "milestones": [8, 3, 8],
                                            "gamma": 0.5}),
    ("ExponentialLR", 0.1, {"name": "ExponentialLR", "gamma": 0.9}),
    ("ExponentialLR_fast", 0.7, {"name": "ExponentialLR", "gamma": 0.3}),
    ("CosineAnnealingLR_defaults", 0.1, {"name": "CosineAnnealingLR",
                                         "T_max": 5}),
    ("CosineAnnealingLR_eta_min", 0.05, {"name": "CosineAnnealingLR",
                                         "T_max": 4, "eta_min": 0.001}),
    ("CosineAnnealingLR_long", 0.2, {"name": "CosineAnnealingLR",
                                     "T_max": 20, "eta_min": 0.01}),
]

# ReduceLROnPlateau: validation losses, one per step.
LOSSES = [1.0, 0.9, 0.95, 0.91, 0.9, 0.92, 0.8999, 0.85, 0.86, 0.87, 0.88,
          0.84, 0.845, 0.85, 0.9, 0.91]
# Improves twice, then 12 validations without improvement (default patience
# 10: the eleventh reduces).
FLAT_LOSSES = [1.0, 0.5] + [0.6] * 12
SLOW_LOSSES = [1.0, 0.99999, 0.99998, 0.5, 0.49996, 0.49995, 0.4999, 0.4,
               0.41, 0.42, 0.43, 0.44]
PLATEAUS = [
    ("ReduceLROnPlateau_defaults", 0.1, {"name": "ReduceLROnPlateau"},
     FLAT_LOSSES),
    ("ReduceLROnPlateau_patience_factor", 0.1,
     {"name": "ReduceLROnPlateau", "patience": 1, "factor": 0.5}, LOSSES),
    ("ReduceLROnPlateau_cooldown_min_lr", 0.1,
     {"name": "ReduceLROnPlateau", "patience": 0, "factor": 0.3,
      "cooldown": 2, "min_lr": 0.004}, LOSSES),
    ("ReduceLROnPlateau_threshold", 0.1,
     {"name": "ReduceLROnPlateau", "patience": 1, "threshold": 0.0001,
      "factor": 0.2}, SLOW_LOSSES),
    ("ReduceLROnPlateau_large_threshold", 0.1,
     {"name": "ReduceLROnPlateau", "patience": 2, "threshold": 0.05,
      "mode": "min"}, LOSSES),
    # A learning rate so small that PyTorch stops reducing it (a reduction
    # by no more than eps, 1e-8, is skipped).
    ("ReduceLROnPlateau_tiny_lr_eps", 1e-7,
     {"name": "ReduceLROnPlateau", "patience": 0, "factor": 0.5}, LOSSES),
    ("ReduceLROnPlateau_tiny_lr_small_eps", 1e-7,
     {"name": "ReduceLROnPlateau", "patience": 0, "factor": 0.5,
      "eps": 1e-10}, LOSSES),
]


def num(x):
    x = float(x)
    assert math.isfinite(x), x
    return repr(x)


def flow(value):
    """A YAML flow value for an argument or a list of numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, float):
        return num(value)
    return str(value)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run_optimizer(args):
    weight = torch.tensor(WEIGHT, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(BIAS, dtype=torch.float64, requires_grad=True)
    kwargs = {k: (tuple(v) if k == "betas" else v)
              for k, v in args.items() if k != "name"}
    opt = getattr(torch.optim, args["name"])([weight, bias], **kwargs)
    out = []
    for step in range(STEPS):
        gw, gb = gradients(step)
        weight.grad = torch.tensor(gw, dtype=torch.float64)
        bias.grad = torch.tensor(gb, dtype=torch.float64)
        opt.step()
        out.append((flat(weight), flat(bias)))
    return out


def make_scheduler(lr, args):
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    kwargs = {k: v for k, v in args.items() if k != "name"}
    sched = getattr(torch.optim.lr_scheduler, args["name"])(opt, **kwargs)
    return opt, sched


def run_epoch_schedule(lr, args):
    opt, sched = make_scheduler(lr, args)
    out = []
    for _ in range(EPOCHS):
        opt.step()  # no gradients: nothing moves; keeps PyTorch's order
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def run_plateau(lr, args, losses):
    opt, sched = make_scheduler(lr, args)
    out = []
    for loss in losses:
        opt.step()
        sched.step(loss)
        out.append((opt.param_groups[0]["lr"], sched.best,
                    sched.num_bad_epochs, sched.cooldown_counter))
    return out


def main():
    torch.set_default_dtype(torch.float64)
    lines = [
        "# Golden values from Python PyTorch " + torch.__version__ +
        "; generated by make_golden.py (do not edit: rerun",
        "# /usr/bin/python3 tests/data/optim/make_golden.py). Read by "
        "tests/unit/optim_test.cpp.",
        "torch_version: \"" + torch.__version__ + "\"",
        "weight: " + flow([v for row in WEIGHT for v in row]) +
        "  # 3x2, row-major",
        "bias: " + flow(BIAS),
        "# gradients[step]: the weight's 6 (row-major), then the bias's 2",
        "gradients:",
    ]
    for step in range(STEPS):
        gw, gb = gradients(step)
        lines.append("  - " + flow([v for row in gw for v in row] + gb))
    lines.append("# parameters after each step (weight row-major, then bias)")
    lines.append("optimizers:")
    for name, args in OPTIMIZERS:
        lines.append("  - id: " + name)
        lines.append("    args: {" + ", ".join(
            k + ": " + flow(v) for k, v in args.items()) + "}")
        lines.append("    params:")
        for w, b in run_optimizer(args):
            lines.append("      - " + flow(w + b))
    lines.append("# lr after epoch_end(1), epoch_end(2), ... of an SGD "
                 "optimizer with learning rate lr")
    lines.append("epoch_schedulers:")
    for name, lr, args in SCHEDULERS:
        lines.append("  - id: " + name)
        lines.append("    lr: " + num(lr))
        lines.append("    args: {" + ", ".join(
            k + ": " + flow(v) for k, v in args.items()) + "}")
        lines.append("    lrs: " + flow(run_epoch_schedule(lr, args)))
    lines.append("# after each validation(loss): lr, best, num_bad_epochs, "
                 "cooldown_counter")
    lines.append("plateau_schedulers:")
    for name, lr, args, losses in PLATEAUS:
        lines.append("  - id: " + name)
        lines.append("    lr: " + num(lr))
        lines.append("    args: {" + ", ".join(
            k + ": " + flow(v) for k, v in args.items()) + "}")
        lines.append("    losses: " + flow(losses))
        rows = run_plateau(lr, args, losses)
        lines.append("    lrs: " + flow([r[0] for r in rows]))
        lines.append("    best: " + flow([r[1] for r in rows]))
        lines.append("    num_bad_epochs: " + flow([r[2] for r in rows]))
        lines.append("    cooldown_counter: " + flow([r[3] for r in rows]))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "golden.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
