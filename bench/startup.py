#!/usr/bin/python3
"""Start-up cost of parallelrun by start method (issue 13).

Interleaved, medians of --runs, on one machine in one run (compare ratios):

  tiny     a 10-file job with bench/noop_entry.py (mini_batch_size 10, 2
           workers): wall time of `parallelrun run` against `python3 -c pass`
           (target ≤ 3×), for --start-method fork and spawn;
  pandas   an entry script that imports pandas at module level, 2 and 8
           workers: the time from launch until every worker's init() is done
           (the last "init() done" line of the node log, as its own clock says,
           less the launch time), fork vs spawn, and multiprocessing.Pool with
           an initializer that imports pandas (all its workers ready).

  /usr/bin/python3 bench/startup.py --bin build/parallelrun [--runs 5]
"""
import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

PANDAS_ENTRY = "import pandas\n\ndef run(mini_batch):\n    return mini_batch\n"
def spec_for(entry):
    """bench/noop_spec.yaml with another entry script."""
    with open(os.path.join(HERE, "noop_spec.yaml")) as f:
        return f.read().replace("entry: noop_entry.py", "entry: " + entry)

POOL = """
import multiprocessing, sys, time
t0 = float(sys.argv[1]); n = int(sys.argv[2])
def init():
    import pandas
def ready(_):
    return time.time()
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(n, initializer=init) as p:
        times = p.map(ready, range(n), chunksize=1)
    print(max(times) - t0)
"""


def job(binary, tmp, entry, workers, method, files):
    job_dir = os.path.join(tmp, "job")
    shutil.rmtree(job_dir, ignore_errors=True)
    t0 = time.time()
    subprocess.run([binary, "run", os.path.join(tmp, "spec_%s.yaml" % entry), "-i",
                    "data=" + files, "-o", "out=" + os.path.join(tmp, "out"), "--job-dir",
                    job_dir, "--progress", "none", "--mini_batch_size", "10",
                    "--process_count_per_node", str(workers), "--start-method", method],
                   cwd=tmp, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, PARALLELRUN_PYTHON=PY))
    wall = time.time() - t0
    last = 0.0
    with open(os.path.join(job_dir, "logs", "sys", "node", "0", "_main.txt")) as f:
        for line in f:
            if "init() done" in line:
                stamp = line.split("|", 1)[0]
                last = max(last, datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                           .timestamp())
    return wall, (last - t0) if last else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    tmp = tempfile.mkdtemp(prefix="prstartup-")
    shutil.copy(os.path.join(HERE, "noop_entry.py"), os.path.join(tmp, "noop_entry.py"))
    with open(os.path.join(tmp, "pandas_entry.py"), "w") as f:
        f.write(PANDAS_ENTRY)
    for entry in ("noop_entry.py", "pandas_entry.py"):
        with open(os.path.join(tmp, "spec_%s.yaml" % entry), "w") as f:
            f.write(spec_for(entry))
    files = os.path.join(tmp, "files")
    os.mkdir(files)
    for i in range(10):
        open(os.path.join(files, "f%02d" % i), "w").close()
    pool_py = os.path.join(tmp, "pool.py")
    with open(pool_py, "w") as f:
        f.write(POOL)
    print("load average %.1f %.1f %.1f" % os.getloadavg())
    res = {}
    for _ in range(a.runs):
        t0 = time.time()
        subprocess.run([PY, "-c", "pass"], check=True)
        res.setdefault("python -c pass", []).append(time.time() - t0)
        for method in ("fork", "spawn"):
            res.setdefault("tiny " + method, []).append(
                job(binary, tmp, "noop_entry.py", 2, method, files)[0])
            for n in (2, 8):
                res.setdefault("pandas %d ready %s" % (n, method), []).append(
                    job(binary, tmp, "pandas_entry.py", n, method, files)[1])
        for n in (2, 8):
            t0 = time.time()
            out = subprocess.run([PY, pool_py, repr(t0), str(n)], check=True,
                                 capture_output=True, text=True).stdout
            res.setdefault("pandas %d ready Pool" % n, []).append(float(out))
    base = statistics.median(res["python -c pass"])
    for k, v in res.items():
        m = statistics.median(v)
        extra = " (%.1f× python -c pass)" % (m / base) if k.startswith("tiny") else ""
        print("%-24s %.3f s%s" % (k, m, extra))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
