"""A misbehaving entry script for the failure-control end-to-end tests.

What it does is decided by the data, so that one test can mix good and bad
items in a single job:

- Each item (input file) holds commands, one per line, run in order by run().
  An empty file or a file without commands means "ok".
- FAULTY_INIT and FAULTY_SHUTDOWN (environment) hold commands for init() and
  shutdown(), separated by ";".
- FAULTY_STATE (environment) is a folder for "once" markers and pid files,
  shared by every worker process of the job.

Commands:
  ok                  nothing (the item succeeds)
  raise               raise ValueError("bad item <name>")
  raise_once          raise the first time this item (or init) is seen
  sleep S             sleep S seconds
  hang                sleep for an hour
  hang_once           hang the first time this item is seen, then succeed
  ignore_term         ignore SIGTERM from now on
  exit N              os._exit(N)
  exit_once N         os._exit(N) the first time this item is seen
  sigkill             SIGKILL this worker process
  sigkill_once        SIGKILL it the first time this item is seen
  segv                read address 0 (SIGSEGV)
  return_none         run() returns None
  return_dict         run() returns a dict
  drop                this item is not in run()'s return value (fails)
  double              this item appears twice in run()'s return value
  flood N             write N bytes to stdout and N bytes to stderr
  grandchild          fork a child that keeps every descriptor (the protocol
                      pipes included) and sleeps, in the worker's process group
  escape              the same, but the child leaves the worker's process group
                      (setsid) and sleeps 60 s: nothing can stop it with the group
  child               start `sleep 600` in the worker's process group
  child_once          the same, the first time this item is seen
  touch NAME          create FAULTY_STATE/NAME (a readiness signal for a test)
  wait_for NAME       wait (at most 120 s) until FAULTY_STATE/NAME exists (the test's go)
  cgroup              copy /proc/self/cgroup to FAULTY_STATE/cgroup_<pid>
  fds NAME            write the worker's open descriptors ("fd target" lines,
                      from /proc/self/fd) to FAULTY_STATE/NAME
  daemon              double fork: a grandchild that keeps every descriptor,
                      re-parented when its parent exits at once, sleeps 60 s
  raise_big N         raise ValueError whose message is one line of N bytes
                      ("head" + x... + "tail")
  raw_result N        send the agent, through the driver's own pipe, a RESULT
                      for the running mini-batch (RUN_EXCEPTION) whose message
                      has N bytes, then os._exit(0): a driver that does not
                      cut messages
  thread              start a non-daemon thread named "faulty-lingering" that
                      sleeps for an hour
  garbage_once        the first time this item is seen, send the agent a RESULT
                      whose status byte (at offset 12) is 9, through the driver's
                      own protocol pipe: a worker that breaks the protocol

Every process these commands start is recorded, with the worker's own pid, as
"<kind> <pid>" lines in FAULTY_STATE/pids.txt, so that a test can check that
none outlives the job.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

_override = None


def _state(name):
    folder = os.environ.get("FAULTY_STATE", "")
    if not folder:
        raise RuntimeError("FAULTY_STATE is not set")
    return os.path.join(folder, name)


def _first_time(key):
    """True exactly once per key across every worker process of the job."""
    path = _state("once_" + key.replace("/", "_"))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _record(kind, pid):
    with open(_state("pids.txt"), "a") as f:
        f.write("%s %d\n" % (kind, pid))


def _do(command, key, results, item):
    global _override
    words = command.split()
    if not words:
        return
    verb, args = words[0], words[1:]
    if verb == "ok":
        pass
    elif verb == "raise":
        raise ValueError("bad item %s" % key)
    elif verb == "raise_once":
        if _first_time("raise_" + key):
            raise ValueError("bad item %s (first time only)" % key)
    elif verb == "sleep":
        time.sleep(float(args[0]))
    elif verb == "hang":
        time.sleep(3600)
    elif verb == "hang_once":
        if _first_time("hang_" + key):
            time.sleep(3600)
    elif verb == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif verb == "exit":
        os._exit(int(args[0]))
    elif verb == "exit_once":
        if _first_time("exit_" + key):
            os._exit(int(args[0]))
    elif verb == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif verb == "sigkill_once":
        if _first_time("sigkill_" + key):
            os.kill(os.getpid(), signal.SIGKILL)
    elif verb == "segv":
        ctypes.string_at(0)
    elif verb == "return_none":
        _override = ("none",)
    elif verb == "return_dict":
        _override = ("dict",)
    elif verb == "drop":
        results.pop()
    elif verb == "double":
        results.append(item)
    elif verb == "flood":
        n = int(args[0])
        chunk = ("x" * 1023 + "\n")
        for _ in range(n // 1024):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
        sys.stdout.flush()
        sys.stderr.flush()
    elif verb in ("grandchild", "escape"):
        _record("worker", os.getpid())
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            # Keeps every inherited descriptor, the protocol pipes included.
            try:
                if verb == "escape":
                    os.setsid()
                os.write(ready_w, b"x")
                time.sleep(60 if verb == "escape" else 600)
            finally:
                os._exit(0)
        os.read(ready_r, 1)  # the child is where it should be
        os.close(ready_r)
        os.close(ready_w)
        _record(verb, pid)
    elif verb == "child" or (verb == "child_once" and _first_time("child_" + key)):
        _record("worker", os.getpid())
        proc = subprocess.Popen(["sleep", "600"])
        _record("child", proc.pid)
    elif verb == "child_once":
        pass
    elif verb == "garbage_once":
        if _first_time("garbage_" + key):
            import gc
            import struct
            pipe = next(o for o in gc.get_objects()
                        if type(o).__name__ == "Pipe" and hasattr(o, "send"))
            pipe.send(0x11, struct.pack("<QIB", 1, 1, 9))
    elif verb == "fds":
        lines = []
        for fd in sorted(os.listdir("/proc/self/fd"), key=int):
            try:
                lines.append("%s %s" % (fd, os.readlink("/proc/self/fd/" + fd)))
            except OSError:
                pass  # the descriptor listdir() used
        with open(_state(args[0]), "w") as f:
            f.write("\n".join(lines) + "\n")
    elif verb == "daemon":
        _record("worker", os.getpid())
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                if os.fork() == 0:
                    os.write(ready_w, b"%d\n" % os.getpid())
                    time.sleep(60)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        daemon = int(os.read(ready_r, 32).decode())
        os.close(ready_r)
        os.close(ready_w)
        _record("daemon", daemon)
    elif verb == "raise_big":
        n = int(args[0])
        raise ValueError("head" + "x" * max(0, n - 8) + "tail")
    elif verb == "raw_result":
        import gc
        import struct
        frame = sys._getframe()
        while frame is not None and "batch_id" not in frame.f_locals:
            frame = frame.f_back
        batch_id, attempt = frame.f_locals["batch_id"], frame.f_locals["attempt"]
        pipe = next(o for o in gc.get_objects()
                    if type(o).__name__ == "Pipe" and hasattr(o, "send"))
        message = b"head" + b"x" * max(0, int(args[0]) - 8) + b"tail"
        head = struct.pack("<QIBQQdddd", batch_id, attempt, 1, 1, 0, time.time(), 0, 0, 0)
        field = lambda b: struct.pack("<I", len(b)) + b
        pipe.send(0x11, head + field(b"ValueError") + field(message) + field(message))
        os._exit(0)
    elif verb == "thread":
        import threading
        threading.Thread(target=time.sleep, args=(3600,), name="faulty-lingering").start()
    elif verb == "touch":
        with open(_state(args[0]), "w"):
            pass
    elif verb == "wait_for":
        deadline = time.monotonic() + 120
        while not os.path.exists(_state(args[0])) and time.monotonic() < deadline:
            time.sleep(0.02)
    elif verb == "cgroup":
        with open("/proc/self/cgroup") as f, open(_state("cgroup_%d" % os.getpid()), "w") as out:
            out.write(f.read())
    else:
        raise RuntimeError("faulty.py: unknown command %r" % command)


def init():
    for command in os.environ.get("FAULTY_INIT", "").split(";"):
        command = command.strip()
        if command == "raise":
            raise RuntimeError("init failed on purpose")
        _do(command, "init", [], None)


def shutdown():
    for command in os.environ.get("FAULTY_SHUTDOWN", "").split(";"):
        _do(command.strip(), "shutdown", [], None)


def run(mini_batch):
    global _override
    _override = None
    results = []
    for item in mini_batch:
        results.append(os.path.basename(item))
        with open(item, "r") as f:
            commands = [line.strip() for line in f.read().splitlines()]
        for command in commands:
            _do(command, os.path.basename(item), results, results[-1])
    if _override == ("none",):
        return None
    if _override == ("dict",):
        return {"items": results}
    return results
