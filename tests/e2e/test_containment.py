"""What a job leaves behind and what it survives (issue 9, items 7, 11-14).

- Processes a worker started die with it, also those that left its process
  group (setsid) or lost their parent (a double fork): after a run() timeout,
  when the worker is replaced, at the end of the job, after Ctrl-C (item 7).
- A worker inherits only its stdio and its protocol pipes; a daemon started
  by user code keeps no log, report or listening socket of parallelrun
  (item 11).
- A terminal that went away (`| head -1`, a closed stderr) changes neither
  the exit code nor the reports (item 12).
- A huge exception message is cut, in the CSV, job_error.txt and on the
  terminal, and fails its mini-batch, not the protocol (item 13).
- A thread init() left running does not keep a worker alive after
  shutdown(); a hung pre-flight check ends with an error saying what hung
  (item 14).
"""

import os
import pathlib
import signal
import socket
import subprocess
import time

import helpers
from helpers import E2ETestCase, PYTHON, process_gone
from test_failures import FaultyCase
from test_multinode import MultiNodeBase, free_port


class Leftovers(FaultyCase):

    def kill_later(self, kind):
        """The recorded pid of `kind` (or None); killed at clean-up if left."""
        pid = dict(self.recorded_pids()).get(kind)
        if pid:
            self.addCleanup(lambda: process_gone(pid) or os.kill(pid, signal.SIGKILL))
        return pid


class EscapedProcessTest(Leftovers):
    """Item 7."""

    def test_an_escaped_process_dies_when_its_mini_batch_times_out(self):
        run = self.run_faulty({"esc": "escape\nhang_once", "z": "ok"},
                              "--run_invocation_timeout", "1")
        escaped = self.kill_later("escape")
        self.assertExit(run, 0)
        self.assertAttempts(self.rows_by_item()["esc"], ["RUN_TIMEOUT", "RUN_DONE"])
        self.assertIsNotNone(escaped)
        self.assertAllGone([escaped])

    def test_an_escaped_process_dies_when_its_worker_is_replaced(self):
        run = self.run_faulty({"a": "ok", "esc": "escape\nexit_once 4", "b": "ok"},
                              "--process_count_per_node", "1")
        escaped = self.kill_later("escape")
        self.assertExit(run, 0)
        self.assertAttempts(self.rows_by_item()["esc"], ["PROCESS_DIED", "RUN_DONE"])
        self.assertAllGone([escaped])
        self.assertRegex(self.main_log(), r"\|process000 exited; killed 1 process that had left "
                                          r"its process group\n")

    def test_escaped_and_double_forked_processes_die_with_the_job(self):
        run = self.run_faulty({"esc": "escape", "dmn": "daemon", "z": "ok"})
        escaped, daemon = self.kill_later("escape"), self.kill_later("daemon")
        self.assertExit(run, 0)
        self.assertAllGone([escaped, daemon])

    def test_an_escaped_process_dies_after_ctrl_c(self):
        spec = self.faulty_job({"esc": "escape\ntouch started\nhang", "a": "ok"})
        env = dict(os.environ, PARALLELRUN_PYTHON=PYTHON, FAULTY_STATE=str(self.state))
        self.job_dir = self.tmp / "job"
        proc = subprocess.Popen(
            [self.parallelrun, "run", str(spec), "-i", "data=%s" % self.input_dir, "-o",
             "out=%s" % (self.tmp / "out"), "--job-dir", str(self.job_dir), "--progress", "none",
             "--mini_batch_size", "1", "--run_invocation_timeout", "600"],
            cwd=str(self.tmp), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is not None or (proc.kill(), proc.wait()))
        self.wait_until(lambda: (self.state / "started").exists(), "the escape", alive=[proc])
        escaped = self.kill_later("escape")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=30), 130)
        self.assertAllGone([escaped])


