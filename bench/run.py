#!/usr/bin/env python3
"""Runs each benchmark workload three ways, interleaved (A B C A B C ...):

  A  worker  the mip worker with the plugins, as a user runs it
  B  bare    the same maths as a bare LibTorch C++ loop (the floor)
  C  python  the same loop in Python PyTorch (Debian's python3-torch)

with the thread count pinned (torch and OMP_NUM_THREADS), and prints per
workload and thread count: median and spread of ms per episode, the time the
loops spend making batches, worker/bare and python/worker (median of the
rounds' paired ratios, with a distribution-free 95% interval), start-up to the
first episode, and peak resident memory.

    python3 bench/run.py [--build build/bench] [--repeats 10] [--threads 1,2]
                         [--workloads lstm,mlp,wide,lenet5,ntm,dnc] [--markdown out.md]
    python3 bench/run.py --instructions [--workloads ...]

--instructions counts instructions per episode instead of timing them, under
valgrind's callgrind (one thread): each way runs twice, with n1 and n2
episodes, and (I(n2) - I(n1)) / (n2 - n1) leaves start-up and the fixed
validations out. The counts do not depend on the machine's load.

Build first: cmake --preset bench && cmake --build --preset bench (docs/performance.md).
"""
import argparse
import concurrent.futures
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-torch lives
TARGET = 1.03  # the worker within 3% of the bare loop

# name: (worker, config, episodes timed, (n1, n2) episodes under callgrind)
WORKLOADS = {
    "lstm": ("mip-online-trainer", "lstm.yaml", 105, (10, 20)),
    "mlp": ("mip-online-trainer", "mlp.yaml", 3005, (105, 405)),
    "wide": ("mip-online-trainer", "wide.yaml", 205, (10, 30)),
    "lenet5": ("mip-offline-trainer", "lenet5.yaml", 859, (10, 20)),
    "ntm": ("mip-online-trainer", "ntm.yaml", 105, (10, 20)),
}

# The DNC at MI-Prometheus's dwm_baselines/dnc settings (bench/configs/dnc.yaml).
# By hand, `bare_loops.py dnc_batched_diagonal` times its Python port without
# the per-sample diagonal loop.
WORKLOADS["dnc"] = ("mip-online-trainer", "dnc.yaml", 105, (10, 20))


def run(cmd, env):
    """Runs `cmd`; returns (stdout, stderr, peak RSS in MiB, start time)."""
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    err = proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s\n%s\n%s" % (" ".join(cmd), out, err[-3000:]))
    return out, err, usage.ru_maxrss / 1024.0, start


def worker_cmd(build, name, threads, episodes, expdir):
    exe, config = WORKLOADS[name][:2]
    return [os.path.join(build, "bin", exe), "--config", os.path.join(HERE, "configs", config),
            "--expdir", expdir, "--threads", str(threads), "--ll", "warning",
            "--plugin-path", os.path.join(build, "bench", "plugins"),
            "--set", "training.terminal_conditions.episode_limit=%d" % episodes]


def bare_cmd(build, name, threads, episodes):
    return [os.path.join(build, "bin", "mip-bench-bare"), name, str(threads), str(episodes)]


def python_cmd(name, threads, episodes):
    return [SYSTEM_PYTHON, os.path.join(HERE, "bare_loops.py"), name, str(threads),
            str(episodes)]


def worker_result(build, name, threads, env, scratch):
    expdir = tempfile.mkdtemp(dir=scratch)
    _, _, rss, start = run(worker_cmd(build, name, threads, WORKLOADS[name][2], expdir), env)
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
    return {"ms": timing["ms_per_episode"], "startup": timing["first_episode_unix"] - start,
            "rss": rss}


def loop_result(cmd, env):
    out, _, rss, start = run(cmd, env)
    data = json.loads(out.strip().splitlines()[-1])
    return {"ms": data["ms_per_episode"], "batch": data["batch_ms_per_episode"],
            "startup": data["first_episode_unix"] - start, "rss": rss}


def spread(values):
    med = statistics.median(values)
    return (max(values) - min(values)) / med * 100.0 if med else 0.0


def median_interval(values, level=0.95):
    """The median and a distribution-free interval for it (order statistics of
    the binomial): (median, low, high, coverage)."""
    xs = sorted(values)
    n = len(xs)

    def below(k):  # P(Binomial(n, 1/2) <= k)
        return sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n

    k = 1
    while k + 1 <= n // 2 and 2 * below(k) <= 1 - level:
        k += 1
    return statistics.median(xs), xs[k - 1], xs[n - k], 1 - 2 * below(k - 1)


def verdict(interval):
    _, low, high, coverage = interval
    if coverage < 0.9:
        return "too few rounds"
    if high <= TARGET:
        return "met"
    if low > TARGET:
        return "missed"
    return "not settled"


def time_workloads(args, threads_list):
    scratch = tempfile.mkdtemp(prefix="mip-bench-")
    rows = []
    for name in args.workloads.split(","):
        if WORKLOADS.get(name) is None:
            print("%-7s skipped: no such plugin yet" % name, flush=True)
            continue
        episodes = WORKLOADS[name][2]
        for threads in threads_list:
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
            ways = {
                "worker": lambda: worker_result(args.build, name, threads, env, scratch),
                "bare": lambda: loop_result(bare_cmd(args.build, name, threads, episodes), env),
                "python": lambda: loop_result(python_cmd(name, threads, episodes), env),
            }
            results = {w: [] for w in ways}
            for rep in range(args.repeats + 1):  # the first round warms up, untimed
                for way, fn in ways.items():
                    r = fn()
                    if rep > 0:
                        results[way].append(r)
            row = {"workload": name, "threads": threads}
            for way, rs in results.items():
                ms = [r["ms"] for r in rs]
                row[way] = {"ms": statistics.median(ms), "spread": spread(ms),
                            "startup": statistics.median(r["startup"] for r in rs),
                            "rss": max(r["rss"] for r in rs)}
                if "batch" in rs[0]:
                    row[way]["batch"] = statistics.median(r["batch"] for r in rs)
            w, b, p = results["worker"], results["bare"], results["python"]
            row["wb"] = median_interval([x["ms"] / y["ms"] for x, y in zip(w, b)])
            row["pw"] = median_interval([x["ms"] / y["ms"] for x, y in zip(p, w)])
            rows.append(row)
            print_row(row)
    shutil.rmtree(scratch, ignore_errors=True)
    return rows


