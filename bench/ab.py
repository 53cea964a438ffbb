#!/usr/bin/env python3
"""A/B: two parallelrun binaries on the same no-op job, runs interleaved.

Used for what a change costs: the layout rework of issue 8 (lib/ in folders)
and the journal of issue 9 (every state change on disk, group commit) against
the binary before them. Each round runs A then B (then B then A in the next
round, so neither always goes first) over the same 20,000 files for each
mini_batch_size; the medians of wall time and of the parallelrun process's
own CPU are compared as B ÷ A, in one run, on the same loaded machine
(STYLE: ratios, never absolute figures from different moments).

    /usr/bin/python3 bench/ab.py --a OLD/parallelrun --b build/parallelrun \\
        [--data /tmp/prbench/files20k] [--mb 1,10] [--rounds 7] \\
        [--args '--nice 0'] [--a-args '--resource_monitor_interval 0'] [--b-args ...]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import overhead  # noqa: E402  (run_job: wall and own CPU of one job)


def one(exe, data, mb, workers, extra):
    tmp = tempfile.mkdtemp(prefix="prbench-ab-")
    try:
        job, wall, own, children = overhead.run_job(exe, data, mb, workers, tmp, extra)
        journal = os.path.join(job, "journal")
        size = os.path.getsize(journal) if os.path.exists(journal) else 0
        return wall, own, children, size
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="the binary before")
    ap.add_argument("--b", required=True, help="the binary after")
    ap.add_argument("--data", default="/tmp/prbench/files20k")
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--mb", default="1,10")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--args", default="",
                    help="more `run` arguments for both, e.g. '--nice 0' (split on spaces)")
    ap.add_argument("--a-args", default="", help="more `run` arguments for A only")
    ap.add_argument("--b-args", default="", help="more `run` arguments for B only")
    a = ap.parse_args()
    extra = {"a": a.args.split() + a.a_args.split(), "b": a.args.split() + a.b_args.split()}
    if not os.path.isdir(a.data):
        subprocess.run([overhead.PY, overhead.PEERS, "gen", a.data, str(a.files)], check=True)
    print("A %s %s\nB %s %s\ndata %s, %d workers, %d rounds, load average %s" % (
        a.a, " ".join(extra["a"]), a.b, " ".join(extra["b"]), a.data, a.workers, a.rounds,
        " ".join("%.2f" % x for x in os.getloadavg())))
    print("%-4s %9s %9s %7s %11s %11s %7s %9s %12s" % (
        "mb", "A wall s", "B wall s", "B÷A", "A own CPU s", "B own CPU s", "B÷A",
        "B-A us/mb", "journal MB"))
    for mb in [int(x) for x in a.mb.split(",")]:
        res = {"a": [], "b": []}
        for r in range(a.rounds):
            order = ("a", "b") if r % 2 == 0 else ("b", "a")
            for key in order:
                res[key].append(one(getattr(a, key), a.data, mb, a.workers, extra[key]))
        med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in res.items()}
        batches = (a.files + mb - 1) // mb
        print("%-4d %9.3f %9.3f %7.3f %11.3f %11.3f %7.3f %9.1f %12.2f" % (
            mb, med["a"][0], med["b"][0], med["b"][0] / med["a"][0], med["a"][1], med["b"][1],
            med["b"][1] / med["a"][1] if med["a"][1] else float("nan"),
            (med["b"][1] - med["a"][1]) / batches * 1e6, med["b"][3] / 1e6))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
