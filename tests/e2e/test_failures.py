"""Failure control end to end (issue 3; reference §1.2, §3.3, §3.5, §3.6, §4.5).

Every test runs the built parallelrun on tests/e2e/scripts/faulty.py, whose
input files say how each item misbehaves (raise, hang, exit, SIGKILL, SEGV,
bad return values, ...), with real worker processes, and checks the rows of
processed_mini-batches.csv (Picked Count, Status, counts), the exit code and
the messages in the logs and on the terminal.

Timeouts are small (run_invocation_timeout 1 s) so that the file runs in well
under a minute and a half; nothing here sleeps: waits are on files or the
process, each with a deadline.
"""

import json
import os
import re
import signal
import time
import unittest

from helpers import E2ETestCase, group_members, process_gone

# The grace between SIGTERM and SIGKILL of a worker's process group.
KILL_GRACE = 2.0


class FaultyCase(E2ETestCase):
    """Runs faulty.py over files whose contents are its commands."""

    def run_faulty(self, items, *flags, init=None, env=None, timeout=60):
        """`items`: {file name: commands (lines)}. Returns the Run."""
        spec = self.faulty_job(items)
        environment = {"FAULTY_STATE": str(self.state)}
        if init is not None:
            environment["FAULTY_INIT"] = init
        environment.update(env or {})
        return self.run_job(spec, "-i", "data=%s" % self.input_dir, "-o", "out=%s" % (self.tmp / "out"),
                            "--mini_batch_size", "1", *flags, progress="plain",
                            env=environment, timeout=timeout)

    @staticmethod
    def started_or_not(main):
        """Workers the node log shows as asked for: each ran init(), or was
        stopped in it (or while it was being forked), or was not started
        (workers are forked one after the other) when the work ran out."""
        return (main.count(" init() done in ") +
                main.count(" is still in init() and no work is left") +
                main.count(" is being forked and no work is left") +
                main.count(" is not started: no work is left"))

    def rows_by_item(self):
        """{item name: [rows by Picked Count]} from processed_mini-batches.csv."""
        by_item = {}
        for row in self.sorted_rows():
            detail = json.loads(row["Mini-batch Detail"])
            names = tuple(os.path.basename(p) for p in detail["items"])
            by_item.setdefault(names[0] if len(names) == 1 else names, []).append(row)
        return by_item

    def assertAttempts(self, rows, statuses):
        """Rows have Picked Count 1..n and these statuses, in order."""
        self.assertEqual([(int(r["Picked Count"]), r["Status"]) for r in rows],
                         [(i + 1, s) for i, s in enumerate(statuses)], rows)

    def read(self, relative):
        return (self.logs() / relative).read_text(errors="replace")

    def main_log(self):
        return self.read("sys/node/0/_main.txt")

    def recorded_pids(self):
        path = self.state / "pids.txt"
        if not path.exists():
            return []
        return [(kind, int(pid)) for kind, pid in
                (line.split() for line in path.read_text().splitlines())]

    def assertAllGone(self, pids, deadline=5.0):
        self.wait_until(lambda: all(process_gone(p) for p in pids),
                        "end of the job's processes", timeout=deadline,
                        describe=lambda: "still running: %s" % [p for p in pids
                                                                 if not process_gone(p)])

    def worker_pids(self):
        return [int(r["Pid"]) for r in self.summary_rows("process_summary.csv") if r["Pid"]]


