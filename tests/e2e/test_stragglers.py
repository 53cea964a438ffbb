"""End-to-end tests of stragglers (issue 12, item 10; master/batch_queue.h):
near the end of a job, a mini-batch running longer than straggler_factor × the
median of the finished ones is started again on an idle worker; the first
attempt to succeed counts, the other is stopped, the item is counted once and
append_row keeps one copy; the report says which attempt won, and resuming
the job replays the duplicate without counting it.

The entry script's run() sleeps far longer than the test's deadline on the
first attempt of one item only (a marker file tells the attempts apart), with
run_invocation_timeout longer still: only a second attempt can end the job in
time, so a job that waits for the first fails the test at its deadline. With
two nodes of one worker each, the second attempt must run on the other node.
"""

import collections
import os
import unittest

import test_multinode as mn
from helpers import E2ETestCase

ENTRY = r'''
import os
import time

MARKER = os.environ["E2E_MARKER"]


def init():
    pass


def run(mini_batch):
    for path in mini_batch:
        if os.path.basename(path) == "slow.txt" and not os.path.exists(MARKER):
            with open(MARKER, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(900)
        if os.path.basename(path) == "bad.txt" and os.environ.get("E2E_BAD_FAILS") == "1":
            raise ValueError("bad.txt fails on request")
    return [os.path.basename(p) for p in mini_batch]
'''

FILES = ["bad.txt"] + ["f%02d.txt" % i for i in range(11)] + ["slow.txt"]
DEADLINE = 120  # seconds; the first attempt of slow.txt sleeps 900


class StragglerTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.data = self.tmp / "data"
        self.make_files(self.data, FILES)
        self.write("straggler_entry.py", ENTRY)
        self.spec = self.component_spec(entry="straggler_entry.py")
        self.out = self.tmp / "out"
        self.env = {"E2E_MARKER": str(self.tmp / "slow-started"), "E2E_BAD_FAILS": "0"}

    def run_straggler_job(self, factor="2", *extra):
        return self.run_job(self.spec, "-i", "data=%s" % self.data, "-o", "out=%s" % self.out,
                            "--mini-batch-size", "1", "--process-count-per-node", "2", *extra,
                            "--output_action", "append_row", "--run_invocation_timeout", "1000",
                            "--straggler_factor", factor, env=self.env, timeout=DEADLINE)

    def check_once(self, files=FILES, failed=0):
        """The output has each of `files` once; the report counts each mini-batch once."""
        lines = (self.out / "parallel_run_step.txt").read_text().split("\n")
        self.assertEqual(sorted(l for l in lines if l), sorted(files))
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("There are 13 mini-batches with 13 items. Processed 13 mini-batches: %d "
                      "succeeded, %d failed" % (13 - failed, failed), result)

    def test_second_attempt_wins_and_the_first_is_stopped(self):
        # bad.txt fails for good (one try): the resume below runs it again.
        self.env["E2E_BAD_FAILS"] = "1"
        run = self.run_straggler_job("2", "--run_max_try", "1")
        self.assertExit(run, 0)
        self.assertTrue((self.tmp / "slow-started").exists(), "the slow attempt never ran")
        self.check_once([f for f in FILES if f != "bad.txt"], failed=1)
        rows = self.mini_batch_rows()
        by_id = collections.defaultdict(list)
        for r in rows:
            by_id[r["Mini-batch Id"]].append(r)
        slow = [rs for rs in by_id.values() if "slow.txt" in rs[0]["Mini-batch Detail"]]
        self.assertEqual(len(slow), 1)
        attempts = {int(r["Picked Count"]): r for r in slow[0]}
        self.assertEqual(sorted(attempts), [1, 2], rows)
        self.assertEqual(attempts[2]["Status"], "RUN_DONE")
        self.assertEqual(attempts[1]["Status"], "INTERRUPTED")
        self.assertIn("not needed: attempt 2 of this mini-batch (a straggler's second attempt) "
                      "succeeded first", attempts[1]["Error Message"])
        others = [rs for rs in by_id.values() if "slow.txt" not in rs[0]["Mini-batch Detail"]]
        self.assertEqual(sorted(len(rs) for rs in others), [1] * 12)
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master_log, r"Mini-batch \d+ \(attempt 1 on node 0\) has run [\d.]+ s, "
                                     r"more than straggler_factor 2 × the median [\d.]+ s of \d+ "
                                     r"finished attempts: attempt 2 starts on node 0")
        self.assertRegex(master_log, r"Mini-batch \d+: attempt 2 succeeded first; stopping "
                                     r"attempt 1 on node 0\.")
        self.assertIn("straggler: mini-batch", run.stderr)

        # Resume replays the journal, the stopped attempt included: only the
        # failed mini-batch runs again, and slow.txt is still counted once.
        self.env["E2E_BAD_FAILS"] = "0"
        again = self.run_parallelrun("resume", self.job_dir, "--rerun-failed", "--progress",
                                     "none", env=self.env, timeout=DEADLINE)
        self.assertExit(again, 0)
        self.check_once()

    def test_the_setting_is_checked(self):
        run = self.run_straggler_job("0.5")
        self.assertExit(run, 2)
        self.assertIn("straggler_factor", run.stderr)
        self.assertIn("give 0 (off) or a factor from 1 to 1000", run.stderr)


class TwoNodeStragglerTest(mn.MultiNodeBase):
    """Two loopback nodes, one worker each, separate job dirs: the second
    attempt cannot queue behind the first on its node, so it runs on the other
    node; the CANCEL crosses the link, and the rows come over it."""

    def test_the_second_attempt_runs_on_the_other_node(self):
        self.write("straggler_entry.py", ENTRY)
        spec = self.component_spec(entry="straggler_entry.py")
        data = self.tmp / "sdata"
        self.make_files(data, FILES)
        port = mn.free_port()
        env = self.env(mode="free", PARALLELRUN_TOKEN="straggler-e2e-token",
                       E2E_MARKER=str(self.tmp / "slow-started"), E2E_BAD_FAILS="0")

        def args(rank):
            return ["run", str(spec), "-i", "data=%s" % data,
                    "-o", "out=%s" % (self.tmp / ("sout%d" % rank)),
                    "--mini-batch-size", "1", "--process-count-per-node", "1",
                    "--progress", "plain", "--output_action", "append_row",
                    "--run_invocation_timeout", "1000",
                    "--job-dir", str(self.tmp / ("sjob%d" % rank))]

        nodes = [self.start_torchrun_node(rank, port, env, args(rank), world=2)
                 for rank in range(2)]
        self.job_dir = self.tmp / "sjob0"
        for node in nodes:
            self.assertExits(node, 0, timeout=DEADLINE)
        lines = (self.tmp / "sout0" / "parallel_run_step.txt").read_text().split("\n")
        self.assertEqual(sorted(l for l in lines if l), sorted(FILES))
        rows = self.mini_batch_rows(self.job_dir)
        slow = sorted((int(r["Picked Count"]), r["Status"], int(r["Node"])) for r in rows
                      if "slow.txt" in r["Mini-batch Detail"])
        self.assertEqual([(a, s) for a, s, n in slow], [(1, "INTERRUPTED"), (2, "RUN_DONE")],
                         rows)
        self.assertNotEqual(slow[0][2], slow[1][2], "both attempts ran on one node")
        self.assertEqual(sorted(r["Status"] for r in rows if "slow.txt" not in
                                r["Mini-batch Detail"]), ["RUN_DONE"] * (len(FILES) - 1))


if __name__ == "__main__":
    unittest.main()