def print_row(row):
    w, b, p = row["worker"], row["bare"], row["python"]
    wb, pw = row["wb"], row["pw"]
    print("%-7s %d thr | worker %8.3f ms ±%4.1f%% | bare %8.3f ±%4.1f%% (batches %.3f) | "
          "python %8.3f ±%4.1f%% | worker/bare %.3f [%.3f, %.3f] 3%%: %s | "
          "python/worker %.2f [%.2f, %.2f] | start %.2f/%.2f/%.2f s | RSS %.0f/%.0f/%.0f MiB"
          % (row["workload"], row["threads"], w["ms"], w["spread"], b["ms"], b["spread"],
             b["batch"], p["ms"], p["spread"], wb[0], wb[1], wb[2], verdict(wb),
             pw[0], pw[1], pw[2], w["startup"], b["startup"], p["startup"], w["rss"], b["rss"],
             p["rss"]), flush=True)


def markdown(rows):
    coverage = rows[0]["wb"][3] * 100 if rows else 0
    out = ["| workload | threads | worker ms/ep (spread) | bare C++ ms/ep (spread) | of which "
           "making batches | python ms/ep (spread) | worker/bare [%.0f%% interval] | "
           "within 3%% | python/worker [interval] | start to 1st episode worker / bare / "
           "python (s) | peak RSS worker / bare / python (MiB) |" % coverage,
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        w, b, p, wb, pw = r["worker"], r["bare"], r["python"], r["wb"], r["pw"]
        out.append("| %s | %d | %.3f (%.1f%%) | %.3f (%.1f%%) | %.3f | %.3f (%.1f%%) | "
                   "%.3f [%.3f, %.3f] | %s | %.2f [%.2f, %.2f] | %.2f / %.2f / %.2f | "
                   "%.0f / %.0f / %.0f |"
                   % (r["workload"], r["threads"], w["ms"], w["spread"], b["ms"], b["spread"],
                      b["batch"], p["ms"], p["spread"], wb[0], wb[1], wb[2],
                      verdict(wb), pw[0], pw[1], pw[2], w["startup"], b["startup"],
                      p["startup"], w["rss"], b["rss"], p["rss"]))
    return "\n".join(out)


def instructions(cmd, env, scratch):
    """Instructions the whole process executed (all its threads), by callgrind."""
    out_file = os.path.join(scratch, "callgrind.out")
    _, err, _, _ = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file]
                       + cmd, env)
    found = re.findall(r"Collected : (\d+)", err)
    if not found:
        sys.exit("callgrind printed no instruction count for: " + " ".join(cmd))
    return int(found[-1])


def count_workloads(args):
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind: sudo apt install valgrind")
    scratch = tempfile.mkdtemp(prefix="mip-bench-")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    names = [n for n in args.workloads.split(",") if WORKLOADS.get(n) is not None]
    for name in args.workloads.split(","):
        if WORKLOADS.get(name) is None:
            print("%-7s skipped: no such plugin yet" % name, flush=True)
    jobs = {}  # (name, way, episodes) -> command
    for name in names:
        for n in WORKLOADS[name][3]:
            jobs[(name, "worker", n)] = worker_cmd(args.build, name, 1, n,
                                                   tempfile.mkdtemp(dir=scratch))
            jobs[(name, "bare", n)] = bare_cmd(args.build, name, 1, n)
    # callgrind runs one thread at a time, and its counts do not depend on
    # the load: run as many at once as there are cores.
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        futures = {key: pool.submit(instructions, cmd, env, tempfile.mkdtemp(dir=scratch))
                   for key, cmd in jobs.items()}
        counts = {key: f.result() for key, f in futures.items()}
    rows = []
    for name in names:
        n1, n2 = WORKLOADS[name][3]
        per = {way: (counts[(name, way, n2)] - counts[(name, way, n1)]) / float(n2 - n1)
               for way in ("worker", "bare")}
        row = {"workload": name, "episodes": (n1, n2), "worker": per["worker"],
               "bare": per["bare"]}
        rows.append(row)
        print("%-7s instructions per episode (episodes %d and %d, 1 thread): worker %.0f | "
              "bare %.0f | worker/bare %.4f" % (name, n1, n2, row["worker"], row["bare"],
                                               row["worker"] / row["bare"]), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    out = ["| workload | episodes counted | worker instructions/episode | bare instructions/"
           "episode | worker/bare |", "|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s | %d - %d | %.0f | %.0f | %.4f |"
                   % (r["workload"], r["episodes"][1], r["episodes"][0], r["worker"],
                      r["bare"], r["worker"] / r["bare"]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--workloads", default="lstm,mlp,wide,lenet5,ntm,dnc")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions per episode under callgrind instead of timing")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    if args.repeats < 2:
        sys.exit("--repeats must be at least 2")
    if args.instructions:
        table = count_workloads(args)
    else:
        table = markdown(time_workloads(args, [int(t) for t in args.threads.split(",")]))
    print("\n" + table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