class RunExceptionTest(FaultyCase):

    def test_run_exception_is_retried_until_run_max_try_and_the_worker_stays(self):
        run = self.run_faulty({"a": "ok", "b": "raise", "c": "raise_once", "d": "ok"},
                              "--process_count_per_node", "2", "--run_max_try", "2")
        self.assertExit(run, 0)
        rows = self.rows_by_item()
        self.assertAttempts(rows["a"], ["RUN_DONE"])
        self.assertAttempts(rows["b"], ["RUN_EXCEPTION", "RUN_EXCEPTION"])
        self.assertAttempts(rows["c"], ["RUN_EXCEPTION", "RUN_DONE"])
        self.assertAttempts(rows["d"], ["RUN_DONE"])
        for row in rows["b"]:
            self.assertEqual((row["Total"], row["Succeeded"], row["Failed"]), ("1", "0", "1"))
            self.assertEqual(row["Error Category"], "ValueError")
            self.assertEqual(row["Error Message"], "ValueError: bad item b")
        self.assertEqual(rows["c"][0]["Error Message"], "ValueError: bad item c (first time only)")
        self.assertEqual((rows["c"][1]["Succeeded"], rows["c"][1]["Failed"]), ("1", "0"))
        # The traceback is in logs/user/error/0/<process>.txt of each attempt's worker.
        for row in rows["b"]:
            error_log = self.read("user/error/0/%s.txt" % row["Process"])
            self.assertIn("run() failed on mini-batch %s, attempt %s:"
                          % (row["Mini-batch Id"], row["Picked Count"]), error_log)
            self.assertIn('raise ValueError("bad item %s" % key)\nValueError: bad item b\n',
                          error_log)
        # The workers stayed: no replacement was started, none exited early
        # (the second may not have been started at all: see workers_of_node).
        main = self.main_log()
        started, not_started = self.workers_of_node()
        self.assertEqual(len(started) + len(not_started), 2, main)
        self.assertEqual(main.count(" started (pid "), len(started), main)
        # A worker still starting when the work ran out was stopped (SIGKILL).
        stopped = len(re.findall(r"and no work is left: stopping it", main))
        self.assertEqual(sorted(re.findall(r"exits with returncode (\S+)", main)),
                         sorted(["0"] * (len(started) - stopped) + ["-9"] * stopped), main)
        # One place explains it.
        error = self.read("job_error.txt")
        b_id = rows["b"][0]["Mini-batch Id"]
        self.assertTrue(error.startswith(
            "1 of 4 mini-batches failed after all tries; 1 of 4 items failed.\n"
            "Failed attempts by kind: RUN_EXCEPTION 3\n"
            "The first 2 failing mini-batches:\n"
            "- mini-batch %s (%s/b): failed 2 of 2 tries; last failure on attempt 2 (node 0 %s): "
            "RUN_EXCEPTION: ValueError: bad item b\n"
            "  traceback (last lines):\n" % (b_id, self.input_dir, rows["b"][1]["Process"])),
            error)
        self.assertIn("    ValueError: bad item b\n  full log: %s/user/error/0/%s.txt\n"
                      % (self.logs(), rows["b"][1]["Process"]), error)
        self.assertIn("- mini-batch %s (%s/c): failed 1 try, then succeeded; last failure on "
                      "attempt 1 (node 0 %s): RUN_EXCEPTION: ValueError: bad item c (first time "
                      "only)\n" % (rows["c"][0]["Mini-batch Id"], self.input_dir,
                                   rows["c"][0]["Process"]), error)
        # The terminal groups the failures by kind and message, one traceback
        # each, and points to job_error.txt for the rest.
        self.assertIn("\nFailures by kind and message:\n- RUN_EXCEPTION ValueError: bad item b — "
                      "1 mini-batch (2 attempts); first: mini-batch %s (%s/b) on node 0 %s\n"
                      % (b_id, self.input_dir, rows["b"][0]["Process"]), run.stderr)
        self.assertIn("\nEach failing mini-batch: %s\n" % (self.logs() / "job_error.txt"),
                      run.stderr)
        self.assertIn("parallelrun: job succeeded with 1 failed items (1 mini-batches failed "
                      "after all tries; within error_threshold -1", run.stderr)
        result = self.read("job_result.txt")
        self.assertEqual(result.splitlines()[0], "Job succeeded.")
        self.assertIn("\nThe failures are within the thresholds: error_threshold -1, "
                      "allowed_failed_count -1, allowed_failed_percent 100.\n", result)
        self.assertIn("\nSee logs/job_error.txt for the failures.\n", result)

    def test_a_worker_failing_more_than_10_in_a_row_is_replaced(self):
        items = {"i%02d" % i: "raise" for i in range(30)}
        run = self.run_faulty(items, "--process_count_per_node", "1", "--run_max_try", "1")
        self.assertExit(run, 0)
        rows = self.sorted_rows()
        self.assertEqual(len(rows), 30)
        self.assertEqual({r["Status"] for r in rows}, {"RUN_EXCEPTION"})
        by_process = {}
        for row in rows:
            by_process.setdefault(row["Process"], []).append(int(row["Mini-batch Id"]))
        # process000 ran the first 11 (and what was already queued to it), then
        # a new process took over.
        self.assertGreaterEqual(len(by_process["process000"]), 11, by_process)
        self.assertEqual(by_process["process000"], list(range(len(by_process["process000"]))))
        self.assertIn("process001", by_process)
        main = self.main_log()
        self.assertRegex(main, r"\|process000 failed 11 mini-batches in a row \(more than 10\); it "
                               r"runs the \d+ already queued to it, then shutdown\(\), and a new "
                               r"process replaces it\n")
        self.assertRegex(main, r"\|process000 exits with returncode 0\n(.*\n)?.*\|process001 "
                               r"started \(pid \d+\)\n")
        self.assertIn("|process001 init() done in ", main)