def writable_cgroup2():
    """The cgroup2 mount if parallelrun could make a cgroup there, else None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.startswith("cgroup2 "):
                mount = left.split()[4]
                probe = os.path.join(mount, "parallelrun-probe-%d" % os.getpid())
                try:
                    os.mkdir(probe)
                    os.rmdir(probe)
                    return mount
                except OSError:
                    return None
    return None


class CgroupTest(Leftovers):
    """Item 7: a cgroup per worker where one can be made."""

    def test_each_worker_runs_in_a_cgroup_of_its_own_that_is_gone_at_the_end(self):
        if writable_cgroup2() is None:
            self.skipTest("SKIPPED: no writable cgroup2 hierarchy here; the child subreaper "
                          "alone keeps what workers start from outliving them")
        run = self.run_faulty({"a": "cgroup", "b": "cgroup\nexit_once 3", "c": "cgroup"},
                              "--process_count_per_node", "1")
        self.assertExit(run, 0)
        found = self.read("sys/node/0/_main.txt")
        line = [l for l in found.splitlines() if "each worker runs in a cgroup of its own under" in l]
        self.assertEqual(len(line), 1, found)
        root = line[0].rsplit(" under ", 1)[1]
        groups = set()
        for path in self.state.glob("cgroup_*"):
            for entry in path.read_text().splitlines():
                if entry.startswith("0::"):
                    groups.add(entry[3:])
        # Two workers (the first exited and was replaced), each in its own cgroup.
        self.assertEqual(len(groups), 2, groups)
        for group in groups:
            self.assertIn("/parallelrun-", group)
        # Removed with the job.
        self.assertFalse(os.path.exists(root), root)


class DescriptorTest(Leftovers):
    """Item 11."""

    def test_a_worker_inherits_only_its_stdio_and_protocol_pipes(self):
        run = self.run_faulty({"a": "fds fds.txt"})
        self.assertExit(run, 0)
        fds = dict(line.split(" ", 1) for line in
                   (self.state / "fds.txt").read_text().splitlines())
        self.assertEqual(fds["0"], "/dev/null", fds)
        self.assertTrue(fds["1"].endswith(".stdout.txt"), fds)
        self.assertTrue(fds["2"].endswith(".stderr.txt"), fds)
        others = {fd: target for fd, target in fds.items() if int(fd) > 2}
        self.assertEqual(len(others), 2, fds)  # the driver's protocol pipes
        self.assertTrue(all(t.startswith("pipe:") for t in others.values()), fds)


DAEMON_ENTRY = r'''
import os
import time

GATE = os.environ["E2E_GATE_DIR"]


def run(mini_batch):
    if os.environ["PARALLELRUN_NODE_RANK"] == "0" and not os.path.exists(
            os.path.join(GATE, "daemon")):
        open(os.path.join(GATE, "daemon"), "w").close()
        if os.fork() == 0:
            if os.fork() == 0:  # keeps whatever the worker had
                held = []
                for fd in os.listdir("/proc/self/fd"):
                    try:
                        if int(fd) > 2:  # its stdio is the worker's logs
                            held.append(os.readlink("/proc/self/fd/" + fd))
                    except OSError:
                        pass
                with open(os.path.join(GATE, "daemon_fds"), "w") as f:
                    f.write("\n".join(held))
                # Written whole, then renamed: the test reads it as soon as it exists.
                with open(os.path.join(GATE, ".daemon_pid"), "w") as f:
                    f.write(str(os.getpid()))
                os.rename(os.path.join(GATE, ".daemon_pid"), os.path.join(GATE, "daemon_pid"))
                time.sleep(60)
            os._exit(0)
        os.wait()
        # The job (and with it the worker's cgroup or process tree) must not
        # end before the daemon has said what it holds.
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(GATE, "daemon_pid")) and time.monotonic() < deadline:
            time.sleep(0.01)
    return list(mini_batch)
'''


class MasterPortTest(MultiNodeBase):
    """Item 11, multi-node: a daemon started on the master node keeps no port."""

    def test_a_daemon_started_by_run_keeps_no_port_of_the_master(self):
        self.write("daemon_entry.py", DAEMON_ENTRY)
        self.spec = self.component_spec(entry="daemon_entry.py")
        port = free_port()
        env = self.env(mode="free", nodes=2, PARALLELRUN_TOKEN="containment-e2e-token")
        args = self.run_args()
        master = self.start_torchrun_node(0, port, env, args, world=2)
        agent = self.start_torchrun_node(1, port, env, args, world=2)
        self.assertExits(master, 0)
        self.assertExits(agent, 0)
        pid_file = self.gate / "daemon_pid"
        self.wait_until(pid_file.exists, "the daemon's pid", timeout=10)
        pid = int(pid_file.read_text())
        self.addCleanup(lambda: process_gone(pid) or os.kill(pid, signal.SIGKILL))
        held = (self.gate / "daemon_fds").read_text().splitlines()
        self.assertEqual([t for t in held if t.startswith("socket:") or str(self.job_dir) in t],
                         [], held)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                s.listen()
            except OSError as e:
                self.fail("port %d of the master is still taken after the job: %s" % (port, e))


class BrokenTerminalTest(Leftovers):
    """Item 12: the same outcome and reports as with a terminal."""

    ITEMS = {"a": "ok", "b": "raise", "c": "ok", "d": "ok"}
    FLAGS = ("--run_max_try", "1", "--error_threshold", "5")

    def outcome(self):
        rows = sorted((r["Mini-batch Id"], r["Status"]) for r in self.mini_batch_rows())
        return rows, (self.logs() / "job_result.txt").read_text().splitlines()[0]

    def reference(self):
        run = self.run_faulty(self.ITEMS, *self.FLAGS)
        return run.returncode, self.outcome()

    def faulty_argv(self, job):
        return [self.parallelrun, "run", str(self.tmp / "component.yaml"), "-i",
                "data=%s" % self.input_dir, "-o", "out=%s" % (self.tmp / "out"), "--job-dir",
                str(self.tmp / job), "--progress", "plain", "--mini_batch_size", "1"] + list(
                    self.FLAGS)

    def env(self):
        return dict(os.environ, PARALLELRUN_PYTHON=PYTHON, FAULTY_STATE=str(self.state))

    def test_a_pipe_closed_by_head_changes_nothing(self):
        code, outcome = self.reference()
        argv = self.faulty_argv("job_head")
        proc = subprocess.run(["bash", "-c", '"$@" 2>&1 | head -1; exit ${PIPESTATUS[0]}', "_"]
                              + argv, cwd=str(self.tmp), env=self.env(), timeout=60,
                              stdin=subprocess.DEVNULL, capture_output=True)
        self.assertEqual(proc.stdout.decode().count("\n"), 1, proc)
        self.job_dir = self.tmp / "job_head"
        self.assertEqual((proc.returncode, self.outcome()), (code, outcome), proc)

    def test_a_closed_stderr_changes_nothing(self):
        code, outcome = self.reference()
        argv = self.faulty_argv("job_closed")
        proc = subprocess.run(argv, cwd=str(self.tmp), env=self.env(), timeout=60,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              preexec_fn=lambda: os.close(2))
        self.job_dir = self.tmp / "job_closed"
        self.assertEqual((proc.returncode, self.outcome()), (code, outcome))
        for report in self.logs().rglob("*.txt"):
            self.assertNotIn("parallelrun: job", report.read_text(errors="replace"), report)


class HugeMessageTest(Leftovers):
    """Item 13."""

    def test_a_300_mb_exception_message_fails_the_mini_batch_with_a_cut_message(self):
        n = 300 * 1000 * 1000
        # Building and sending 300 MB takes its time on a loaded machine: the
        # test is about the cut, not run_invocation_timeout.
        run = self.run_faulty({"big": "raise_big %d" % n, "z": "ok"}, "--run_max_try", "1",
                              "--run_invocation_timeout", "600", timeout=300)
        self.assertExit(run, 0)  # one failed item is within the default error_threshold
        row = self.rows_by_item()["big"][0]
        self.assertEqual((row["Status"], row["Error Category"]), ("RUN_EXCEPTION", "ValueError"))
        message = row["Error Message"]
        self.assertLessEqual(len(message.encode()), 4096)
        self.assertRegex(message, r"^ValueError: headx+ … \[[0-9,]+ bytes cut\] … x+tail$")
        error = (self.logs() / "job_error.txt").read_text()
        self.assertLess(len(error), 64 * 1024)
        self.assertIn(" bytes cut] … ", error)
        self.assertLess(len(run.stderr), 64 * 1024)

    def test_the_agent_cuts_a_long_message_it_receives(self):
        run = self.run_faulty({"raw": "raw_result 1000000", "z": "ok"}, "--run_max_try", "1")
        self.assertExit(run, 0)
        row = self.rows_by_item()["raw"][0]
        self.assertEqual(row["Status"], "RUN_EXCEPTION")
        self.assertEqual(row["Error Message"],
                         "head" + "x" * 2012 + " … [995,968 bytes cut] … " + "x" * 2012 + "tail")


class LingeringThreadTest(Leftovers):
    """Item 14."""

    def test_a_thread_left_by_init_does_not_keep_the_worker_alive(self):
        started = time.monotonic()
        run = self.run_faulty({"a": "ok"}, init="thread", timeout=40)
        self.assertExit(run, 0)
        self.assertLess(time.monotonic() - started, 20)
        stderr_logs = "".join(p.read_text() for p in
                              (self.logs() / "user" / "stderr" / "0").glob("*.txt"))
        self.assertIn("parallelrun worker: exiting without waiting for 1 non-daemon thread still "
                      "running 2 s after the end: 'faulty-lingering'\n", stderr_logs)


class PreflightDeadlineTest(E2ETestCase):
    """Item 14: a pre-flight check that hangs ends, saying what hung."""

    def test_a_hung_preflight_check_fails_naming_what_it_does(self):
        self.copy_script("faulty.py")
        spec = self.component_spec(entry="faulty.py")
        fake = self.write("hung_python", "#!/bin/sh\nexec sleep 600\n")
        fake.chmod(0o755)
        (self.tmp / "in").mkdir()
        started = time.monotonic()
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "in"), "-o",
                           "out=%s" % (self.tmp / "out"), "--python", str(fake),
                           env={"PARALLELRUN_PREFLIGHT_TIMEOUT": "1"}, timeout=20)
        self.assertLess(time.monotonic() - started, 15)
        self.assertNotEqual(run.returncode, 0)
        # Spawned (-I -S), or the zygote of the start method fork, which then imports.
        self.assertRegex(run.stderr, r"ran past the deadline of the pre-flight check, which (only "
                                     r"starts Python \(-I -S\)|starts Python) and reads and "
                                     r"parses entry script ")
        self.assertIn("the interpreter's start or reading the script hung", run.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
