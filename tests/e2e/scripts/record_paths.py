"""Test entry script: records what its worker saw.

init() writes argv_<process>_<pid>.json (sys.argv, EntryScript's view, the
environment) into the output folder; run() appends every path it receives,
hex-encoded from its bytes (os.fsencode), one per line, to
paths_<process>_<pid>.hex. The output folder is --out (v2 program_arguments)
or else EntryScript().output_dir (ParallelComponent output_data).

Set FAIL_ITEM_SUFFIX to make run() raise for any mini-batch holding a path
that ends with it, HANG_ITEM_SUFFIX to make it hang (for 20 s) on one.
"""
import argparse
import json
import os
import sys
import time

from azureml_user.parallel_run import EntryScript

paths_file = None


def init():
    global paths_file
    entry = EntryScript()
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args, _ = parser.parse_known_args()
    out_dir = args.out or entry.output_dir
    os.makedirs(out_dir, exist_ok=True)
    name = "%s_%d" % (entry.agent_name, os.getpid())
    with open(os.path.join(out_dir, "argv_%s.json" % name), "w") as f:
        json.dump({"agent_name": entry.agent_name, "pid": os.getpid(), "argv": sys.argv,
                   "output_dir": entry.output_dir,
                   "AZUREML_BI_OUTPUT_PATH": os.environ.get("AZUREML_BI_OUTPUT_PATH")}, f)
    paths_file = open(os.path.join(out_dir, "paths_%s.hex" % name), "w")


def run(mini_batch):
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