class TimeoutTest(FaultyCase):

    def test_run_timeout_kills_the_process_group_and_the_retry_runs_in_a_new_worker(self):
        run = self.run_faulty(
            {"a": "ok", "slow": "hang_once",
             # Ignores SIGTERM (so it needs SIGKILL) and has a child in its group.
             "stubborn": "child_once\nignore_term\nhang_once"},
            "--process_count_per_node", "2", "--run_invocation_timeout", "1")
        self.assertExit(run, 0)
        rows = self.rows_by_item()
        self.assertAttempts(rows["a"], ["RUN_DONE"])
        self.assertAttempts(rows["slow"], ["RUN_TIMEOUT", "RUN_DONE"])
        self.assertAttempts(rows["stubborn"], ["RUN_TIMEOUT", "RUN_DONE"])
        for name, how in (("slow", "killed by SIGTERM"), ("stubborn", "killed by SIGKILL")):
            timed_out, retried = rows[name]
            process = timed_out["Process"]
            self.assertEqual(timed_out["Error Category"], "Timeout")
            self.assertEqual(timed_out["Error Message"],
                             "run() did not finish within run_invocation_timeout (1 s); %s was "
                             "stopped (%s) and is replaced; stderr: "
                             "logs/user/stderr/0/%s.stderr.txt" % (process, how, process))
            self.assertEqual((timed_out["Succeeded"], timed_out["Failed"]), ("0", "1"))
            self.assertGreaterEqual(float(timed_out["Elapsed Seconds"]), 1.0)
            self.assertNotEqual(retried["Process"], process)
            self.assertIn("|%s: run() of mini-batch %s (attempt 1) did not finish within 1 s "
                          "(run_invocation_timeout); stopping its process group (SIGTERM, SIGKILL "
                          "after 2 s)\n" % (process, timed_out["Mini-batch Id"]), self.main_log())
        # SIGTERM was ignored: SIGKILL came after the grace period.
        self.assertGreaterEqual(float(rows["stubborn"][0]["Elapsed Seconds"]), 1.0 + KILL_GRACE)
        self.assertLess(float(rows["slow"][0]["Elapsed Seconds"]), 1.0 + KILL_GRACE)
        # Replacements were started: two more processes than slots, each of
        # which ran init() — or was stopped in it, or before it, when the
        # work ran out.
        main = self.main_log()
        self.assertEqual(self.started_or_not(main), 4, main)
        # The stack where run() hung is the reason shown.
        error = self.read("job_error.txt")
        self.assertRegex(error, r"RUN_TIMEOUT: run\(\) did not finish within run_invocation_timeout "
                                r"\(1 s\); process\d+ was stopped \(killed by SIGTERM\) and is "
                                r"replaced; stderr: logs/user/stderr/0/process\d+.stderr.txt\n"
                                r"  traceback \(last lines\):\n"
                                r"    Stack \(most recent call last\):\n"
                                r"      File \".*/faulty.py\", line \d+ in run\n"
                                r"      File \".*/faulty.py\", line \d+ in _do\n")
        # The child in the stubborn worker's group died with it.
        pids = self.recorded_pids()
        self.assertEqual([kind for kind, _ in pids], ["worker", "child"])
        self.assertAllGone([pid for _, pid in pids])


