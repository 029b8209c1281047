#!/usr/bin/python3
"""Reads and checks TensorBoard event files with Debian's python3-protobuf and
python3-crc32c, independently of the C++ writer.

  read_tensorboard.py check <folder> --runs a,b,... --li N --level L
      Decodes every record of every events file in the run folders <folder>/<run>/,
      checks the framing (lengths, CRC-32C of length and data), the first event
      (file_version "brain.Event:2"), the file names, and that the scalars equal
      the statistics CSV files of the same folder (<run>_statistics.csv; the
      runs "training" and "testing" every --li episodes), and the histograms
      (level 1: every parameter named in the run's log, level 2: and its
      gradient; well formed, num = element count). Exit 0 when all holds.
  read_tensorboard.py dump <folder>
      Prints every run's points (as TensorBoard shows them: a SessionLog START
      at step s hides the older points at steps >= s), without wall times.
"""
import glob
import json
import os
import re
import struct
import sys

import crc32c
from google.protobuf import descriptor_pb2, message_factory

# The few messages of tensorflow/core/util/event.proto and
# tensorflow/core/framework/summary.proto the C++ writer produces.
F = descriptor_pb2.FieldDescriptorProto


def _message(file_proto, name, fields):
    m = file_proto.message_type.add(name=name)
    for number, field_name, ftype, label, type_name in fields:
        f = m.field.add(name=field_name, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
    return m


def _classes():
    fp = descriptor_pb2.FileDescriptorProto(name="tb_events_check.proto", package="tbcheck",
                                            syntax="proto3")
    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    h = _message(fp, "HistogramProto", [
        (1, "min", F.TYPE_DOUBLE, opt, None), (2, "max", F.TYPE_DOUBLE, opt, None),
        (3, "num", F.TYPE_DOUBLE, opt, None), (4, "sum", F.TYPE_DOUBLE, opt, None),
        (5, "sum_squares", F.TYPE_DOUBLE, opt, None),
        (6, "bucket_limit", F.TYPE_DOUBLE, rep, None), (7, "bucket", F.TYPE_DOUBLE, rep, None)])
    h.field[5].options.packed = True
    h.field[6].options.packed = True
    _message(fp, "SummaryValue", [
        (1, "tag", F.TYPE_STRING, opt, None), (2, "simple_value", F.TYPE_FLOAT, opt, None),
        (5, "histo", F.TYPE_MESSAGE, opt, ".tbcheck.HistogramProto")])
    _message(fp, "Summary", [(1, "value", F.TYPE_MESSAGE, rep, ".tbcheck.SummaryValue")])
    _message(fp, "SessionLog", [(1, "status", F.TYPE_INT32, opt, None)])
    _message(fp, "Event", [
        (1, "wall_time", F.TYPE_DOUBLE, opt, None), (2, "step", F.TYPE_INT64, opt, None),
        (3, "file_version", F.TYPE_STRING, opt, None),
        (5, "summary", F.TYPE_MESSAGE, opt, ".tbcheck.Summary"),
        (7, "session_log", F.TYPE_MESSAGE, opt, ".tbcheck.SessionLog")])
    return message_factory.GetMessages([fp])


EVENT = _classes()["tbcheck.Event"]
SESSION_START = 1
NAME = re.compile(r"^events\.out\.tfevents\.\d{10}\.[^/]+\.\d+(\.\d+)?$")
errors = []


def fail(msg):
    errors.append(msg)


def masked_crc(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """The events of one file; every CRC checked."""
    data = open(path, "rb").read()
    events, at = [], 0
    while at < len(data):
        if len(data) - at < 12:
            fail(f"{path}: {len(data) - at} bytes after the last record (a torn header)")
            break
        length, length_crc = struct.unpack_from("<QI", data, at)
        if masked_crc(data[at:at + 8]) != length_crc:
            fail(f"{path}: record at byte {at}: the length's CRC is wrong")
            break
        body = data[at + 12:at + 12 + length]
        if len(body) != length or len(data) < at + 16 + length:
            fail(f"{path}: record at byte {at}: torn (length {length})")
            break
        (data_crc,) = struct.unpack_from("<I", data, at + 12 + length)
        if masked_crc(body) != data_crc:
            fail(f"{path}: record at byte {at}: the data's CRC is wrong")
            break
        e = EVENT()
        e.ParseFromString(body)
        events.append(e)
        at += 16 + length
    return events


def read_run(run_dir):
    """Points of a run as TensorBoard shows them: {tag: [(step, value)]}, in
    file order, with the points hidden by a SessionLog START removed."""
    files = sorted(f for f in os.listdir(run_dir) if f.startswith("events.out.tfevents."))
    points, records = {}, 0
    for name in files:
        path = os.path.join(run_dir, name)
        if not NAME.match(name):
            fail(f"{path}: not named events.out.tfevents.<time>.<host>.<pid>")
        events = read_records(path)
        records += len(events)
        if not events or events[0].file_version != "brain.Event:2":
            fail(f"{path}: the first event is not file_version brain.Event:2")
        for e in events[1:]:
            if e.HasField("session_log"):
                if e.session_log.status == SESSION_START:
                    for tag in points:
                        points[tag] = [p for p in points[tag] if p[0] < e.step]
                continue
            if not e.HasField("summary") or not e.summary.value:
                fail(f"{path}: an event at step {e.step} holds no summary values")
            for v in e.summary.value:
                if v.HasField("histo"):
                    h = v.histo
                    value = {"min": h.min, "max": h.max, "num": h.num, "sum": h.sum,
                             "sum_squares": h.sum_squares,
                             "bucket_limit": list(h.bucket_limit), "bucket": list(h.bucket)}
                else:
                    value = v.simple_value
                points.setdefault(v.tag, []).append((e.step, value))
    return files, records, {t: p for t, p in points.items() if p}


def parameters(folder):
    """{name: element count} from the model summary of the folder's log."""
    for log in ("training.log", "tester.log"):
        path = os.path.join(folder, log)
        if os.path.exists(path):
            lines = open(path).read().splitlines()
            break
    else:
        return {}
    out = {}
    for i, line in enumerate(lines):
        if "trainable and" in line:
            for row in lines[i + 1:]:
                m = re.match(r"^  (\S+) \[([\d, ]*)\]$", row)
                if not m:
                    return out
                n = 1
                for d in m.group(2).split(","):
                    n *= int(d)
                out[m.group(1)] = n
    return out


def close(tb, text):
    v = float(text)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(tb - v) <= 0.51 * 10.0 ** -decimals + 1.2e-7 * abs(v) + 1e-30


def check_histogram(where, h, count):
    limits, buckets = h["bucket_limit"], h["bucket"]
    if h["num"] != count:
        fail(f"{where}: num {h['num']}, the parameter has {count} elements")
    if not limits or len(limits) != len(buckets):
        fail(f"{where}: {len(limits)} bucket limits for {len(buckets)} buckets")
        return
    if any(b <= a for a, b in zip(limits, limits[1:])):
        fail(f"{where}: bucket limits not ascending: {limits}")
    if sum(buckets) != h["num"] or any(b < 0 for b in buckets):
        fail(f"{where}: buckets {buckets} do not add up to num {h['num']}")
    if not (h["min"] <= h["max"]) or limits[-1] != h["max"]:
        fail(f"{where}: min {h['min']}, max {h['max']}, last limit {limits[-1]}")
    eps = 1e-9 * max(1.0, h["sum_squares"])
    if not (h["min"] * h["num"] - eps <= h["sum"] <= h["max"] * h["num"] + eps):
        fail(f"{where}: sum {h['sum']} outside [num*min, num*max]")
    if h["sum_squares"] < h["sum"] ** 2 / h["num"] - eps:
        fail(f"{where}: sum_squares {h['sum_squares']} < sum^2/num")


def check(folder, runs, li, level):
    present = sorted(d for d in os.listdir(folder)
                     if glob.glob(os.path.join(folder, d, "events.out.tfevents.*")))
    if present != sorted(runs):
        fail(f"{folder}: run folders {present}, expected {sorted(runs)}")
    params = parameters(folder)
    for run in runs:
        run_dir = os.path.join(folder, run)
        if not os.path.isdir(run_dir):
            continue
        files, records, points = read_run(run_dir)
        csv_path = os.path.join(folder, run + "_statistics.csv")
        lines = open(csv_path).read().splitlines()
        header, rows = lines[0].split(","), [l.split(",") for l in lines[1:]]
        ep = header.index("episode")
        if run in ("training", "testing"):
            rows = [r for r in rows if int(r[ep]) % li == 0]
        scalars = {t: p for t, p in points.items() if not isinstance(p[0][1], dict)}
        histograms = {t: p for t, p in points.items() if isinstance(p[0][1], dict)}
        expected = {}
        for r in rows:
            for k, cell in zip(header, r):
                if k != "episode" and cell != "":
                    expected.setdefault(k, []).append((int(r[ep]), cell))
        if sorted(scalars) != sorted(expected):
            fail(f"{run_dir}: scalar tags {sorted(scalars)}, the CSV has {sorted(expected)}")
        for tag, want in expected.items():
            got = scalars.get(tag, [])
            if [s for s, _ in got] != [s for s, _ in want]:
                fail(f"{run_dir}: tag {tag}: steps {[s for s, _ in got]}, "
                     f"the CSV has {[s for s, _ in want]}")
                continue
            for (step, v), (_, text) in zip(got, want):
                if not close(v, text):
                    fail(f"{run_dir}: tag {tag} step {step}: {v}, the CSV has {text}")
        wanted = {}
        if run == "training" and level >= 1:
            for name, n in params.items():
                wanted[name] = n
                if level >= 2:
                    wanted[name + "/grad"] = n
            if not params:
                fail(f"{folder}: no model summary in the log to name the parameters")
        if sorted(histograms) != sorted(wanted):
            fail(f"{run_dir}: histogram tags {sorted(histograms)}, expected {sorted(wanted)}")
        steps = sorted({int(r[ep]) for r in rows})
        for tag, hs in histograms.items():
            if [s for s, _ in hs] != steps:
                fail(f"{run_dir}: histogram {tag} at steps {[s for s, _ in hs]}, expected {steps}")
            for step, h in hs:
                check_histogram(f"{run_dir}: histogram {tag} step {step}", h, wanted.get(tag))
        print(f"{run}: {len(files)} file(s), {records} records, {len(scalars)} scalar tags, "
              f"{len(histograms)} histogram tags, {sum(len(p) for p in points.values())} points")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "dump":
        folder = sys.argv[2]
        out = {}
        for run in sorted(os.listdir(folder)):
            if glob.glob(os.path.join(folder, run, "events.out.tfevents.*")):
                out[run] = read_run(os.path.join(folder, run))[2]
        print(json.dumps(out, sort_keys=True))
    elif len(sys.argv) >= 3 and sys.argv[1] == "check":
        args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        check(sys.argv[2], args["--runs"].split(","), int(args.get("--li", "1")),
              int(args.get("--level", "0")))
    else:
        sys.exit(__doc__)
    for e in errors:
        print("ERROR: " + e)
    if errors:
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
