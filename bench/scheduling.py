#!/usr/bin/python3
"""Scheduling throughput of one master with synthetic agents over loopback TCP.

Runs bench_scheduling (bench/bench_scheduling.cc, CMake target
`bench_scheduling`): the real Master — listing, batching, BatchQueue, the
JobLog's CSV row per attempt — behind a real TcpListener on the main thread,
and N synthetic agents on a second thread that speak the link protocol
(HELLO, PULL for slots + prefetch, RESULT, BYE) without Python workers.

Two questions (issue 5):
  leases/s     every lease answered at once with RUN_DONE: how many leases per
               second one master hands out (target: above 50,000/s; the
               original's master manages about 400/s), and the master
               thread's CPU time per lease;
  utilisation  agents × slots sleeping --work-ms per lease: does one master
               keep at least 100 slots busy with 10 ms mini-batches?
               "busy" = slot time spent in leases ÷ (slots × span);
               "of ideal" = leases × 10 ms ÷ (slots × span), stricter (a late
               timer does not count).

Prints the median of --runs runs for each case, with the load average before
and after (the machine may be shared: wall-clock figures move with it, the
CPU time per lease much less).

  /usr/bin/python3 bench/scheduling.py [--bin build-bench/bench_scheduling]
      [--data /tmp/prbench] [--runs 3] [--json results.json] [--clean]

The input folders (200,000 and 20,000 empty files) are made under --data when
missing and kept between runs unless --clean.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET_LEASES_PER_SECOND = 50000

# (label, files folder, agents, slots, prefetch, work_ms)
THROUGHPUT = [
    ("1 agent x 8 slots", "sched200k", 1, 8, 8, 0),
    ("4 agents x 8 slots", "sched200k", 4, 8, 8, 0),
    ("16 agents x 8 slots", "sched200k", 16, 8, 8, 0),
    ("64 agents x 4 slots", "sched200k", 64, 4, 4, 0),
]
UTILISATION = [
    ("10 agents x 10 slots, 10 ms, prefetch 1", "sched20k", 10, 10, 1, 10),
    ("10 agents x 10 slots, 10 ms, prefetch 10", "sched20k", 10, 10, 10, 10),
    ("20 agents x 10 slots, 10 ms, prefetch 10", "sched20k", 20, 10, 10, 10),
    ("50 agents x 10 slots, 10 ms, prefetch 10", "sched20k", 50, 10, 10, 10),
]
SIZES = {"sched200k": 200000, "sched20k": 20000}


def make_files(folder, count):
    if os.path.isdir(folder) and len(os.listdir(folder)) == count:
        return
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for i in range(count):
        open(os.path.join(folder, "f%06d" % i), "w").close()


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def run_case(binary, folder, agents, slots, prefetch, work_ms):
    job_dir = tempfile.mkdtemp(prefix="bench-scheduling-")
    try:
        proc = subprocess.run(
            [binary, "--files", folder, "--agents", str(agents), "--slots", str(slots),
             "--prefetch", str(prefetch), "--work-ms", str(work_ms), "--job-dir", job_dir],
            capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            sys.exit("bench_scheduling failed (exit %d):\n%s%s"
                     % (proc.returncode, proc.stdout, proc.stderr))
        return json.loads(proc.stdout)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def median_of(results, key):
    return statistics.median(r[key] for r in results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build-bench", "bench_scheduling"))
    parser.add_argument("--data", default="/tmp/prbench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write every run's figures here")
    parser.add_argument("--clean", action="store_true", help="delete the input folders after")
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit("%s is not built: cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release "
                 "&& ninja -C build-bench bench_scheduling" % args.bin)
    for name, count in SIZES.items():
        make_files(os.path.join(args.data, name), count)

    print("bench_scheduling: %s, %d runs each (median); load average before: %s"
          % (args.bin, args.runs, load()))
    everything = []
    print("\nleases/s: each lease answered at once with RUN_DONE; mini_batch_size 1")
    print("%-22s %8s %12s %10s %14s" % ("agents", "leases", "leases/s", "seconds",
                                        "master CPU/lease"))
    best = 0
    for label, data, agents, slots, prefetch, work in THROUGHPUT:
        results = [run_case(args.bin, os.path.join(args.data, data), agents, slots, prefetch, work)
                   for _ in range(args.runs)]
        everything += results
        rate = median_of(results, "leases_per_second")
        best = max(best, rate)
        print("%-22s %8d %12.0f %10.3f %11.2f us" % (
            label, results[0]["leases"], rate, median_of(results, "seconds"),
            median_of(results, "master_cpu_us_per_lease")))
    print("target: above %d leases/s — %s (best median %.0f/s, %.0f x the original's ~400/s)"
          % (TARGET_LEASES_PER_SECOND, "met" if best > TARGET_LEASES_PER_SECOND else "NOT met",
             best, best / 400))

    print("\nutilisation: every lease holds its slot for 10 ms (a timer)")
    print("%-42s %6s %10s %12s %8s %9s" % ("case", "slots", "leases/s", "ideal/s", "busy",
                                           "of ideal"))
    for label, data, agents, slots, prefetch, work in UTILISATION:
        results = [run_case(args.bin, os.path.join(args.data, data), agents, slots, prefetch, work)
                   for _ in range(args.runs)]
        everything += results
        total = agents * slots
        print("%-42s %6d %10.0f %12.0f %7.1f%% %8.1f%%" % (
            label, total, median_of(results, "leases_per_second"), total * 1000.0 / work,
            100 * median_of(results, "utilisation"), 100 * median_of(results, "of_ideal_rate")))
    print("\nload average after: %s" % load())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)
    if args.clean:
        for name in SIZES:
            shutil.rmtree(os.path.join(args.data, name), ignore_errors=True)


if __name__ == "__main__":
    main()