class WorkerDeathTest(FaultyCase):

    def test_a_dead_worker_fails_its_attempt_naming_the_exit_and_is_replaced(self):
        run = self.run_faulty(
            {"a": "ok", "killed": "sigkill_once", "segv": "segv", "exit": "exit_once 3",
             "forked": "grandchild\nexit_once 5", "z": "ok"},
            "--process_count_per_node", "2")
        self.assertExit(run, 0)
        rows = self.rows_by_item()
        self.assertAttempts(rows["a"], ["RUN_DONE"])
        self.assertAttempts(rows["z"], ["RUN_DONE"])
        self.assertAttempts(rows["killed"], ["PROCESS_DIED", "RUN_DONE"])
        self.assertAttempts(rows["segv"], ["PROCESS_DIED"] * 3)
        self.assertAttempts(rows["exit"], ["PROCESS_DIED", "RUN_DONE"])
        self.assertAttempts(rows["forked"], ["PROCESS_DIED", "RUN_DONE"])

        def message(row, how):
            p = row["Process"]
            return "%s %s while running this mini-batch; stderr: logs/user/stderr/0/%s.stderr.txt" % (
                p, how, p)

        killed = rows["killed"][0]
        self.assertEqual(killed["Error Category"], "Signal")
        self.assertEqual(killed["Error Message"],
                         message(killed, "killed by SIGKILL, possibly out of memory,"))
        for row in rows["segv"]:
            self.assertEqual(row["Error Category"], "Signal")
            self.assertEqual(row["Error Message"], message(row, "killed by SIGSEGV"))
            self.assertEqual((row["Succeeded"], row["Failed"]), ("0", "1"))
        exited = rows["exit"][0]
        self.assertEqual(exited["Error Category"], "ProcessExit")
        self.assertEqual(exited["Error Message"], message(exited, "exited with exit code 3"))
        forked = rows["forked"][0]
        self.assertEqual(forked["Error Message"], message(forked, "exited with exit code 5"))

        main = self.main_log()
        self.assertIn("|%s exits with returncode -9 (killed by SIGKILL, possibly out of memory)\n"
                      % killed["Process"], main)
        for row in rows["segv"]:
            self.assertIn("|%s exits with returncode -11 (killed by SIGSEGV)\n" % row["Process"], main)
        self.assertIn("|%s exits with returncode 3\n" % exited["Process"], main)
        self.assertIn("|%s exits with returncode 5\n" % forked["Process"], main)
        # Its grandchild is killed with its group; or, when another worker
        # died in the same moment and was seen first, as an orphan then.
        self.assertRegex(main, r"\|%s left processes in its process group|\|process\d+ exited; "
                               r"killed \d+ process(es)? that had left its process group"
                         % forked["Process"])
        # 2 slots + 6 replacements (1 SIGKILL, 3 SEGV, 2 exits), each ran
        # init() — or was stopped in it when the work ran out, or (forked
        # one after the other) was not started yet then.
        self.assertEqual(self.started_or_not(main), 8, main)

        error = self.read("job_error.txt")
        self.assertIn("1 of 6 mini-batches failed after all tries; 1 of 6 items failed.\n"
                      "Failed attempts by kind: PROCESS_DIED 6\n", error)
        self.assertRegex(error, r"- mini-batch \d+ \(.*/in/segv\): failed 3 of 3 tries; last failure "
                                r"on attempt 3 \(node 0 process\d+\): PROCESS_DIED: process\d+ "
                                r"killed by SIGSEGV while running this mini-batch; stderr: "
                                r"logs/user/stderr/0/process\d+.stderr.txt\n"
                                r"  traceback \(last lines\):\n"
                                r"    Fatal Python error: Segmentation fault\n"
                                r"    Stack \(most recent call last\):\n"
                                r"      File \".*/faulty.py\", line \d+ in run\n"
                                r"      File \".*/faulty.py\", line \d+ in _do\n"
                                r"      File \".*/ctypes/__init__.py\", line \d+ in string_at\n"
                                r"  full log: .*/logs/user/stderr/0/process\d+.stderr.txt and "
                                r".*/logs/sys/node/0/_main.txt\n")
        # The grandchildren that held the protocol pipe (one of a worker that
        # died, one of a worker that finished normally) did not outlive them.
        pids = self.recorded_pids()
        self.assertEqual(sorted(kind for kind, _ in pids),
                         ["grandchild", "grandchild", "worker", "worker"])
        self.assertAllGone([pid for _, pid in pids])

    def test_a_worker_that_breaks_the_protocol_fails_its_attempt_saying_what_was_wrong(self):
        run = self.run_faulty({"a": "ok", "garbage": "garbage_once", "z": "ok"})
        self.assertExit(run, 0)
        rows = self.rows_by_item()
        self.assertAttempts(rows["a"], ["RUN_DONE"])
        self.assertAttempts(rows["z"], ["RUN_DONE"])
        self.assertAttempts(rows["garbage"], ["PROCESS_DIED", "RUN_DONE"])
        broken = rows["garbage"][0]
        self.assertEqual(broken["Error Category"], "ProtocolError")
        reason = "malformed RESULT: status at byte 12: 9 is not an attempt status"
        self.assertEqual(broken["Error Message"],
                         "%s broke the worker protocol: %s" % (broken["Process"], reason))
        self.assertIn("|%s: protocol error: %s; stopping it\n" % (broken["Process"], reason),
                      self.main_log())

    def test_a_process_outside_the_group_holding_the_pipe_does_not_hang_the_agent(self):
        started = time.monotonic()
        run = self.run_faulty({"a": "ok", "escaped": "escape\nexit_once 4", "b": "ok"},
                              "--process_count_per_node", "1")
        pids = dict(self.recorded_pids())
        escaped = pids.get("escape")
        if escaped:
            self.addCleanup(lambda: process_gone(escaped) or os.kill(escaped, signal.SIGKILL))
        self.assertExit(run, 0)
        self.assertLess(time.monotonic() - started, 20)
        rows = self.rows_by_item()
        self.assertAttempts(rows["escaped"], ["PROCESS_DIED", "RUN_DONE"])
        # It is killed when its worker exits (the agent is its subreaper,
        # test_containment.py), which closes the pipe it held.
        self.assertAllGone([escaped])


