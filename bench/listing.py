#!/usr/bin/python3
"""Time to first mini-batch, listing time and peak memory on huge folders.

Creates (once; kept for the next run unless --clean) flat folders of empty
files under ROOT (default /tmp/prlist): files100k (100,000 files) and files1m
(1,000,000 files); with --subfolders K each size is K subfolders of size/K
files instead (files10m-100d: 10,000,000 files in 100 folders of 100,000). Runs parallelrun over each with a no-op entry script
(bench/noop_entry.py), mini_batch_size 1000, 2 workers, --progress none,
PARALLELRUN_PYTHON=/usr/bin/python3, and reports from the job's logs:

  first (master)  "First mini-batch handed out X seconds after start." of
                  logs/sys/master_role.0.txt; the master's start is the start of
                  scheduling, after argument parsing, the entry script check and
                  the start of the workers' processes;
  first (launch)  from the launch of the parallelrun process (taken here just
                  before the fork) to the Start Time of mini-batch 0 in
                  logs/sys/job_report/processed_mini-batches.csv: what a user
                  waits for, Python start-up of the workers included;
  launch->sched   from the launch to the time stamp of "Start scheduling." in
                  the master log (millisecond resolution);
  launch->init    from the launch to the first "processNNN init() done" in
                  logs/sys/node/0/_main.txt;
  listed          "Listed N files of input ... in T seconds (the lister's CPU: C s).";
  peak RSS        "Peak memory (RSS) of the parallelrun process: X MB.";
  95% at          when the parallelrun process's VmRSS (sampled every 5 ms)
                  first reached 95% of its sampled peak, seconds after launch;
  wall            the whole run, launch to exit.

Each figure is the median of --runs runs. The targets checked at the end:
first mini-batch under 0.1 s (both measures), and the same peak RSS at every
size (within 5% + 1 MB). With --clean the folders are deleted at the end
(deleting 1M files takes 10-20 s).

  /usr/bin/python3 bench/listing.py [ROOT] [--bin build-bench/parallelrun]
      [--sizes 100000,1000000] [--subfolders K] [--runs 3] [--clean]
"""
import argparse
import csv
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
FIRST_TARGET_S = 0.1


SUBFOLDERS = 1  # --subfolders


