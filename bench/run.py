#!/usr/bin/env python3
"""Runs each benchmark workload three ways, interleaved (A B C A B C ...):

  A  worker  the mip worker with the plugins, as a user runs it
  B  bare    the same maths as a bare LibTorch C++ loop (the floor)
  C  python  the same loop in Python PyTorch (Debian's python3-torch)

with the thread count pinned (torch and OMP_NUM_THREADS), and prints per
workload and thread count: median and spread of ms per episode, worker/bare and
python/worker, start-up to the first episode, and peak resident memory.

    python3 bench/run.py [--build build/bench] [--repeats 5] [--threads 1,2]
                         [--workloads lstm,mlp,lenet5] [--markdown out.md]

Build first: cmake --preset bench && cmake --build --preset bench (docs/performance.md).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-torch lives

# name: (worker, config, episode key, episodes, extra worker args)
WORKLOADS = {
    "lstm": ("mip-online-trainer", "lstm.yaml", 105),
    "mlp": ("mip-online-trainer", "mlp.yaml", 3005),
    "lenet5": ("mip-offline-trainer", "lenet5.yaml", 859),
    "ntm": None,  # no NTM plugin yet: skipped
}


def run(cmd, env):
    """Runs `cmd`; returns (stdout, peak RSS in MiB, start time)."""
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    out, err = "", ""
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    err = proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s\n%s\n%s" % (" ".join(cmd), out, err[-3000:]))
    return out, usage.ru_maxrss / 1024.0, start


def worker_result(build, name, threads, env, scratch):
    exe, config, episodes = WORKLOADS[name]
    expdir = tempfile.mkdtemp(dir=scratch)
    cmd = [os.path.join(build, "bin", exe), "--config", os.path.join(HERE, "configs", config),
           "--expdir", expdir, "--threads", str(threads), "--ll", "warning",
           "--plugin-path", os.path.join(build, "bench", "plugins"),
           "--set", "training.terminal_conditions.episode_limit=%d" % episodes]
    _, rss, start = run(cmd, env)
    status = None
    for dirpath, _, files in os.walk(expdir):
        if "status.yaml" in files:
            status = os.path.join(dirpath, "status.yaml")
    timing = {}
    with open(status) as f:
        for line in f:
            key, _, value = line.strip().partition(": ")
            if key in ("first_episode_unix", "ms_per_episode"):
                timing[key] = float(value)
    shutil.rmtree(expdir, ignore_errors=True)
    return timing["ms_per_episode"], timing["first_episode_unix"] - start, rss


def loop_result(cmd, env):
    out, rss, start = run(cmd, env)
    data = json.loads(out.strip().splitlines()[-1])
    return data["ms_per_episode"], data["first_episode_unix"] - start, rss


def summary(values):
    med = statistics.median(values)
    spread = (max(values) - min(values)) / med * 100.0 if med else 0.0
    return med, spread


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--workloads", default="lstm,mlp,lenet5,ntm")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    scratch = tempfile.mkdtemp(prefix="mip-bench-")
    rows = []
    for name in args.workloads.split(","):
        if WORKLOADS.get(name) is None:
            print("%-7s skipped: no such plugin yet" % name, flush=True)
            continue
        for threads in threads_list:
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
            episodes = WORKLOADS[name][2]
            ways = {
                "worker": lambda: worker_result(args.build, name, threads, env, scratch),
                "bare": lambda: loop_result(
                    [os.path.join(args.build, "bin", "mip-bench-bare"), name, str(threads),
                     str(episodes)], env),
                "python": lambda: loop_result(
                    [SYSTEM_PYTHON, os.path.join(HERE, "bare_loops.py"), name, str(threads),
                     str(episodes)], env),
            }
            results = {w: [] for w in ways}
            for rep in range(args.repeats + 1):  # the first round warms up, untimed
                for way, fn in ways.items():
                    r = fn()
                    if rep > 0:
                        results[way].append(r)
            row = {"workload": name, "threads": threads}
            for way, rs in results.items():
                ms, spread = summary([r[0] for r in rs])
                row[way] = {"ms": ms, "spread": spread,
                            "startup": statistics.median(r[1] for r in rs),
                            "rss": max(r[2] for r in rs)}
            rows.append(row)
            print_row(row)
    shutil.rmtree(scratch, ignore_errors=True)
    table = markdown(rows)
    print("\n" + table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


def print_row(row):
    w, b, p = row["worker"], row["bare"], row["python"]
    print("%-7s %d thr | worker %8.3f ms ±%4.1f%% | bare %8.3f ±%4.1f%% | python %8.3f ±%4.1f%% "
          "| worker/bare %.3f | python/worker %.2f | start %.2f/%.2f/%.2f s | RSS %.0f/%.0f/%.0f MiB"
          % (row["workload"], row["threads"], w["ms"], w["spread"], b["ms"], b["spread"], p["ms"],
             p["spread"], w["ms"] / b["ms"], p["ms"] / w["ms"], w["startup"], b["startup"],
             p["startup"], w["rss"], b["rss"], p["rss"]), flush=True)


def markdown(rows):
    out = ["| workload | threads | worker ms/ep (spread) | bare C++ ms/ep (spread) | "
           "python ms/ep (spread) | worker/bare | python/worker | start to 1st episode "
           "worker / bare / python (s) | peak RSS worker / bare / python (MiB) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        w, b, p = r["worker"], r["bare"], r["python"]
        out.append("| %s | %d | %.3f (%.1f%%) | %.3f (%.1f%%) | %.3f (%.1f%%) | %.3f | %.2f | "
                   "%.2f / %.2f / %.2f | %.0f / %.0f / %.0f |"
                   % (r["workload"], r["threads"], w["ms"], w["spread"], b["ms"], b["spread"],
                      p["ms"], p["spread"], w["ms"] / b["ms"], p["ms"] / w["ms"], w["startup"],
                      b["startup"], p["startup"], w["rss"], b["rss"], p["rss"]))
    return "\n".join(out)


if __name__ == "__main__":
    main()