class ReturnValueTest(FaultyCase):

    def test_none_or_a_non_list_fails_the_attempt_and_too_many_items_are_capped(self):
        run = self.run_faulty(
            {"none": "return_none", "dict": "return_dict", "dbl1": "double", "dbl2": "double",
             "dropped": "drop", "ok": "ok"},
            "--process_count_per_node", "1", "--run_max_try", "2")
        self.assertExit(run, 0)
        rows = self.rows_by_item()
        self.assertAttempts(rows["none"], ["RUN_INVALID_RETURN"] * 2)
        self.assertAttempts(rows["dict"], ["RUN_INVALID_RETURN"] * 2)
        for row in rows["none"]:
            self.assertEqual(row["Error Category"], "InvalidReturn")
            self.assertEqual(row["Error Message"],
                             "run() returned None; it must return a list, tuple or pandas.DataFrame "
                             "with one element per successful item")
            self.assertEqual((row["Succeeded"], row["Failed"]), ("0", "1"))
        self.assertEqual(rows["dict"][0]["Error Message"],
                         "run() returned a dict; it must return a list, tuple or pandas.DataFrame "
                         "with one element per successful item")
        # Two items for one: capped at the input count, warned once.
        for name in ("dbl1", "dbl2"):
            self.assertAttempts(rows[name], ["RUN_DONE"])
            self.assertEqual((rows[name][0]["Succeeded"], rows[name][0]["Failed"]), ("1", "0"))
        warning = ("run() returned 2 items for mini-batch %s, which is more than its 1 items; "
                   "using the input count as succeeded count (warned once)"
                   % rows["dbl1"][0]["Mini-batch Id"])
        self.assertEqual(run.stderr.count("returned 2 items"), 1, run.stderr)
        self.assertIn("parallelrun: warning: %s\n" % warning, run.stderr)
        self.assertRegex(self.read("sys/master_role.0.txt"),
                         r"\|WARNING\|\d+\|" + re.escape(warning) + "\n")
        # An item missing from the return value is a failed item of a done mini-batch.
        self.assertAttempts(rows["dropped"], ["RUN_DONE"])
        self.assertEqual((rows["dropped"][0]["Succeeded"], rows["dropped"][0]["Failed"]), ("0", "1"))
        self.assertIn("run() returned None; it must return", self.read(
            "user/error/0/%s.txt" % rows["none"][0]["Process"]))
        self.assertIn("There are 6 mini-batches with 6 items. Processed 6 mini-batches: 4 succeeded, "
                      "2 failed after all tries (8 attempts; 2 mini-batches retried, 2 retries). 3 items "
                      "succeeded, 3 failed.",
                      self.read("job_result.txt"))
        self.assertIn("parallelrun:   succeeded                   4           3\n"
                      "parallelrun:   failed                      2           3\n", run.stderr)

    def test_flooding_output_does_not_block_the_worker(self):
        run = self.run_faulty({"loud": "flood 4000000", "a": "ok"}, "--process_count_per_node", "1")
        self.assertExit(run, 0)
        self.assertGreaterEqual((self.logs() / "user/stdout/0/process000.stdout.txt").stat().st_size,
                                3_900_000)
        self.assertGreaterEqual((self.logs() / "user/stderr/0/process000.stderr.txt").stat().st_size,
                                3_900_000)
        self.assertEqual({r["Status"] for r in self.sorted_rows()}, {"RUN_DONE"})


