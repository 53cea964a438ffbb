"""Test entry script: records what its worker saw.

init() writes argv_<process>_<pid>.json (sys.argv, EntryScript's view, the
environment) into the output folder; run() appends every path it receives,
hex-encoded from its bytes (os.fsencode), one per line, to
paths_<process>_<pid>.hex. The output folder is --out (v2 program_arguments)
or else EntryScript().output_dir (ParallelComponent output_data).

Set FAIL_ITEM_SUFFIX to make run() raise for any mini-batch holding a path
that ends with it, HANG_ITEM_SUFFIX to make it hang (for 20 s) on one, and
WAIT_FOR_WORKERS=N to make run() wait (at most 30 s) until N workers have
finished init() (N argv files): a worker still in init() when the work runs
out is stopped, so a test that needs every worker to take part says so.
"""
import argparse
import json
import os
import sys
import time

from azureml_user.parallel_run import EntryScript

paths_file = None
out_dir = None


def init():
    global paths_file, out_dir
    entry = EntryScript()
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args, _ = parser.parse_known_args()
    out_dir = args.out or entry.output_dir
    os.makedirs(out_dir, exist_ok=True)
    name = "%s_%d" % (entry.agent_name, os.getpid())
    paths_file = open(os.path.join(out_dir, "paths_%s.hex" % name), "w")
    # Renamed into place last: a worker stopped in init() leaves no argv file.
    tmp = os.path.join(out_dir, ".argv_%s.tmp" % name)
    with open(tmp, "w") as f:
        json.dump({"agent_name": entry.agent_name, "pid": os.getpid(), "argv": sys.argv,
                   "output_dir": entry.output_dir,
                   "AZUREML_BI_OUTPUT_PATH": os.environ.get("AZUREML_BI_OUTPUT_PATH")}, f)
    os.replace(tmp, os.path.join(out_dir, "argv_%s.json" % name))


def run(mini_batch):
    want = int(os.environ.get("WAIT_FOR_WORKERS", "0"))
    deadline = time.monotonic() + 30
    while (len([n for n in os.listdir(out_dir) if n.startswith("argv_")]) < want
           and time.monotonic() < deadline):
        time.sleep(0.01)
    for path in mini_batch:
        paths_file.write(os.fsencode(path).hex() + "\n")
    paths_file.flush()
    suffix = os.environ.get("HANG_ITEM_SUFFIX")
    if suffix and any(p.endswith(suffix) for p in mini_batch):
        time.sleep(20)  # a run() that hangs; the timeout must cut it short
    suffix = os.environ.get("FAIL_ITEM_SUFFIX")
    if suffix and any(p.endswith(suffix) for p in mini_batch):
        raise ValueError("planned failure for %s" % suffix)
    return list(mini_batch)


def shutdown():
    if paths_file:
        paths_file.close()
