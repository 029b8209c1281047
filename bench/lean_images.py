#!/usr/bin/env python3
"""Lean image data: MI-Prometheus's LeNet5 experiment on MNIST at 32x32
(bench/configs/lenet5_mnist32.yaml, its configs/vision/lenet5_mnist.yaml with
the data folder pointed at Debian's Fashion-MNIST) through the offline
trainer, timed for

  start    wall clock from spawning the worker to its first episode
  RSS      the process's peak resident memory (wait4, as /usr/bin/time -v)
  ms/ep    milliseconds per episode (status.yaml, first 5 episodes left out)

and, in the same rounds (interleaved), the same experiment with a baseline
build (--baseline: a build folder, or a copy of one, holding bin/ and lib/,
e.g. one built from the commit before the change) and the worker started
with --version alone, which loads LibTorch's libraries and exits: the part
of the start-up that is LibTorch's, not ours. Prints the medians (RSS: the
largest), the paired ratio of episode times, and the goals of issue 16:
first episode within 1.15 s (a quarter of MI-Prometheus's 4.6 s), peak RSS
within 273 MiB (half of its 547 MiB), episodes no slower than the baseline's.

    python3 bench/lean_images.py [--build build/release] [--baseline DIR]
                                 [--repeats 5] [--episodes 505] [--threads N]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402  (bench/run.py: spawn and wait4)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIG = os.path.join(HERE, "configs", "lenet5_mnist32.yaml")
GOAL_START_S = 4.6 / 4
GOAL_RSS_MIB = 273  # half of 547, rounded down


def spawn(cmd, env):
    """Runs `cmd`; returns (peak RSS in MiB, spawn time, seconds it ran)."""
    _, _, rss, start = bench_run.run(cmd, env)
    return rss, start, time.time() - start


def worker(build, args, scratch):
    """One run of the experiment with the build in `build`."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, "lib"))
    expdir = tempfile.mkdtemp(dir=scratch)
    cmd = [os.path.join(build, "bin", "mip-offline-trainer"), "--config", CONFIG,
           "--expdir", expdir, "--ll", "warning",
           "--plugin-path", os.path.join(build, "lib", "mip", "plugins"),
           "--set", "training.terminal_conditions.episode_limit=%d" % args.episodes]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    rss, start, _ = spawn(cmd, env)
    timing = {}
    for dirpath, _, files in os.walk(expdir):
        if "status.yaml" in files:
            with open(os.path.join(dirpath, "status.yaml")) as f:
                for line in f:
                    key, _, value = line.strip().partition(": ")
                    if key in ("first_episode_unix", "ms_per_episode"):
                        timing[key] = float(value)
    shutil.rmtree(expdir, ignore_errors=True)
    return {"start": timing["first_episode_unix"] - start, "rss": rss,
            "ms": timing["ms_per_episode"]}


def torch_load(build):
    """The worker started with --version: LibTorch's libraries loaded, then exit."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, "lib"))
    rss, _, seconds = spawn([os.path.join(build, "bin", "mip-offline-trainer"), "--version"], env)
    return {"start": seconds, "rss": rss}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--baseline", help="another build folder (bin/, lib/) to compare with")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=505)
    ap.add_argument("--threads", type=int, default=0, help="--threads of the worker (0: its default)")
    args = ap.parse_args()
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        sys.exit("needs Debian's Fashion-MNIST: sudo apt install dataset-fashion-mnist")
    scratch = tempfile.mkdtemp(prefix="mip-lean-")
    ways = {"lean": lambda: worker(args.build, args, scratch),
            "torch": lambda: torch_load(args.build)}
    if args.baseline:
        ways["baseline"] = lambda: worker(args.baseline, args, scratch)
    results = {w: [] for w in ways}
    for rep in range(args.repeats + 1):  # the first round warms the caches, untimed
        for way, fn in ways.items():
            r = fn()
            if rep > 0:
                results[way].append(r)
                print("round %d %-8s start %.3f s  RSS %.0f MiB%s" % (
                    rep, way, r["start"], r["rss"],
                    "  %.3f ms/episode" % r["ms"] if "ms" in r else ""), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)

    def summary(way):
        rs = results[way]
        out = {"start": statistics.median(r["start"] for r in rs),
               "rss": max(r["rss"] for r in rs)}
        if "ms" in rs[0]:
            out["ms"] = statistics.median(r["ms"] for r in rs)
        return out

    lean, torch = summary("lean"), summary("torch")
    print("\n| build | start to 1st episode (s) | peak RSS (MiB) | ms/episode |")
    print("|---|---|---|---|")
    print("| this build | %.2f | %.0f | %.3f |" % (lean["start"], lean["rss"], lean["ms"]))
    if args.baseline:
        base = summary("baseline")
        print("| baseline | %.2f | %.0f | %.3f |" % (base["start"], base["rss"], base["ms"]))
    print("| `--version` only (LibTorch loaded) | %.2f | %.0f | |" % (torch["start"], torch["rss"]))
    print("\nOurs (this build less `--version`): %.2f s to the first episode, %.0f MiB"
          % (lean["start"] - torch["start"], lean["rss"] - torch["rss"]))
    print("goal: first episode <= %.2f s: %s (%.2f s)" % (
        GOAL_START_S, "met" if lean["start"] <= GOAL_START_S else "MISSED", lean["start"]))
    print("goal: peak RSS <= %.0f MiB: %s (%.0f MiB)" % (
        GOAL_RSS_MIB, "met" if lean["rss"] <= GOAL_RSS_MIB else "MISSED", lean["rss"]))
    if args.baseline:
        ratios = [a["ms"] / b["ms"] for a, b in zip(results["lean"], results["baseline"])]
        ratio = statistics.median(ratios)
        print("goal: episodes no slower than the baseline: %s (this/baseline, median of the "
              "rounds' ratios: %.3f; range %.3f-%.3f)" % (
                  "met" if ratio <= 1.0 else "MISSED", ratio, min(ratios), max(ratios)))


if __name__ == "__main__":
    main()