class InitFailureTest(FaultyCase):

    def test_init_that_always_fails_stops_the_job_after_3_x_process_count_failures(self):
        run = self.run_faulty({"a": "ok", "b": "ok", "c": "ok"}, "--process_count_per_node", "2",
                              init="raise")
        self.assertExit(run, 1)
        first_line = (
            "init() failed 6 times in a row on node 0 (the limit is 3 × process_count_per_node = "
            "6), so no worker is left to run mini-batches; the job stopped dispatching, 3 of 3 "
            "mini-batches were not processed")
        self.assertIn("\nparallelrun: error: %s\n" % first_line, run.stderr)
        self.assertEqual(self.sorted_rows(), [])
        main = self.main_log()
        self.assertEqual(main.count(" started (pid "), 6, main)
        self.assertEqual(main.count(" init() failed: RuntimeError: init failed on purpose"), 6, main)
        self.assertIn("; not starting another worker: init() failed 6 times in a row on this node "
                      "(the limit is 3 × process_count_per_node = 6)\n", main)
        self.assertIn("init() failed:\nTraceback", self.read("user/error/0/process000.txt"))
        result = self.read("job_result.txt")
        self.assertTrue(result.startswith("Job failed: %s\n" % first_line), result)
        error = self.read("job_error.txt")
        self.assertRegex(error, r"Node 0 could not run workers: init\(\) failed 6 times in a row on "
                                r"node 0 .*\nlast failure: process00\d: init\(\) raised RuntimeError: "
                                r"init failed on purpose \(traceback in "
                                r"logs/user/error/0/process00\d.txt\)\n(.*\n)*"
                                r"    raise RuntimeError\(\"init failed on purpose\"\)\n"
                                r"RuntimeError: init failed on purpose\n")
        self.assertIn("Worker processes whose init() did not succeed: process000 (exit code 72); "
                      "process001 (exit code 72); process002 (exit code 72); process003 (exit code "
                      "72); process004 (exit code 72); process005 (exit code 72)\n", error)

    def test_a_worker_that_exits_in_init_counts_as_an_init_failure(self):
        run = self.run_faulty({"a": "ok"}, "--process_count_per_node", "1", init="exit 9")
        self.assertExit(run, 1)
        self.assertIn("\nparallelrun: error: init() failed 3 times in a row on node 0 (the limit is "
                      "3 × process_count_per_node = 3), so no worker is left to run mini-batches; "
                      "the job stopped dispatching, 1 of 1 mini-batches were not processed\n",
                      run.stderr)
        self.assertIn("Node 0 could not run workers: init() failed 3 times in a row on node 0 (the "
                      "limit is 3 × process_count_per_node = 3), so no worker is left to run "
                      "mini-batches\nlast failure: process002 exited with exit code 9 during "
                      "start-up or init(); stderr: logs/user/stderr/0/process002.stderr.txt\n",
                      self.read("job_error.txt"))

    def test_init_that_fails_once_is_retried_in_a_new_worker(self):
        run = self.run_faulty({"a": "ok", "b": "ok"}, "--process_count_per_node", "1",
                              init="raise_once")
        self.assertExit(run, 0)
        rows = self.sorted_rows()
        self.assertEqual([(r["Process"], r["Status"]) for r in rows],
                         [("process001", "RUN_DONE")] * 2)
        self.assertIn("|process000 init() failed: ValueError: bad item init (first time only)\n",
                      self.main_log())
        self.assertIn("Worker processes whose init() did not succeed: process000 (exit code 72)\n",
                      self.read("job_error.txt"))
        self.assertTrue(self.read("job_result.txt").startswith("Job succeeded.\n"))

    def test_init_that_hangs_is_stopped_and_the_job_ends(self):
        # init() may take 3 × run_invocation_timeout + task_overhead_timeout = 2 s.
        started = time.monotonic()
        run = self.run_faulty({"a": "ok"}, "--process_count_per_node", "1",
                              "--run_invocation_timeout", "0.5", "--task_overhead_timeout", "0.5",
                              "--progress_update_timeout", "600", init="hang")
        self.assertExit(run, 1)
        self.assertLess(time.monotonic() - started, 30)
        self.assertIn("\nparallelrun: error: init() failed 3 times in a row on node 0 (the limit is "
                      "3 × process_count_per_node = 3), so no worker is left to run mini-batches; "
                      "the job stopped dispatching, 1 of 1 mini-batches were not processed\n",
                      run.stderr)
        main = self.main_log()
        for n in range(3):
            self.assertIn("|process00%d: init() did not finish within 2 s (3 × run_invocation_timeout "
                          "+ task_overhead_timeout); it was stopped\n" % n, main)
            self.assertIn("|process00%d exits with returncode -15 (killed by SIGTERM)\n" % n, main)
        self.assertRegex(self.read("job_error.txt"),
                         r"last failure: process002: init\(\) did not finish within 2 s \(3 × "
                         r"run_invocation_timeout \+ task_overhead_timeout\); it was stopped\n"
                         r"Stack \(most recent call last\):\n"
                         r"  File \".*/faulty.py\", line \d+ in init\n"
                         r"  File \".*/faulty.py\", line \d+ in _do\n")


