#!/usr/bin/env python3
"""Episodes a memory model needs to learn serial recall, measured by training it.

For each model and seed, runs mip-online-trainer on bench/configs/
convergence_<model>.yaml (SerialRecallCommandLines, 8 data bits, batch 64,
lengths 3 to 20 with MI-Prometheus's curriculum starting at 5; a partial
validation every --interval episodes on one batch of 64 sequences of length
20, the longest: a batch has one length, so a batch of lengths 3 to 20 would
test one random length), watches validation_statistics.csv while it runs, and stops the run
(SIGTERM, which the trainer handles as a clean stop) at the first partial
validation whose per-bit accuracy is at least --target. Prints per model the
episodes of each seed, their median, and the milliseconds per episode the
trainer recorded; --markdown writes the same as a table.

    python3 bench/convergence.py [--build build/release] [--models ntm,dnc]
                                 [--seeds 1,2,3] [--episode-limit 20000]
                                 [--interval 100] [--target 0.99]
                                 [--threads 1] [--markdown out.md]

A run that never reaches the target is reported as "> LIMIT". Build first:
cmake --preset release && cmake --build --preset release.
"""
import argparse
import csv
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def find(expdir, name):
    for dirpath, _, files in os.walk(expdir):
        if name in files:
            return os.path.join(dirpath, name)
    return None


def first_reaching(path, target):
    """(episode, acc) of the first validation row with acc >= target, or None."""
    if not path or not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    rows = [line for line in lines if line and not line.startswith("#")]
    if len(rows) < 2:
        return None
    for row in csv.DictReader(rows):
        try:
            acc = float(row["acc"])
            episode = int(row["episode"])
        except (KeyError, TypeError, ValueError):
            continue  # a row still being written
        if acc >= target and int(row.get("seq_length", 20)) >= 20:
            return episode, acc
    return None


def ms_per_episode(expdir):
    status = find(expdir, "status.yaml")
    if not status:
        return None
    with open(status) as f:
        for line in f:
            key, _, value = line.strip().partition(": ")
            if key == "ms_per_episode":
                return float(value)
    return None


def train(build, model, seed, args):
    expdir = tempfile.mkdtemp(prefix="mip-convergence-")
    cmd = [os.path.join(build, "bin", "mip-online-trainer"),
           "--config", os.path.join(HERE, "configs", "convergence_%s.yaml" % model),
           "--expdir", expdir, "--threads", str(args.threads), "--ll", "warning",
           "--set", "training.seed_torch=%d" % seed,
           "--set", "training.seed_numpy=%d" % seed,
           "--set", "training.terminal_conditions.episode_limit=%d" % args.episode_limit,
           "--set", "validation.partial_validation_interval=%d" % args.interval]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env)
    reached = None
    while proc.poll() is None:
        time.sleep(1.0)
        reached = first_reaching(find(expdir, "validation_statistics.csv"), args.target)
        if reached:
            proc.send_signal(signal.SIGTERM)
            break
    _, err = proc.communicate()
    if proc.returncode not in (0, 130):
        sys.exit("failed (exit %d): %s\n%s" % (proc.returncode, " ".join(cmd), err[-3000:]))
    if not reached:
        reached = first_reaching(find(expdir, "validation_statistics.csv"), args.target)
    ms = ms_per_episode(expdir)
    shutil.rmtree(expdir, ignore_errors=True)
    return {"episodes": reached[0] if reached else None, "ms": ms,
            "seconds": time.time() - start}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--models", default="ntm,dnc")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--episode-limit", type=int, default=20000)
    ap.add_argument("--interval", type=int, default=100)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for model in args.models.split(","):
        if not os.path.exists(os.path.join(HERE, "configs", "convergence_%s.yaml" % model)):
            sys.exit("no bench/configs/convergence_%s.yaml" % model)
        results = [train(args.build, model, seed, args) for seed in seeds]
        reached = [r["episodes"] for r in results if r["episodes"] is not None]
        cells = [str(r["episodes"]) if r["episodes"] is not None
                 else "> %d" % args.episode_limit for r in results]
        median = (statistics.median(reached) if len(reached) == len(results)
                  else "> %d" % args.episode_limit)
        ms = statistics.median([r["ms"] for r in results if r["ms"] is not None] or [0.0])
        rows.append((model, cells, median, ms))
        print("%-6s seeds %s: episodes to acc >= %.2f: %s (median %s), %.1f ms/episode"
              % (model, args.seeds, args.target, ", ".join(cells), median, ms), flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("| model | episodes per seed (%s) | median | ms per episode |\n"
                    "|---|---|---|---|\n" % args.seeds)
            for model, cells, median, ms in rows:
                f.write("| %s | %s | %s | %.1f |\n" % (model, ", ".join(cells), median, ms))


if __name__ == "__main__":
    main()
