"""End-to-end test of a multi-node job across real separate network stacks:
three network namespaces joined by veth pairs to a bridge, each with its own
address (10.77.0.1-3/24), the master in the first listening on 10.77.0.1, the
agents in the others connecting to it — `ip netns exec nsX parallelrun run …`
with the explicit PARALLELRUN_* variables and the default master port.

Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's `ip`; skipped
with the reason where namespaces cannot be made. Addresses exist only inside
the namespaces this test creates, and every namespace is deleted at the end.
"""

import os
import shutil
import subprocess
import unittest

from test_multinode import MultiNodeBase

SUBNET = "10.77.0"


class Namespaces:
    """Network namespaces for a test of MultiNodeBase: make them, start a
    job's nodes in them."""

    def ip(self, *args):
        """Runs `ip args`; returns (exit code, output)."""
        proc = subprocess.run([self.ip_path] + list(args), capture_output=True, text=True,
                              timeout=20)
        return proc.returncode, proc.stdout + proc.stderr

    def must(self, *args):
        code, output = self.ip(*args)
        self.assertEqual(code, 0, "ip %s: %s" % (" ".join(args), output))

    def make_network(self, count):
        """Namespaces <prefix>1..count, each eth0 = SUBNET.<n>/24, on a bridge in
        a hub namespace; returns their names. Skips the test when the first
        namespace cannot be made."""
        self.ip_path = shutil.which("ip") or next(
            (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.access(p, os.X_OK)), None)
        if self.ip_path is None:
            self.skipTest("SKIPPED: iproute2's `ip` is not installed (scripts/install-deps "
                          "installs iproute2)")
        prefix = "prtest%d_" % os.getpid()
        hub = prefix + "hub"
        code, output = self.ip("netns", "add", hub)
        if code != 0:
            self.skipTest("SKIPPED: cannot create a network namespace here (needs root or "
                          "CAP_SYS_ADMIN): ip netns add: %s" % output.strip())
        self.addCleanup(self.ip, "netns", "del", hub)
        self.must("-n", hub, "link", "add", "br0", "type", "bridge")
        self.must("-n", hub, "link", "set", "br0", "up")
        names = []
        for n in range(1, count + 1):
            ns = "%s%d" % (prefix, n)
            self.must("netns", "add", ns)
            self.addCleanup(self.ip, "netns", "del", ns)
            # Both ends are created inside namespaces: nothing appears on the host.
            self.must("link", "add", "eth0", "netns", ns, "type", "veth",
                      "peer", "name", "v%d" % n, "netns", hub)
            self.must("-n", hub, "link", "set", "v%d" % n, "master", "br0")
            self.must("-n", hub, "link", "set", "v%d" % n, "up")
            self.must("-n", ns, "addr", "add", "%s.%d/24" % (SUBNET, n), "dev", "eth0")
            self.must("-n", ns, "link", "set", "eth0", "up")
            self.must("-n", ns, "link", "set", "lo", "up")
            names.append(ns)
        # Clean-ups run last first: end the nodes before their namespaces go.
        self.addCleanup(self.end_all)
        return names

    def start_in_namespaces(self, namespaces, env, args):
        """Node r of a job in namespace r (`ip netns exec`, PARALLELRUN_NODE_RANK=r),
        with the run arguments `args(r)`; returns the nodes in rank order."""
        return [self.start("node%d" % rank,
                           [self.ip_path, "netns", "exec", ns, self.parallelrun] + args(rank),
                           dict(env, PARALLELRUN_NODE_RANK=str(rank)))
                for rank, ns in enumerate(namespaces)]

    def own_node_args(self, rank, prefix, *extra):
        """`run` arguments of node `rank` with a job dir and an output folder of
        its own (<prefix>job<rank>, <prefix>out<rank>), as on machines without
        shared storage."""
        return ["run", str(self.spec), "-i", "data=%s" % self.data,
                "-o", "out=%s" % (self.tmp / ("%sout%d" % (prefix, rank))),
                "--mini-batch-size", "1", "--process-count-per-node", "2", "--progress", "plain",
                "--output_action", "append_row", "--job-dir",
                str(self.tmp / ("%sjob%d" % (prefix, rank)))] + list(extra)


class NetnsTest(Namespaces, MultiNodeBase):

    def test_three_namespaces_form_one_job(self):
        namespaces = self.make_network(3)
        env = self.env(mode="all", PARALLELRUN_TOKEN="netns-e2e-token",
                       PARALLELRUN_NODE_COUNT="3", PARALLELRUN_MASTER_ADDR="%s.1" % SUBNET)
        args = self.run_args()
        nodes = self.start_in_namespaces(namespaces, env, lambda rank: args)
        for node in nodes:
            self.assertExits(node, 0)
        self.check_job()
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        # The master listened on its namespace's address, and each agent came
        # from its own.
        self.assertIn("Listening for 2 other nodes on %s.1:29517." % SUBNET, master_log)
        for rank in (1, 2):
            self.assertRegex(master_log, r"Node %d connected from %s\.%d:\d+ \(2 slots\)\."
                             % (rank, SUBNET.replace(".", r"\."), rank + 1))
            first = self.first_log_line(self.job_dir, rank)
            self.assertTrue(first.startswith("role: node %d of 3 (agent of master %s.1:29517) "
                                             "from explicit " % (rank, SUBNET)), first)


if __name__ == "__main__":
    unittest.main()