class ShutdownTest(FaultyCase):

    def test_a_hanging_shutdown_is_stopped_and_the_job_still_ends(self):
        run = self.run_faulty({"a": "ok", "b": "ok"}, "--process_count_per_node", "1",
                              "--run_invocation_timeout", "1", env={"FAULTY_SHUTDOWN": "hang"})
        self.assertExit(run, 0)
        self.assertEqual([r["Status"] for r in self.sorted_rows()], ["RUN_DONE", "RUN_DONE"])
        main = self.main_log()
        self.assertIn("|process000: shutdown() did not finish within 1 s; stopping it\n", main)
        self.assertIn("|process000 exits with returncode -15 (killed by SIGTERM)\n", main)


class ThresholdTest(FaultyCase):
    """error_threshold, allowed_failed_count and allowed_failed_percent (reference §1.2)."""

    def items(self, bad, good, bad_commands="raise", good_commands="sleep 0.05"):
        items = {"i%02d" % i: bad_commands for i in range(bad)}
        items.update({"i%02d" % i: good_commands for i in range(bad, bad + good)})
        return items

    def assertStopped(self, run, reason, total):
        self.assertExit(run, 1)
        match = re.search(r"\nparallelrun: error: %s; the job stopped dispatching, (\d+) of %d "
                          r"mini-batches were not processed\n" % (re.escape(reason), total),
                          run.stderr)
        self.assertIsNotNone(match, run.stderr)
        unprocessed = int(match.group(1))
        finished = {r["Mini-batch Id"] for r in self.sorted_rows()
                    if r["Status"] == "RUN_DONE" or int(r["Picked Count"]) == self.max_try}
        self.assertEqual(unprocessed, total - len(finished))
        self.assertGreater(unprocessed, 0)
        # In-flight attempts were let finish, not interrupted.
        self.assertEqual({r["Status"] for r in self.sorted_rows()} - {"RUN_DONE", "RUN_EXCEPTION"},
                         set())
        result = self.read("job_result.txt")
        self.assertTrue(result.startswith("Job failed: %s; the job stopped dispatching, %d of %d "
                                          "mini-batches were not processed\n"
                                          % (reason, unprocessed, total)), result)
        self.assertIn("Stopping: %s" % reason, self.read("sys/master_role.0.txt"))
        return unprocessed

    def test_error_threshold_counts_failed_items_with_greater_than(self):
        self.max_try = 1
        run = self.run_faulty(self.items(3, 12), "--process_count_per_node", "1",
                              "--run_max_try", "1", "--error_threshold", "2")
        self.assertStopped(run, "error_threshold exceeded: 3 failed items > 2", 15)
        rows = self.rows_by_item()
        for name in ("i00", "i01", "i02"):
            self.assertAttempts(rows[name], ["RUN_EXCEPTION"])

    def test_error_threshold_equal_to_the_failures_passes(self):
        run = self.run_faulty(self.items(3, 3, good_commands="ok"), "--run_max_try", "1",
                              "--error_threshold", "3")
        self.assertExit(run, 0)
        self.assertEqual(len(self.sorted_rows()), 6)

    def test_short_returns_count_against_error_threshold(self):
        self.max_try = 3
        run = self.run_faulty(self.items(2, 12, bad_commands="drop"), "--process_count_per_node", "1",
                              "--error_threshold", "1")
        self.assertStopped(run, "error_threshold exceeded: 2 failed items > 1", 14)
        rows = self.rows_by_item()
        self.assertAttempts(rows["i00"], ["RUN_DONE"])
        self.assertEqual((rows["i00"][0]["Succeeded"], rows["i00"][0]["Failed"]), ("0", "1"))

    def test_allowed_failed_count_counts_failed_mini_batches(self):
        self.max_try = 2
        run = self.run_faulty(self.items(3, 12), "--process_count_per_node", "1",
                              "--run_max_try", "2", "--allowed_failed_count", "2")
        self.assertStopped(run, "allowed_failed_count (mini_batch_error_threshold) exceeded: "
                                "3 failed mini-batches > 2", 15)

    def test_allowed_failed_percent_is_checked_once_scheduling_finished(self):
        self.max_try = 1
        run = self.run_faulty(self.items(2, 8, good_commands="ok"), "--run_max_try", "1",
                              "--allowed_failed_percent", "10")
        self.assertExit(run, 1)
        reason = "allowed_failed_percent exceeded: 2 of 10 mini-batches failed (20.00% > 10%)"
        self.assertIn("\nparallelrun: error: %s" % reason, run.stderr)
        self.assertTrue(self.read("job_result.txt").startswith("Job failed: %s" % reason))

    def test_allowed_failed_percent_equal_to_the_failures_passes(self):
        run = self.run_faulty(self.items(2, 8, good_commands="ok"), "--run_max_try", "1",
                              "--allowed_failed_percent", "20")
        self.assertExit(run, 0)


