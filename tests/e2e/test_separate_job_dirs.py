"""End-to-end test of a multi-node job whose nodes share no storage (issue 12,
item 7; lib/link/link.h JobDir/NodeDir/Rows): three network namespaces, as
test_netns.py makes them, and three separate job dirs and output folders, one
per node. The agents find the master's job-dir id missing from their own job
dir, so their results and append_row rows travel over the link: the master's
job dir holds the complete report and the append_row output, byte for byte
what a one-node run of the same job writes; each node's user logs stay in its
own job dir, and job_result.txt says where.

Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's `ip`; skipped
with the reason otherwise. Addresses exist only inside the namespaces the test
creates (test_netns.SUBNET), and the namespaces are deleted at the end.
"""

import collections
import json
import unittest

import test_multinode as mn
import test_netns


class SeparateJobDirsTest(mn.MultiNodeBase):

    ip = test_netns.NetnsTest.ip
    must = test_netns.NetnsTest.must
    make_network = test_netns.NetnsTest.make_network

    def node_args(self, rank):
        """The run arguments of node `rank`: its own job dir and output folder."""
        return ["run", str(self.spec), "-i", "data=%s" % self.data,
                "-o", "out=%s" % (self.tmp / ("out%d" % rank)),
                "--mini-batch-size", "1", "--process-count-per-node", "2", "--progress", "plain",
                "--output_action", "append_row", "--job-dir", str(self.tmp / ("job%d" % rank))]

    def test_master_job_dir_holds_everything_without_shared_storage(self):
        namespaces = self.make_network(3)
        # A one-node run of the same job: what the output must be.
        single = self.start("single", [self.parallelrun] + self.node_args(9),
                            self.env(mode="free"))
        self.assertExits(single, 0)
        expected = (self.tmp / "out9" / "parallel_run_step.txt").read_bytes()
        self.assertEqual(len(expected.splitlines()), mn.FILES)

        env = self.env(mode="all", PARALLELRUN_TOKEN="separate-dirs-e2e-token",
                       PARALLELRUN_NODE_COUNT="3",
                       PARALLELRUN_MASTER_ADDR="%s.1" % test_netns.SUBNET)
        nodes = []
        for rank, ns in enumerate(namespaces):
            nodes.append(self.start(
                "node%d" % rank, [self.ip_path, "netns", "exec", ns, self.parallelrun] +
                self.node_args(rank), dict(env, PARALLELRUN_NODE_RANK=str(rank))))
        self.job_dir = self.tmp / "job0"
        for node in nodes:
            self.assertExits(node, 0)

        # The master's job dir: every mini-batch once, from all three nodes.
        self.assertSucceededReport(self.job_dir)
        rows = self.mini_batch_rows(self.job_dir)
        self.assertEqual([r for r in rows if r["Status"] != "RUN_DONE"], [])
        ids = collections.Counter(int(r["Mini-batch Id"]) for r in rows)
        self.assertEqual(sorted(ids), list(range(mn.FILES)))
        self.assertEqual(set(ids.values()), {1})
        self.assertEqual({int(r["Node"]) for r in rows}, {0, 1, 2}, self.describe())
        ran = {json.loads(r["Mini-batch Detail"])["items"][0] for r in rows}
        self.assertEqual({p.encode() for p in ran}, self.items)
        summary = self.summary_rows("node_summary.csv", self.job_dir)
        self.assertEqual(sorted(int(r["Node"]) for r in summary), [0, 1, 2])

        # The output is the one-node run's, and only the master wrote one.
        self.assertEqual((self.tmp / "out0" / "parallel_run_step.txt").read_bytes(), expected)
        for rank in (1, 2):
            self.assertFalse((self.tmp / ("out%d" % rank) / "parallel_run_step.txt").exists())
            # The rows left their node: no part is left behind.
            parts = self.tmp / ("job%d" % rank) / "append_row"
            self.assertEqual(sorted(p.name for p in parts.iterdir()) if parts.exists() else [],
                             [])
        self.assertEqual(list((self.job_dir / "append_row").glob("*"))
                         if (self.job_dir / "append_row").exists() else [], [])

        # User logs stay on each node; job_result.txt says where.
        result = (self.logs(self.job_dir) / "job_result.txt").read_text()
        self.assertIn("User logs stay on the node that ran them:\n", result)
        self.assertRegex(result, r"  node 0 \([^)]*\): logs/user \(this job dir\)\n")
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        for rank in (1, 2):
            job = self.tmp / ("job%d" % rank)
            self.assertIn("): %s/logs/user on that node\n" % job, result)
            self.assertIn("Node %d (" % rank, master_log)
            self.assertIn("has its job dir at %s, not the master's: its results and append_row "
                          "rows come over the link, its user logs stay on that node." % job,
                          master_log)
            stdout_logs = list((job / "logs" / "user" / "stdout" / str(rank)).glob("*.txt"))
            self.assertTrue(stdout_logs, "no user logs in %s" % job)
            self.assertFalse((self.job_dir / "logs" / "user" / "stdout" / str(rank)).exists())


if __name__ == "__main__":
    unittest.main()
