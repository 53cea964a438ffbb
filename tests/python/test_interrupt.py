"""Ctrl-C while parallelrun.run() runs in a REPL or a notebook: the job stops
cleanly, KeyboardInterrupt is raised, and the interpreter goes on working
(its own Ctrl-C handling included). A notebook's "interrupt kernel" is a
SIGINT to the kernel process, which is what this sends to a child Python
running the cells one after another."""
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

DEADLINE = 120  # seconds: every wait below gives up after this, failing the test

# Each worker, once inside run(), says so on the FIFO READY (its pid) and
# then waits for a signal: only the job's stop ends it.
SCORE = """\
import os, signal
def run(mini_batch):
    with open(os.environ["READY"], "w") as f:
        f.write("%d\\n" % os.getpid())
    while True:
        signal.pause()
"""

NOTEBOOK = """\
import os, signal, sys, time
import parallelrun

# cell 1: a job that runs until it is interrupted
try:
    parallelrun.run(sys.argv[1], inputs={"data": sys.argv[2]}, progress="none")
    print("cell 1: job ended by itself", flush=True)
except KeyboardInterrupt as exc:
    job = exc.job
    print("cell 1: KeyboardInterrupt kind=%s exit_code=%d" % (job.kind, job.exit_code), flush=True)
    print("cell 1: job dir " + str(job.job_dir), flush=True)
    with open(os.path.join(job.job_dir, "logs", "job_result.txt")) as f:
        print("cell 1: result " + f.read().splitlines()[0], flush=True)

# cell 2: the interpreter's own Ctrl-C works again (its handler is back)
print("cell 2: handler restored " + str(signal.getsignal(signal.SIGINT) is signal.default_int_handler), flush=True)
try:
    os.kill(os.getpid(), signal.SIGINT)  # delivered before the next line runs
    print("cell 2: no KeyboardInterrupt", flush=True)
except KeyboardInterrupt:
    print("cell 2: KeyboardInterrupt", flush=True)
"""


def read_ready(fifo, child):
    """The pid the first worker inside run() wrote to `fifo`; fails the
    test at the deadline or when the child ended first."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        end = time.monotonic() + DEADLINE
        text = b""
        while time.monotonic() < end and child.poll() is None:
            readable, _, _ = select.select([fd], [], [], 0.5)
            if readable:
                text += os.read(fd, 100)
                if b"\n" in text:
                    return int(text.split(b"\n")[0])
        pytest.fail("no worker entered run() (the child %s)" % (
            "ended: %s" % (child.communicate(),) if child.poll() is not None else "is still running"))
    finally:
        os.close(fd)


def test_ctrl_c_stops_the_job_and_raises_keyboard_interrupt(tmp_path):
    from conftest import SPEC
    (tmp_path / "job.yaml").write_text(SPEC)
    (tmp_path / "score.py").write_text(SCORE)
    (tmp_path / "notebook.py").write_text(NOTEBOOK)
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        (data / ("f%d.txt" % i)).write_text("x")
    fifo = str(tmp_path / "ready")
    os.mkfifo(fifo)
    env = dict(os.environ, READY=fifo)
    env.pop("PARALLELRUN_PYTHON", None)
    child = subprocess.Popen([sys.executable, str(tmp_path / "notebook.py"),
                              str(tmp_path / "job.yaml"), str(data)], cwd=str(tmp_path), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Ready when a worker is inside run(): the job is running.
        worker = read_ready(fifo, child)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=DEADLINE)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    lines = out.splitlines()
    assert "cell 1: KeyboardInterrupt kind=interrupted exit_code=130" in lines, out + err
    assert any(l.startswith("cell 1: job dir " + str(tmp_path)) for l in lines), out
    assert any(l.startswith("cell 1: result ") and "interrupt" in l.lower() for l in lines), out
    assert "cell 2: handler restored True" in lines, out
    assert "cell 2: KeyboardInterrupt" in lines, out
    # The job reaped its workers before run() returned.
    assert not _alive(worker)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for this purpose.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False