def folder_name(n):
    if n % 1000000 == 0:
        name = "files%dm" % (n // 1000000)
    else:
        name = "files%dk" % (n // 1000) if n % 1000 == 0 else "files%d" % n
    return name if SUBFOLDERS == 1 else "%s-%dd" % (name, SUBFOLDERS)


def ensure_folder(root, n):
    """A folder of n empty files (in SUBFOLDERS folders of n / SUBFOLDERS
    when above 1); a marker beside it says it is complete."""
    d = os.path.join(root, folder_name(n))
    marker = d + ".complete"
    if os.path.exists(marker) and os.path.isdir(d):
        return d, 0.0
    if n % SUBFOLDERS:
        raise SystemExit("%d files do not divide into %d folders" % (n, SUBFOLDERS))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.perf_counter()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    per = n // SUBFOLDERS
    for k in range(SUBFOLDERS):
        sub = d if SUBFOLDERS == 1 else os.path.join(d, "d%03d" % k)
        if sub != d:
            os.mkdir(sub)
        for i in range(k * per, (k + 1) * per):
            os.close(os.open(os.path.join(sub, "f%08d" % i), flags, 0o644))
    dt = time.perf_counter() - t0
    open(marker, "w").close()
    return d, dt


def remove_folder(root, n):
    d = os.path.join(root, folder_name(n))
    t0 = time.perf_counter()
    if os.path.exists(d + ".complete"):
        os.remove(d + ".complete")
    shutil.rmtree(d, ignore_errors=True)
    return time.perf_counter() - t0


def log_time(line):
    """Time stamp of a master log line: 'YYYY-MM-DD HH:MM:SS,mmm|...' in UTC."""
    stamp = line.split("|", 1)[0]
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def iso_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def one(pattern, text, what):
    m = re.search(pattern, text, re.M)
    if not m:
        raise SystemExit("no line %r in the master log" % what)
    return m


def run_once(exe, data, n, jobs_root, k, mb, workers):
    job = os.path.join(jobs_root, "job-%s-%d" % (folder_name(n), k))
    shutil.rmtree(job, ignore_errors=True)
    cmd = [exe, "run", os.path.join(HERE, "noop_spec.yaml"), "-i", "data=" + data,
           "-o", "out=" + os.path.join(job, "out"), "--mini-batch-size", str(mb),
           "--process-count-per-node", str(workers), "--job-dir", os.path.join(job, "job"),
           "--progress", "none"]
    env = dict(os.environ, PARALLELRUN_PYTHON=PY)
    launch = time.time()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # VmRSS every 5 ms, to see when the peak is reached: memory that is
    # bounded reaches its plateau early and stays there.
    rss = []
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as f:
                kb = int(f.read().split("VmRSS:")[1].split()[0])
            rss.append((time.perf_counter() - t0, kb))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit("parallelrun failed (exit %d): %s" % (p.returncode, err[-2000:]))
    top = max(kb for _, kb in rss) if rss else 0
    plateau = next((t for t, kb in rss if kb >= 0.95 * top), float("nan"))
    logs = os.path.join(job, "job", "logs")
    with open(os.path.join(logs, "sys", "master_role.0.txt")) as f:
        master = f.read()
    first_master = float(one(r"First mini-batch handed out ([0-9.]+) seconds after start\.",
                             master, "First mini-batch handed out").group(1))
    listed = one(r"Listed (\d+) files of input .* in ([0-9.]+) seconds[ .]", master, "Listed")
    peak = float(one(r"Peak memory \(RSS\) of the parallelrun process: ([0-9.]+) MB\.",
                     master, "Peak memory").group(1))
    sched = log_time(one(r"^.*\|Start scheduling\.$", master, "Start scheduling.").group(0))
    with open(os.path.join(logs, "sys", "node", "0", "_main.txt")) as f:
        inits = [iso_time(line.split("|", 1)[0]) for line in f if "init() done" in line]
    start0 = None
    succeeded = 0
    with open(os.path.join(logs, "sys", "job_report", "processed_mini-batches.csv"),
              newline="") as f:
        for r in csv.DictReader(f):
            succeeded += int(r["Succeeded"])
            if r["Mini-batch Id"] == "0":
                t = iso_time(r["Start Time"])
                start0 = t if start0 is None else min(start0, t)
    if int(listed.group(1)) != n or succeeded != n or start0 is None:
        raise SystemExit("listed %s, succeeded %d of %d files" % (listed.group(1), succeeded, n))
    shutil.rmtree(job, ignore_errors=True)
    return {"first_master_s": first_master, "first_launch_s": start0 - launch,
            "sched_s": sched - launch, "init_s": min(inits) - launch,
            "listed_s": float(listed.group(2)), "rss_mb": peak, "plateau_s": plateau,
            "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", nargs="?", default="/tmp/prlist")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-bench", "parallelrun"))
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--subfolders", type=int, default=1,
                    help="each size as this many subfolders of size/K files")
    ap.add_argument("--clean", action="store_true", help="delete the folders at the end")
    a = ap.parse_args()
    global SUBFOLDERS
    SUBFOLDERS = a.subfolders
    sizes = [int(x) for x in a.sizes.split(",")]
    os.makedirs(a.root, exist_ok=True)
    jobs_root = os.path.join(a.root, "jobs")
    print("parallelrun %s, mini_batch_size %d, %d workers, %d runs per folder, load average %s" %
          (a.bin, a.mb, a.workers, a.runs, " ".join("%.2f" % x for x in os.getloadavg())))
    results = []
    try:
        for n in sizes:
            d, made = ensure_folder(a.root, n)
            if made:
                print("created %s (%d empty files) in %.1f s" % (d, n, made))
            runs = [run_once(a.bin, d, n, jobs_root, k, a.mb, a.workers) for k in range(a.runs)]
            results.append((n, runs))
    finally:
        shutil.rmtree(jobs_root, ignore_errors=True)
        if a.clean:
            for n in sizes:
                print("deleted %s in %.1f s" % (os.path.join(a.root, folder_name(n)),
                                                 remove_folder(a.root, n)))
    keys = ("first_master_s", "first_launch_s", "sched_s", "init_s", "listed_s", "rss_mb",
            "plateau_s", "wall_s")
    print("%-9s %14s %14s %14s %14s %9s %12s %10s %7s" %
          ("files", "first(master)s", "first(launch)s", "launch->sched", "launch->init",
           "listed s", "peak RSS MB", "95% at s", "wall s"))
    meds = {}
    for n, runs in results:
        m = {k: statistics.median(r[k] for r in runs) for k in keys}
        meds[n] = m
        print("%-9d %14.4f %14.4f %14.4f %14.4f %9.3f %12.1f %10.3f %7.3f" %
              (n, m["first_master_s"], m["first_launch_s"], m["sched_s"], m["init_s"],
               m["listed_s"], m["rss_mb"], m["plateau_s"], m["wall_s"]))
        for k in keys:
            print("    %-15s per run: %s" % (k, " ".join("%.4f" % r[k] for r in runs)))
    for n, m in meds.items():
        print("target first mini-batch < %.1f s at %d files: master %s, from launch %s" %
              (FIRST_TARGET_S, n, "met" if m["first_master_s"] < FIRST_TARGET_S else "NOT MET",
               "met" if m["first_launch_s"] < FIRST_TARGET_S else "NOT MET"))
    if len(meds) > 1:
        rss = [m["rss_mb"] for m in meds.values()]
        print("target same peak memory at every size: %s (%s MB)" %
              ("met" if max(rss) - min(rss) <= 0.05 * max(rss) + 1.0 else "NOT MET",
               " vs ".join("%.1f" % x for x in rss)))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