class NoProgressTest(FaultyCase):

    def test_a_job_without_progress_stops_naming_what_every_worker_does(self):
        # A worker that becomes ready is progress too: the timeout must
        # outlast the workers' start (seconds on a loaded machine, the
        # workers niced to 5), or the job stops with them in init().
        run = self.run_faulty({"a": "hang", "b": "hang", "c": "hang"}, "--process_count_per_node", "2",
                              "--run_invocation_timeout", "60", "--progress_update_timeout", "10")
        self.assertExit(run, 1)
        self.assertRegex(
            run.stderr,
            r"\nparallelrun: error: no progress update in \d+ seconds \(progress_update_timeout 10 s\): "
            r"no mini-batch finished and no worker became ready; the job stopped dispatching, 3 of 3 "
            r"mini-batches were not processed; the workers were:\n"
            r"  node 0 process000 \(pid \d+\): running mini-batch [012] \(attempt 1, 1 item: "
            r".*/in/[abc]\) for \d+ s\n"
            r"  node 0 process001 \(pid \d+\): running mini-batch [012] \(attempt 1, 1 item: "
            r".*/in/[abc]\) for \d+ s\n")
        # The two running were stopped; the one queued behind never started.
        rows = self.sorted_rows()
        self.assertEqual(len(rows), 2, rows)
        for row in rows:
            self.assertEqual((row["Picked Count"], row["Status"]), ("1", "INTERRUPTED"))
            self.assertRegex(row["Error Message"],
                             r"^the job was stopped: no progress update in \d+ seconds$")
        self.assertRegex(self.read("job_result.txt"), r"^Job failed: no progress update in \d+ "
                                                      r"seconds \(progress_update_timeout 10 s\)")


class ScaleTest(FaultyCase):

    def test_1000_mini_batches_with_every_kind_of_failure_lose_and_double_nothing(self):
        raising = {"i%04d" % i for i in range(37, 1000, 100)}  # 1% of the items
        items = {"i%04d" % i: "ok" for i in range(1000)}
        items.update({name: "raise" for name in raising})
        items["i0500"] = "hang_once"      # hangs once, then succeeds on retry
        items["i0700"] = "sigkill_once"   # its worker is killed mid-batch once
        run = self.run_faulty(items, "--process_count_per_node", "2",
                              "--run_invocation_timeout", "2", timeout=120)
        self.assertExit(run, 0)
        rows = self.rows_by_item()
        self.assertEqual(sorted(rows), sorted(items))  # every item has rows, nothing else does
        for name, attempts in rows.items():
            statuses = [r["Status"] for r in attempts]
            if name in raising:
                self.assertAttempts(attempts, ["RUN_EXCEPTION"] * 3)
            elif name == "i0500":
                self.assertAttempts(attempts, ["RUN_TIMEOUT", "RUN_DONE"])
            elif name == "i0700":
                self.assertAttempts(attempts, ["PROCESS_DIED", "RUN_DONE"])
                self.assertIn("killed by SIGKILL, possibly out of memory,",
                              attempts[0]["Error Message"])
            else:
                self.assertEqual(statuses, ["RUN_DONE"], name)
            done = [r for r in attempts if r["Status"] == "RUN_DONE"]
            self.assertLessEqual(len(done), 1, name)
            for r in done:
                self.assertEqual((r["Total"], r["Succeeded"], r["Failed"]), ("1", "1", "0"))
        self.assertEqual(sum(len(a) for a in rows.values()), 990 + 30 + 2)
        self.assertIn("There are 1000 mini-batches with 1000 items. Processed 1000 "
                      "mini-batches: 990 succeeded, 10 failed after all tries (1022 attempts; 12 "
                      "mini-batches retried, 22 retries). 990 items succeeded, 10 failed.", self.read("job_result.txt"))
        self.assertIn("parallelrun:   succeeded                 990         990\n"
                      "parallelrun:   failed                     10          10\n"
                      "parallelrun:   total                    1000        1000\n"
                      "parallelrun:   retried                    12          12\n"
                      "parallelrun:   attempts 1022, elapsed ", run.stderr)
        error = self.read("job_error.txt")
        self.assertTrue(error.startswith(
            "10 of 1000 mini-batches failed after all tries; 10 of 1000 items failed.\n"
            "Failed attempts by kind: PROCESS_DIED 1; RUN_EXCEPTION 30; RUN_TIMEOUT 1\n"), error)
        summary = self.summary_rows("process_summary.csv")
        self.assertEqual(sum(int(r["Attempts"]) for r in summary), 1022)
        self.assertEqual(sum(int(r["Succeeded Items"]) for r in summary), 990)


if __name__ == "__main__":
    unittest.main()
