#!/usr/bin/env python3
"""Data-parallel scaling on this machine: training samples per second of the
trainer at 1 and at N processes (--nproc N, Gloo on the loopback), each
process on one intra-op thread, runs interleaved (1 N 1 N ...).

Two ways to grow:
  weak    each rank keeps batch_size samples (distributed.batch_size:
          per_rank, the default): the global batch is batch_size x N
  strong  the global batch stays batch_size (distributed.batch_size: global)

The time is the training loop's, from training.log ("Training ended after
episode E (S s)"): start-up, the rendezvous and the final validation are
left out. samples/s = (E + 1) x global batch / S. Efficiency = samples/s at
N / (N x samples/s at 1).

    python3 bench/scaling.py [--build build/release] [--nproc 2]
                             [--repeats 3] [--workloads lstm,lenet5]

Run on demand, not in the test suite (docs/distributed.md has the numbers).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FASHION = "/usr/share/datasets/fashion-mnist"

# name: (worker, config, batch_size, episodes, extra --set overrides)
WORKLOADS = {
    "lstm": ("mip-online-trainer", "configs/serial_recall/lstm.yaml", 64, 3000,
             ["validation.partial_validation_interval=100000"]),
    "lenet5": ("mip-offline-trainer", "configs/vision/lenet5_fashion_mnist.yaml",
               64, 400, ["training.terminal_conditions.epoch_limit=1",
                         "validation.partial_validation_interval=-1",
                         "training.dataloader.prefetch=false"]),
}


def run_once(build, name, nproc, mode):
    worker, config, batch, episodes, sets = WORKLOADS[name]
    with tempfile.TemporaryDirectory(prefix="mip-scaling-") as tmp:
        cmd = [os.path.join(build, "bin", worker),
               "--config", os.path.join(ROOT, config),
               "--expdir", tmp, "--seed", "1", "--threads", "1", "--li", "100000",
               "--set", "training.problem.batch_size=%d" % batch,
               "--set", "training.terminal_conditions.episode_limit=%d" % episodes,
               "--set", "distributed.batch_size=%s" % (
                   "global" if mode == "strong" else "per_rank")]
        for s in sets:
            cmd += ["--set", s]
        if nproc > 1:
            cmd += ["--nproc", str(nproc)]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("%s failed (%d):\n%s" % (" ".join(cmd), out.returncode,
                                               out.stdout + out.stderr))
        m = re.search(r"Training ended after episode (\d+) \(([\d.]+) s\)",
                      out.stdout + out.stderr)
        if not m:
            sys.exit("no loop time in the output of " + " ".join(cmd))
        done, seconds = int(m.group(1)) + 1, float(m.group(2))
        global_batch = batch if mode == "strong" or nproc == 1 else batch * nproc
        return done * global_batch / seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workloads", default="lstm,lenet5")
    args = ap.parse_args()
    print("cores: %d (the machine may be shared: compare within one run)"
          % len(os.sched_getaffinity(0)))
    print("| workload | growth | samples/s, 1 process | samples/s, %d processes "
          "| speed-up | efficiency |" % args.nproc)
    print("|---|---|---|---|---|---|")
    for name in args.workloads.split(","):
        if name == "lenet5" and not os.path.isdir(FASHION):
            print("| lenet5 | skipped: %s not installed | | | | |" % FASHION)
            continue
        for mode in ("weak", "strong"):
            ones, ns = [], []
            for _ in range(args.repeats):
                ones.append(run_once(args.build, name, 1, mode))
                ns.append(run_once(args.build, name, args.nproc, mode))
            one, n = statistics.median(ones), statistics.median(ns)
            print("| %s | %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2fx | %.0f%% |"
                  % (name, mode, one, min(ones), max(ones), n, min(ns), max(ns),
                     n / one, 100 * n / (args.nproc * one)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
