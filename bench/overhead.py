#!/usr/bin/python3
"""Per-mini-batch overhead of parallelrun once its workers are warm.

Runs parallelrun over a folder of small files (default: the 20,000 files of the
peer benchmark) with a no-op entry script (bench/noop_entry.py), 2 workers,
--progress none, for each mini_batch_size asked for, several times, and derives
from each job's logs/sys/job_report/processed_mini-batches.csv:

  span        from the first mini-batch's Start Time to the last one's end
              (Start Time + Elapsed Seconds), over all mini-batches;
  overhead    span * workers / mini-batches - mean Run Method Seconds:
              worker time per mini-batch not spent inside run();
  amortized   span / mini-batches: the job's cost per mini-batch;
  gap         over each worker's consecutive mini-batches, the time from the
              end of one (as the worker logs it) to the Start Time of the next:
              the round trip agent <-> worker as a worker sees it (median,
              mean and 99th percentile);
  windowed    like overhead, but each worker counted only from its own first
              mini-batch to its own last (leaves out start-up skew and tail; the
              skew and the tail of each run are printed below its row, in ms);
  CPU         CPU time per mini-batch of the parallelrun process (all its
              threads) and of its children (the workers), read from
              /proc/PID/stat of the exited, not yet reaped process, less the
              same for a job over a single file (start-up and shutdown). The
              clock tick is 10 ms, so this is coarse, but it does not grow when
              other processes compete for the cores, as the wall-clock figures do.
              parallelrun's share is split into the lister's (its helper thread's
              CPU, from the master log's "Listed ... (the lister's CPU: C s)") and
              the rest: the event loop that dispatches, records and reports.

Prints the median over the runs of each figure, in microseconds.

  /usr/bin/python3 bench/overhead.py [--bin build-bench/parallelrun]
      [--data /tmp/prbench/files20k] [--mb 1,10] [--runs 5] [--workers 2]
"""
import argparse
import csv
import re
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
PEERS = "/work/shared/bench/peers.py"
TARGET_US = 20.0  # issue 13: <= 20 us per mini-batch at 1 and 10 files


def parse_time(s):
    """Start Time of the CSV: UTC, ISO 8601 with microseconds."""
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def read_report(job_dir):
    path = os.path.join(job_dir, "logs", "sys", "job_report", "processed_mini-batches.csv")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def figures(rows, workers):
    starts = [parse_time(r["Start Time"]) for r in rows]
    ends = [s + float(r["Elapsed Seconds"]) for s, r in zip(starts, rows)]
    n = len(rows)
    span = max(ends) - min(starts)
    mean_run = statistics.fmean(float(r["Run Method Seconds"]) for r in rows)
    mean_elapsed = statistics.fmean(float(r["Elapsed Seconds"]) for r in rows)
    per_proc = {}
    for s, e, r in zip(starts, ends, rows):
        per_proc.setdefault(r["Process"], []).append((s, e))
    gaps = []
    windows = 0.0
    for spans in per_proc.values():
        spans.sort()
        gaps.extend(b[0] - a[1] for a, b in zip(spans, spans[1:]))
        windows += max(e for _, e in spans) - spans[0][0]
    gaps.sort()
    return {
        "batches": n,
        "span_s": span,
        "overhead_us": (span * workers / n - mean_run) * 1e6,
        "amortized_us": span / n * 1e6,
        "mean_run_us": mean_run * 1e6,
        "mean_elapsed_us": mean_elapsed * 1e6,
        "gap_us": statistics.median(gaps) * 1e6 if gaps else float("nan"),
        "gap_mean_us": statistics.fmean(gaps) * 1e6 if gaps else float("nan"),
        "gap_p99_us": gaps[int(0.99 * (len(gaps) - 1))] * 1e6 if gaps else float("nan"),
        # Like overhead, but each worker counted only from its own first
        # mini-batch to its own last: leaves out the workers' start-up skew
        # and the idle tail at the end.
        "windowed_us": (windows / n - mean_run) * 1e6,
        "share": " / ".join(str(len(v)) for _, v in sorted(per_proc.items())),
        # What overhead charges and windowed does not: the last worker's first
        # mini-batch after the first worker's, and the first worker to run
        # out of work before the last one's end (ms).
        "late_ms": (max(v[0][0] for v in per_proc.values()) - min(starts)) * 1e3,
        "early_ms": (max(ends) - min(max(e for _, e in v) for v in per_proc.values())) * 1e3,
    }


