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
import re
import sys
import unittest

import test_failover
import test_multinode as mn
import test_netns


class SeparateJobDirsTest(test_netns.Namespaces, mn.MultiNodeBase):

    def node_args(self, rank):
        """The run arguments of node `rank`: its own job dir and output folder."""
        return self.own_node_args(rank, "")

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
        nodes = self.start_in_namespaces(namespaces, env, self.node_args)
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
        # The terminal of the master's node says it too.
        self.assertIn("User logs stay on the node that ran them:", nodes[0].stderr)
        for rank in (1, 2):
            self.assertIn("): %s/logs/user on that node" % (self.tmp / ("job%d" % rank)),
                          nodes[0].stderr)
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


# Rows of several MiB per mini-batch: a part crosses the link in many chunks.
BIG_ENTRY = r'''
import os
import time

NODE = os.environ.get("PARALLELRUN_NODE_RANK", "0")
GATE = os.environ["E2E_GATE_DIR"]
NODES = int(os.environ["E2E_NODES"])


def init():
    pass


def run(mini_batch):
    # Every node runs one before any finishes: each node's rows cross the link.
    open(os.path.join(GATE, "big_started_" + NODE), "w").close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
            os.path.exists(os.path.join(GATE, "big_started_%d" % n)) for n in range(NODES)):
        time.sleep(0.01)
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        size = int(name.split("_")[1].split(".")[0])
        rows.append(name + ":" + (name[0] * size))
    return rows
'''


class BigRowsTest(mn.MultiNodeBase):
    """Loopback nodes with separate job dirs and rows larger than a chunk."""

    def test_rows_of_many_chunks_arrive_whole_and_in_order(self):
        self.write("big_entry.py", BIG_ENTRY)
        spec = self.component_spec(entry="big_entry.py")
        data = self.tmp / "big"
        # 0 bytes, less than a chunk, exactly around a chunk (1 MiB), several.
        sizes = [0, 10, (1 << 20) - 40, (1 << 20), 3 * (1 << 20) + 7, 5 * (1 << 20)]
        self.make_files(data, ["%s_%d.txt" % ("abcdef"[i], n) for i, n in enumerate(sizes)])

        def args(rank):
            return ["run", str(spec), "-i", "data=%s" % data,
                    "-o", "out=%s" % (self.tmp / ("bout%d" % rank)),
                    "--mini-batch-size", "1", "--process-count-per-node", "1",
                    "--progress", "plain", "--output_action", "append_row",
                    "--job-dir", str(self.tmp / ("bjob%d" % rank))]

        single = self.start("single", [self.parallelrun] + args(9),
                            self.env(mode="free", nodes=1))
        self.assertExits(single, 0)
        expected = (self.tmp / "bout9" / "parallel_run_step.txt").read_bytes()
        self.assertGreater(len(expected), 9 * (1 << 20))
        port = mn.free_port()
        env = self.env(mode="free", PARALLELRUN_TOKEN="big-rows-e2e-token")
        nodes = [self.start_torchrun_node(rank, port, env, args(rank)) for rank in range(3)]
        self.job_dir = self.tmp / "bjob0"
        for node in nodes:
            self.assertExits(node, 0)
        self.assertEqual((self.tmp / "bout0" / "parallel_run_step.txt").read_bytes(), expected)
        rows = self.mini_batch_rows(self.job_dir)
        self.assertEqual(sorted(r["Status"] for r in rows), ["RUN_DONE"] * len(sizes))
        self.assertEqual({int(r["Node"]) for r in rows}, {0, 1, 2}, self.describe())
        for rank in (1, 2):
            parts = self.tmp / ("bjob%d" % rank) / "append_row"
            self.assertEqual(list(parts.iterdir()) if parts.exists() else [], [])


class NetnsStandbyFailoverTest(test_netns.Namespaces, test_failover.FailoverBase):
    """Failover without shared storage across three network namespaces: each
    node its own address, job dir and output folder. Node 1 stands by with
    a copy of the master's journal and rows; when the master is killed it
    takes over on its own address and, as its namespace has the port free,
    on the job's master port; node 2 reconnects there."""

    def node_args(self, rank):
        return self.own_node_args(rank, "n", "--append_row_file_name", "result.txt")

    def node_log(self, rank):
        path = self.tmp / ("njob%d" % rank) / "logs" / "sys" / "node" / str(rank) / "_main.txt"
        return path.read_text(errors="replace") if path.exists() else ""

    def test_the_standby_takes_over_in_its_own_namespace(self):
        namespaces = self.make_network(3)
        clean = self.clean_run()
        self.gate = self.tmp / "gate_netns"
        self.gate.mkdir()
        env = self.env(E2E_SLEEP="0.05", PARALLELRUN_TOKEN="netns-failover-e2e-token",
                       PARALLELRUN_NODE_COUNT="3",
                       PARALLELRUN_MASTER_ADDR="%s.1" % test_netns.SUBNET)
        nodes = self.start_in_namespaces(namespaces, env, self.node_args)
        self.job_dir = self.tmp / "njob0"
        subnet = re.escape(test_netns.SUBNET)
        self.wait_until(
            lambda: re.search(r"Node 1 \(\S+\) is the standby: .* listening on %s\.2:29517, "
                              % subnet, self.master_log(0))
            and "the standby is node 1:" in self.node_log(2),
            "node 1 standing by", alive=nodes, describe=self.describe)
        moment = self.random.randrange(0, test_failover.FILES - 1)
        sys.stderr.write("kill -9 the master after %d mini-batches\n" % moment)
        self.kill_at(nodes[0], moment, alive=nodes)
        self.assertExits(nodes[1], 0)
        self.assertExits(nodes[2], 0)

        output, rows = clean
        self.job_dir = self.tmp / "njob1"
        self.assertSucceededReport(self.job_dir)
        self.assertEqual((self.tmp / "nout1" / "result.txt").read_bytes(), output,
                         "append_row output differs from a clean run's\n" + self.describe())
        self.assertEqual(self.rows(self.job_dir), rows, self.describe())
        self.assertFalse((self.tmp / "nout2" / "result.txt").exists())
        self.assertRegex(nodes[1].stderr, r"node 1: took the master role \(round 1\) from "
                                          r"%s\.1:29517; listening on %s\.2:29517\n"
                         % (subnet, subnet))
        self.assertIn("node 2: connecting to the master at %s.2:29517" % test_netns.SUBNET,
                      nodes[2].stderr)
        self.assertIn("Node 2 connected from %s.3:" % test_netns.SUBNET, self.master_log(1))


if __name__ == "__main__":
    unittest.main()
