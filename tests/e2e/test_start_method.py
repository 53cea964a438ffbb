"""The start methods (issue 13): `--start-method fork` (a zygote imports the
entry script once and forks the workers) and `spawn` (each worker starts its
own Python) run the same jobs alike; a replaced worker is forked again; a
module that starts a thread at import falls back to spawn with a line saying
so; a zygote killed with SIGKILL makes the job spawn its workers, saying so,
with nothing left behind."""

import os
import pathlib
import re
import signal
import subprocess

from helpers import PYTHON, process_gone
from test_failures import FaultyCase


class StartMethodTest(FaultyCase):

    def run_with(self, method, items, *flags, **kwargs):
        return self.run_faulty(items, "--start-method", method, *flags, **kwargs)

    def check_same_job(self, method, forked):
        run = self.run_with(method, {"a": "ok", "b": "raise_once", "c": "ok"})
        self.assertExit(run, 0)
        statuses = {k: [r["Status"] for r in v] for k, v in self.rows_by_item().items()}
        self.assertEqual(statuses["a"], ["RUN_DONE"])
        self.assertEqual(statuses["c"], ["RUN_DONE"])
        self.assertEqual(statuses["b"], ["RUN_EXCEPTION", "RUN_DONE"])
        main = self.main_log()
        self.assertRegex(main, r"\|process000 started \(pid \d+\)\n")
        self.assertEqual(bool(re.search(r"\|process000 is a fork of the zygote \(pid \d+\)\n",
                                        main)), forked, main)

    def test_fork_runs_the_job(self):
        self.check_same_job("fork", True)

    def test_spawn_runs_the_job(self):
        self.check_same_job("spawn", False)

    def test_the_root_logger_writes_to_the_stdout_log_however_logging_is_imported(self):
        # The driver imports logging only when something does (issue 13); the
        # root logger's handler and level still come before the user's next
        # line, whether the script imports logging at the top (in the zygote
        # with fork) or in init(), and basicConfig() after it changes nothing.
        top = "import logging\n\n\ndef init():\n"
        late = "def init():\n    import logging\n"
        body = ("    logging.basicConfig(level=logging.DEBUG, format='%(message)s')\n"
                "    logging.getLogger('user').debug('hidden')\n"
                "    logging.getLogger('user').info('from init')\n\n\n"
                "def run(mini_batch):\n    return mini_batch\n")
        self.make_files(self.tmp / "in", ["a"])
        for method in ("fork", "spawn"):
            for name, head in (("top", top), ("late", late)):
                with self.subTest(method=method, imported=name):
                    (self.tmp / "logs_it.py").write_text(head + body)
                    spec = self.component_spec(entry="logs_it.py")
                    run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "in"), "--start-method",
                                       method, "--process_count_per_node", "1",
                                       job_dir="job-%s-%s" % (method, name))
                    self.assertExit(run, 0)
                    log = self.logs() / "user" / "stdout" / "0" / "process000.stdout.txt"
                    self.assertRegex(log.read_text(), r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
                                                      r"\|INFO\|user\|from init\n$")

    def test_the_driver_keeps_its_bytecode_under_pythondontwritebytecode(self):
        # PYTHONDONTWRITEBYTECODE is about the user's folders, whose scripts
        # stay without __pycache__; the driver's cache keeps its bytecode,
        # else each Python start compiles the driver again (issue 13).
        cache = pathlib.Path("/tmp/parallelrun-%d/__pycache__" % os.getuid())
        for pyc in cache.glob("parallelrun_driver_*.pyc"):
            pyc.unlink()
        script = self.tmp / "plain.py"
        script.write_text("def run(mini_batch):\n    return mini_batch\n")
        spec = self.component_spec(entry="plain.py")
        self.make_files(self.tmp / "in", ["a", "b"])
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "in"), "--start-method", "fork",
                           env={"PYTHONDONTWRITEBYTECODE": "1"})
        self.assertExit(run, 0)
        self.assertTrue(list(cache.glob("parallelrun_driver_*.pyc")), sorted(cache.glob("*")))
        self.assertFalse((self.tmp / "__pycache__").exists())

    def test_a_worker_replaced_after_a_crash_is_forked_again(self):
        run = self.run_with("fork", {"a": "ok", "x": "exit_once 4", "b": "ok"},
                            "--process_count_per_node", "1")
        self.assertExit(run, 0)
        self.assertAttempts(self.rows_by_item()["x"], ["PROCESS_DIED", "RUN_DONE"])
        self.assertRegex(self.main_log(), r"\|process001 is a fork of the zygote \(pid \d+\)\n")

    def test_a_worker_replaced_after_a_timeout_is_forked_again(self):
        run = self.run_with("fork", {"x": "hang_once", "b": "ok"},
                            "--process_count_per_node", "1", "--run_invocation_timeout", "1")
        self.assertExit(run, 0)
        self.assertAttempts(self.rows_by_item()["x"], ["RUN_TIMEOUT", "RUN_DONE"])
        self.assertRegex(self.main_log(), r"\|process001 is a fork of the zygote \(pid \d+\)\n")

    def test_a_thread_started_at_import_falls_back_to_spawn(self):
        script = self.tmp / "threaded.py"
        script.write_text(
            "import threading, time\n"
            "threading.Thread(target=time.sleep, args=(600,), daemon=True, name='bg').start()\n"
            "def run(mini_batch):\n"
            "    return mini_batch\n")
        spec = self.component_spec(entry="threaded.py")
        self.make_files(self.tmp / "in", ["a", "b"])
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "in"), "--start-method", "fork",
                           progress="plain")
        self.assertExit(run, 0)
        self.assertIn("start method fork: importing the entry script started 1 thread ('bg'), "
                      "which a forked worker would not have; workers start with spawn instead",
                      run.stderr)
        self.assertRegex(self.main_log(), r"\|process000 started \(pid \d+\)\n")
        self.assertNotIn(" is a fork of the zygote", self.main_log())

    def test_a_killed_zygote_makes_the_job_spawn_its_workers(self):
        spec = self.faulty_job({"a": "touch started\nwait_for go", "x": "exit_once 4",
                                "b": "ok"})
        env = dict(os.environ, PARALLELRUN_PYTHON=PYTHON, FAULTY_STATE=str(self.state))
        self.job_dir = self.tmp / "job"
        proc = subprocess.Popen(
            [self.parallelrun, "run", str(spec), "-i", "data=%s" % self.input_dir,
             "-o", "out=%s" % (self.tmp / "out"), "--job-dir", str(self.job_dir),
             "--progress", "plain", "--mini_batch_size", "1", "--process_count_per_node", "1",
             "--start-method", "fork"],
            cwd=str(self.tmp), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is not None or (proc.kill(), proc.wait()))
        self.wait_until(lambda: (self.state / "started").exists(), "the first mini-batch",
                        alive=[proc])
        zygote = int(re.search(r"\|zygote \(pid (\d+)\)", self.main_log()).group(1))
        os.kill(zygote, signal.SIGKILL)
        (self.state / "go").write_text("")
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertRegex(err.decode(), r"start method fork: the zygote \(pid %d\) is gone "
                                       r"\(killed by SIGKILL\); workers start with spawn "
                                       r"instead" % zygote)
        self.assertRegex(self.main_log(), r"\|process001 started \(pid \d+\)\n")
        self.assertNotIn("process001 is a fork of the zygote", self.main_log())
        self.assertTrue(process_gone(zygote))

    def check_slow_init_not_waited_for(self, method):
        # The first worker to start init() is quick; the other would load a
        # "model" for 10 minutes. With one item there is nothing left for it
        # once the first worker is done: it is stopped, not waited for (were
        # it waited for, the run would pass the test's timeout). The first
        # returns only once the other is in init(): workers start one after
        # the other, and one not started yet when the work runs out is not
        # started at all.
        script = self.tmp / "slow_init.py"
        script.write_text(
            "import os, time\n"
            "def init():\n"
            "    try:\n"
            "        os.close(os.open(os.environ['FIRST_INIT'], os.O_CREAT | os.O_EXCL))\n"
            "    except FileExistsError:\n"
            "        open(os.environ['FIRST_INIT'] + '.second', 'w').close()\n"
            "        time.sleep(600)\n"
            "    deadline = time.monotonic() + 60\n"
            "    while not os.path.exists(os.environ['FIRST_INIT'] + '.second'):\n"
            "        if time.monotonic() > deadline:\n"
            "            raise RuntimeError('the second worker never entered init()')\n"
            "        time.sleep(0.01)\n"
            "def run(mini_batch):\n"
            "    return mini_batch\n"
            "def shutdown():\n"
            "    open(os.environ['FIRST_INIT'] + '.shutdown.%d' % os.getpid(), 'w').close()\n")
        spec = self.component_spec(entry="slow_init.py")
        self.make_files(self.tmp / "in", ["a"])
        marker = self.tmp / "first_init"
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "in"), "--start-method", method,
                           "--process_count_per_node", "2", progress="plain",
                           env={"FIRST_INIT": str(marker)})
        self.assertExit(run, 0)
        main = self.main_log()
        stopped = re.findall(r"\|(process00\d) is still in init\(\) and no work is left: "
                             r"stopping it now\n", main)
        self.assertEqual(len(stopped), 1, main)
        self.assertRegex(main, r"\|%s exits with returncode -9 " % stopped[0])
        # SIGKILL: no stack printed to its stderr log for the end to point at.
        self.assertNotIn("the entry script printed to stderr", run.stderr)
        self.assertNotRegex(main, r"init\(\) failed|during start-up or init\(\)")
        # Only the worker whose init() succeeded ran shutdown().
        self.assertEqual(len(list(self.tmp.glob("first_init.shutdown.*"))), 1)
        self.assertIn("job succeeded", run.stderr)
        self.assertSucceededReport()  # no job_error.txt: nothing failed

    def test_a_process_started_at_import_outlives_the_first_worker_and_not_the_job(self):
        # The zygote waits in the first worker's cgroup so that the worker is
        # born there; what the entry script started as the zygote imported it
        # serves every worker, and must not go when that worker does.
        from test_containment import writable_cgroup2
        if writable_cgroup2() is None:
            self.skipTest("SKIPPED: no writable cgroup2 hierarchy here; workers are not put in "
                          "cgroups")
        script = self.tmp / "helper_at_import.py"
        script.write_text(
            "import os, subprocess\n"
            "STATE = os.environ['HELPER_STATE']\n"
            "helper = subprocess.Popen(['sleep', '600'])\n"
            "with open(os.path.join(STATE, 'helper.pid'), 'w') as f:\n"
            "    f.write(str(helper.pid))\n"
            "def run(mini_batch):\n"
            "    for item in mini_batch:\n"
            "        name = os.path.basename(item)\n"
            "        if name == 'b_crash' and not os.path.exists(os.path.join(STATE, 'crashed')):\n"
            "            open(os.path.join(STATE, 'crashed'), 'w').close()\n"
            "            os._exit(3)\n"
            "        if name == 'c_check':\n"
            "            pid = int(open(os.path.join(STATE, 'helper.pid')).read())\n"
            "            with open('/proc/%d/stat' % pid) as f:  # raises once it is reaped\n"
            "                state = f.read().rsplit(')', 1)[1].split()[0]\n"
            "            if state in 'ZX':\n"
            "                raise RuntimeError('the helper was killed')\n"
            "    return mini_batch\n")
        state = self.tmp / "state"
        state.mkdir()
        spec = self.component_spec(entry="helper_at_import.py")
        self.make_files(self.tmp / "in", ["a_ok", "b_crash", "c_check"])
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "in"), "--start-method", "fork",
                           "--process_count_per_node", "1", "--mini_batch_size", "1",
                           env={"HELPER_STATE": str(state)})
        self.assertExit(run, 0)
        main = self.main_log()
        self.assertRegex(main, r"\|process000 exits with returncode 3\n")
        self.assertRegex(main, r"\|process001 is a fork of the zygote")
        self.assertRegex(main, r"\|the zygote started 1 process as it imported the entry script; "
                               r"moved 1 of them to a cgroup of their own \(.*/zygote\)")
        statuses = {k: [r["Status"] for r in v] for k, v in self.rows_by_item().items()}
        self.assertEqual(statuses["c_check"], ["RUN_DONE"], statuses)
        helper = int((state / "helper.pid").read_text())
        self.wait_until(lambda: process_gone(helper), "the end of the helper", timeout=10)

    def test_a_worker_still_in_init_when_work_runs_out_is_stopped_fork(self):
        self.check_slow_init_not_waited_for("fork")

    def test_a_worker_still_in_init_when_work_runs_out_is_stopped_spawn(self):
        self.check_slow_init_not_waited_for("spawn")

    def start_busy_job(self, extra=""):
        """parallelrun with fork and 2 workers in the background, once a worker
        is inside run() (each item hangs); returns the Popen, the zygote's pid
        and the pids of the workers (both forked) and of what they started."""
        items = {"s%d" % i: "%stouch started_s%d\nhang" % (extra, i) for i in range(4)}
        spec = self.faulty_job(items)
        env = dict(os.environ, PARALLELRUN_PYTHON=PYTHON, FAULTY_STATE=str(self.state))
        self.job_dir = self.tmp / "job"
        proc = subprocess.Popen(
            [self.parallelrun, "run", str(spec), "-i", "data=%s" % self.input_dir,
             "-o", "out=%s" % (self.tmp / "out"), "--job-dir", str(self.job_dir),
             "--progress", "plain", "--mini_batch_size", "1", "--process_count_per_node", "2",
             "--run_invocation_timeout", "600", "--start-method", "fork"],
            cwd=str(self.tmp), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is not None or (proc.kill(), proc.wait()))
        self.wait_until(lambda: list(self.state.glob("started_s*")) and
                        len(re.findall(r"\|process00\d is a fork of the zygote",
                                       self.main_log())) == 2,
                        "a worker inside run() and both forked", alive=[proc])
        main = self.main_log()
        zygote = int(re.search(r"\|zygote \(pid (\d+)\)", main).group(1))
        pids = [int(p) for p in re.findall(r"\|process00\d started \(pid (\d+)\)", main)]
        recorded = self.state / "pids.txt"  # what `child` started
        if recorded.exists():
            pids += [int(line.split()[1]) for line in recorded.read_text().splitlines()]
        for pid in [zygote] + pids:
            self.addCleanup(lambda pid=pid: process_gone(pid) or os.kill(pid, signal.SIGKILL))
        return proc, zygote, pids

    def assertAllGone(self, pids):
        left = lambda: [p for p in pids if not process_gone(p)]  # noqa: E731
        self.wait_until(lambda: not left(), "the end of the zygote and the workers", timeout=10,
                        describe=lambda: "still running: %s" % left())

    def test_ctrl_c_leaves_neither_the_zygote_nor_a_forked_worker(self):
        proc, zygote, pids = self.start_busy_job(extra="child\n")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 130, err)
        self.assertAllGone([zygote] + pids)

    def test_kill_9_of_parallelrun_leaves_neither_the_zygote_nor_a_forked_worker(self):
        # PR_SET_PDEATHSIG: the zygote's from its start, a forked worker's from START.
        proc, zygote, pids = self.start_busy_job()
        proc.kill()
        proc.communicate(timeout=60)
        self.assertAllGone([zygote] + pids)