def run_job(exe, data, mb, workers, job_root, extra=()):
    """Runs one job (`extra`: more `run` arguments); returns (wall seconds,
    CPU seconds of the parallelrun process itself (all its threads), CPU
    seconds of the children it reaped: the workers and the pre-flight check
    of the entry script)."""
    job = os.path.join(job_root, "job")
    cmd = [exe, "run", os.path.join(HERE, "noop_spec.yaml"), "-i", "data=" + data,
           "-o", "out=" + os.path.join(job_root, "out"), "--mini-batch-size", str(mb),
           "--process-count-per-node", str(workers), "--job-dir", job, "--progress", "none"]
    cmd += list(extra)
    env = dict(os.environ, PARALLELRUN_PYTHON=PY)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # Wait for the exit without reaping, so that /proc/PID/stat of the zombie
    # still tells the process's own CPU time apart from its children's.
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    wall = time.perf_counter() - t0
    with open("/proc/%d/stat" % p.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = float(os.sysconf("SC_CLK_TCK"))
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    err = p.stderr.read().decode(errors="replace")
    if p.wait() != 0:
        raise SystemExit("parallelrun failed (exit %d): %s" % (p.returncode, err[-2000:]))
    return job, wall, own, children


def lister_cpu(job_dir):
    """The lister thread's CPU seconds, from the master log (0 if absent)."""
    with open(os.path.join(job_dir, "logs", "sys", "master_role.0.txt"), errors="replace") as f:
        m = re.search(r"the lister's CPU: ([0-9.]+) s", f.read())
    return float(m.group(1)) if m else 0.0


def run_once(exe, data, mb, workers):
    tmp = tempfile.mkdtemp(prefix="prbench-overhead-")
    try:
        job, wall, own, children = run_job(exe, data, mb, workers, tmp)
        f = figures(read_report(job), workers)
        f.update(wall_s=wall, cpu_own_s=own, cpu_children_s=children, cpu_lister_s=lister_cpu(job))
        return f
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def baseline_cpu(exe, mb, workers, runs):
    """CPU of a job over one file: start-up and shutdown, to subtract."""
    tmp = tempfile.mkdtemp(prefix="prbench-overhead-base-")
    try:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        open(os.path.join(data, "one.txt"), "w").close()
        own, children = [], []
        for k in range(runs):
            _, _, o, c = run_job(exe, data, mb, workers, os.path.join(tmp, str(k)))
            own.append(o)
            children.append(c)
        return statistics.median(own), statistics.median(children)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-bench", "parallelrun"))
    ap.add_argument("--data", default="/tmp/prbench/files20k")
    ap.add_argument("--files", type=int, default=20000, help="files to generate if --data is missing")
    ap.add_argument("--mb", default="1,10")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        subprocess.run([PY, PEERS, "gen", a.data, str(a.files)], check=True)
    print("parallelrun %s, data %s, %d workers, %d runs per size, load average %s" %
          (a.bin, a.data, a.workers, a.runs, " ".join("%.2f" % x for x in os.getloadavg())))
    print("%-4s %7s %7s %7s %11s %9s %9s %8s %8s %8s %7s %8s  %s" %
          ("mb", "batches", "wall s", "span s", "overhead us", "amort. us", "window us",
           "gap med", "gap mean", "gap p99", "run us", "target", "per-run overhead us"))
    cpu_lines = []
    for mb in [int(x) for x in a.mb.split(",")]:
        base_own, base_children = baseline_cpu(a.bin, mb, a.workers, a.runs)
        runs = [run_once(a.bin, a.data, mb, a.workers) for _ in range(a.runs)]
        n = runs[0]["batches"]
        own = statistics.median(r["cpu_own_s"] for r in runs)
        children = statistics.median(r["cpu_children_s"] for r in runs)
        lister = statistics.median(r["cpu_lister_s"] for r in runs)
        cpu_lines.append("%-4d %7d %13.2f %13.2f %13.1f %13.1f %13.1f %13.1f %13.1f" % (
            mb, n, own, children, (own - base_own) / n * 1e6, lister / n * 1e6,
            (own - base_own - lister) / n * 1e6, (children - base_children) / n * 1e6,
            (own - base_own + children - base_children) / n * 1e6))
        med = {k: statistics.median(r[k] for r in runs)
               for k in ("wall_s", "span_s", "overhead_us", "amortized_us", "windowed_us",
                         "gap_us", "gap_mean_us", "gap_p99_us", "mean_run_us")}
        print("%-4d %7d %7.3f %7.3f %11.1f %9.1f %9.1f %8.1f %8.1f %8.1f %7.2f %8s  %s" %
              (mb, runs[0]["batches"], med["wall_s"], med["span_s"], med["overhead_us"],
               med["amortized_us"], med["windowed_us"], med["gap_us"], med["gap_mean_us"],
               med["gap_p99_us"], med["mean_run_us"],
               "met" if med["overhead_us"] <= TARGET_US else "NOT MET",
               " ".join("%.1f" % r["overhead_us"] for r in runs)))
        print("     mini-batches per worker in each run: %s" % ", ".join(r["share"] for r in runs))
        print("     last worker's first mini-batch after the first's / first worker out of work "
              "before the end, ms: %s" % ", ".join("%.1f / %.1f" % (r["late_ms"], r["early_ms"])
                                                    for r in runs))
    print()
    print("CPU time (median of the runs; per mini-batch: less a one-file job)")
    print("%-4s %7s %13s %13s %13s %13s %13s %13s %13s" % (
        "mb", "batches", "parallelrun s", "workers s", "pr us/batch", "lister us/b", "loop us/b",
        "wk us/batch", "all us/batch"))
    for line in cpu_lines:
        print(line)
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
