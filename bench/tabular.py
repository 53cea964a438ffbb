#!/usr/bin/python3
"""Tabular throughput: rows per second through parallelrun with a no-op
run() that returns its DataFrame, against a plain pandas loop over the same
files (and against multiprocessing.Pool with pandas, the tool a user would
reach for to use every core).

Data: --files CSV files of --rows rows each (id, two numbers, a short text
with a quoted comma every 10th row), generated once into --data.

Runners, each timed end to end (process start to exit), --runs times:
  pandas-loop      one process: for each file, pd.read_csv(file); count rows
  pool             multiprocessing.Pool(--workers): pd.read_csv per file
  parallelrun MB   parallelrun run with a v2 spec (mltable, mode: direct),
                   mini_batch_size MB, --workers processes, --progress none;
                   run(mini_batch) returns mini_batch

Prints, per runner, the median wall time and rows/s, the median CPU time
(user + system, of the runner and all its children: parallelrun's workers
and shuffle included) and rows per CPU-second — the figure that holds when
other work shares the cores — and for parallelrun the median time a worker
spent per mini-batch (reading the range + run()), from
processed_mini-batches.csv.

  /usr/bin/python3 bench/tabular.py [--bin build-bench/parallelrun]
      [--data /tmp/prbench/tabular] [--files 8] [--rows 250000]
      [--mb 1MB,8MB] [--workers 2] [--runs 3]
"""
import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"

NOOP = """
def run(mini_batch):
    return mini_batch
"""

SPEC = """type: parallel
name: bench_tabular
version: 1
inputs:
  data:
    type: mltable
    mode: direct
outputs:
  result:
    type: uri_folder
input_data: ${{{{inputs.data}}}}
mini_batch_size: "{mb}"
max_concurrency_per_instance: {workers}
retry_settings:
  timeout: 600
task:
  type: run_function
  code: ./src
  entry_script: noop.py
"""

PANDAS_LOOP = """
import sys, pandas as pd
n = 0
for path in sys.argv[1:]:
    n += len(pd.read_csv(path))
print(n)
"""

POOL = """
import sys, multiprocessing, pandas as pd
def rows(path):
    return len(pd.read_csv(path))
if __name__ == "__main__":
    with multiprocessing.Pool(int(sys.argv[1])) as pool:
        print(sum(pool.map(rows, sys.argv[2:], chunksize=1)))
"""


def make_data(folder, files, rows):
    marker = os.path.join(folder, ".made-%d-%d" % (files, rows))
    if os.path.exists(marker):
        return
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    n = 0
    for f in range(files):
        with open(os.path.join(folder, "part%03d.csv" % f), "w", newline="") as out:
            w = csv.writer(out)
            w.writerow(["id", "amount", "ratio", "text"])
            for i in range(rows):
                w.writerow([n, i % 1000, "%.5f" % (i / 7.0),
                            "item %d, quoted" % i if i % 10 == 0 else "item%d" % i])
                n += 1
    open(marker, "w").close()


def cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv, cwd=None):
    """Runs argv; returns (wall seconds, CPU seconds of it and everything it
    waited for, stdout)."""
    c0 = cpu_of_children()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    cpu = cpu_of_children() - c0
    if proc.returncode != 0:
        sys.exit("%s failed (%d):\n%s%s" % (argv[0], proc.returncode, proc.stdout[-2000:],
                                              proc.stderr[-2000:]))
    return secs, cpu, proc.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-bench", "parallelrun"))
    ap.add_argument("--data", default="/tmp/prbench/tabular")
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--rows", type=int, default=250000)
    ap.add_argument("--mb", default="1MB,8MB")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)

    make_data(args.data, args.files, args.rows)
    files = sorted(os.path.join(args.data, n) for n in os.listdir(args.data) if n.endswith(".csv"))
    total_rows = args.files * args.rows
    size = sum(os.path.getsize(f) for f in files)
    print("data: %d CSV files, %d rows, %.1f MB; %d workers; median of %d runs"
          % (len(files), total_rows, size / 1048576, args.workers, args.runs))

    work = tempfile.mkdtemp(prefix="prbench-tabular-")
    os.makedirs(os.path.join(work, "src"))
    with open(os.path.join(work, "src", "noop.py"), "w") as f:
        f.write(NOOP)

    results = []

    print("%-22s %8s %14s %8s %16s" % ("runner", "wall", "rows/s", "CPU", "rows/CPU-second"))

    def report(name, times, cpus, extra=""):
        med, cpu = statistics.median(times), statistics.median(cpus)
        results.append((name, med, total_rows / med, cpu, extra))
        print("%-22s %7.2fs %14.0f %7.2fs %16.0f %s"
              % (name, med, total_rows / med, cpu, total_rows / cpu, extra), flush=True)

    times, cpus = [], []
    for _ in range(args.runs):
        secs, cpu, out = timed([PY, "-c", PANDAS_LOOP] + files)
        assert int(out) == total_rows, out
        times.append(secs)
        cpus.append(cpu)
    report("pandas-loop", times, cpus)

    times, cpus = [], []
    for _ in range(args.runs):
        secs, cpu, out = timed([PY, "-c", POOL, str(args.workers)] + files)
        assert int(out) == total_rows, out
        times.append(secs)
        cpus.append(cpu)
    report("pool(%d)" % args.workers, times, cpus)

    for mb in args.mb.split(","):
        spec = os.path.join(work, "spec-%s.yaml" % mb)
        with open(spec, "w") as f:
            f.write(SPEC.format(mb=mb, workers=args.workers))
        times, cpus, per_batch, batches = [], [], [], 0
        for r in range(args.runs):
            job = os.path.join(work, "job-%s-%d" % (mb, r))
            secs, cpu, _ = timed([args.bin, "run", spec, "-i", "data=%s" % args.data, "--job-dir",
                                  job, "--progress", "none", "--python", PY], cwd=work)
            times.append(secs)
            cpus.append(cpu)
            with open(os.path.join(job, "logs", "sys", "job_report",
                                   "processed_mini-batches.csv"), newline="") as f:
                rows = list(csv.DictReader(f))
            assert sum(int(x["Succeeded"]) for x in rows) == total_rows
            batches = len(rows)
            per_batch.append(statistics.median(float(x["Elapsed Seconds"]) for x in rows))
            shutil.rmtree(job)
        report("parallelrun %s" % mb, times, cpus,
               "(%d mini-batches, median %.1f ms each in the worker)"
               % (batches, 1000 * statistics.median(per_batch)))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
