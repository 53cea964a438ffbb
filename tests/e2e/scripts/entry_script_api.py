"""Test entry script: exercises the EntryScript helper the way users do.

Reads its arguments with argparse.parse_known_args (so parallelrun's own flags
do not bother it), logs through EntryScript().logger and writes what it saw to
api_<process>.json in the --output folder.
"""
import argparse
import json
import os
import sys

from azureml_user.parallel_run import EntryScript
from parallelrun import EntryScript as OwnEntryScript

args = None


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    parser.add_argument("--mini_batch_size", type=int, required=True)
    parser.add_argument("--greeting", default="none")
    args, unknown = parser.parse_known_args()
    entry = EntryScript()
    entry.logger.info("init of %s, greeting %s", entry.agent_name, args.greeting)
    entry.logger.debug("a DEBUG line that INFO hides")
    seen = {
        "agent_name": entry.agent_name,
        "output_dir": entry.output_dir,
        "log_dir": entry.log_dir,
        "AZUREML_BI_OUTPUT_PATH": os.environ.get("AZUREML_BI_OUTPUT_PATH"),
        "args_output": args.output,
        "mini_batch_size": args.mini_batch_size,
        "greeting": args.greeting,
        "unknown": unknown,
        "same_instance": EntryScript() is entry and OwnEntryScript() is entry,
        "argv0": sys.argv[0],
    }
    # Renamed into place: a worker stopped in init() (no work left for it)
    # leaves no half-written file.
    tmp = os.path.join(args.output, ".api_%s.tmp" % entry.agent_name)
    with open(tmp, "w") as f:
        json.dump(seen, f)
    os.replace(tmp, os.path.join(args.output, "api_%s.json" % entry.agent_name))


def run(mini_batch):
    EntryScript().logger.info("run() got %d items", len(mini_batch))
    return [os.path.basename(p) for p in mini_batch]
