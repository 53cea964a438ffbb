"""Test entry script: process000 hangs in run() while holding a second,
prefetched mini-batch, and another worker is idle and asking for work.

process000 is alone until its run() starts on the mini-batch holding a file
named *hang.txt: every other worker waits in init() for that (for the file
"hanging" in $E2E_STATE_DIR, at most 10 s), so process000 is handed both
mini-batches. run() then hangs for 20 s on the hang file, ignoring SIGTERM
so that the worker stays alive for the whole kill grace after its timeout;
everything else returns at once.
"""
import os
import signal
import time

from azureml_user.parallel_run import EntryScript

STATE = os.environ["E2E_STATE_DIR"]


def init():
    if EntryScript().agent_name == "process000":
        return
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(STATE, "hanging")) and time.monotonic() < deadline:
        time.sleep(0.01)


def run(mini_batch):
    if any(p.endswith("hang.txt") for p in mini_batch):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(os.path.join(STATE, "hanging"), "w").close()
        time.sleep(20)  # hangs; run_invocation_timeout must cut it short
    return list(mini_batch)
