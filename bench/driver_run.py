#!/usr/bin/python3
"""A worker's own time per mini-batch, outside the pipes: Worker.run of a
driver (lib/node/worker_driver.py) called on RUN payloads in a loop, with a
no-op run() and its pipes on /dev/null. What it times is what the driver
does for each RUN besides run(): decoding the mini-batch, building the
list, the clocks, RESULT. It counts the process's CPU time, which does not
grow while other processes hold the cores. Two drivers are compared in one
process, alternating (bench/RESULTS.md §7c).

The payload is laid out as the driver's PROTOCOL_VERSION says: 4, each path
its own field; 5, the paths joined by NUL (lib/node/worker_protocol.h).

    /usr/bin/python3 bench/driver_run.py --a OLD/worker_driver.py \\
        --b lib/node/worker_driver.py [--data /tmp/prbench/files20k] [--mb 1,10] [--rounds 7]
"""
import argparse
import importlib.util
import os
import statistics
import struct
import time
import types


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def field(data):
    return struct.pack("<I", len(data)) + data


def payload(version, batch_id, items):
    """RUN's payload of a file mini-batch for a driver of `version`."""
    head = struct.pack("<QIIBIQI", batch_id, 1, 0, 0, 0, 0, len(items))
    if version == 4:
        return head + b"".join(field(i) for i in items)
    return head + b"\x01" + field(b"\0".join(items))


def worker(driver):
    """A Worker of `driver` whose pipes are /dev/null, with a no-op run()."""
    pipe = driver.Pipe(os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY))
    w = driver.Worker(pipe)
    w.module = types.ModuleType("noop")
    w.module.run = lambda mini_batch: mini_batch
    return w


def per_batch_us(w, payloads):
    t0 = time.process_time()
    for p in payloads:
        w.run(p)
    return (time.process_time() - t0) / len(payloads) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="the driver before")
    ap.add_argument("--b", required=True, help="the driver after")
    ap.add_argument("--data", default="/tmp/prbench/files20k")
    ap.add_argument("--mb", default="1,10")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    paths = sorted(os.fsencode(os.path.join(d, f)) for d, _, files in os.walk(a.data) for f in files)
    drivers = {"a": load(a.a, "driver_a"), "b": load(a.b, "driver_b")}
    print("A %s (protocol %d)\nB %s (protocol %d)\n%d paths, %d rounds, load average %s" % (
        a.a, drivers["a"].PROTOCOL_VERSION, a.b, drivers["b"].PROTOCOL_VERSION, len(paths),
        a.rounds, " ".join("%.2f" % x for x in os.getloadavg())))
    print("%-4s %8s %12s %12s %7s %12s %12s" % ("mb", "batches", "A med us", "B med us", "B÷A",
                                                "A min us", "B min us"))
    for mb in [int(x) for x in a.mb.split(",")]:
        batches = [paths[i:i + mb] for i in range(0, len(paths), mb)]
        loads = {k: [payload(d.PROTOCOL_VERSION, n, b) for n, b in enumerate(batches)]
                 for k, d in drivers.items()}
        workers = {k: worker(d) for k, d in drivers.items()}
        res = {"a": [], "b": []}
        for r in range(a.rounds):
            for k in (("a", "b") if r % 2 == 0 else ("b", "a")):
                res[k].append(per_batch_us(workers[k], loads[k]))
        med = {k: statistics.median(v) for k, v in res.items()}
        print("%-4d %8d %12.2f %12.2f %7.3f %12.2f %12.2f" % (
            mb, len(batches), med["a"], med["b"], med["b"] / med["a"], min(res["a"]), min(res["b"])))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
