"""End-to-end tests of who may join a multi-node job (issue 12, items 1-4;
lib/link/secret.h, lib/link/tcp_link.h): no secret is derived from launcher
variables unless asked for as insecure; a token file open to others is
refused; the master writes a token into a shared job dir and agents wait for
it; two nodes cannot claim one rank; strangers that connect and say nothing
cannot exhaust the master or keep real agents out.
"""

import os
import re
import resource
import socket
import stat
import time
import unittest

import helpers
import test_multinode as mn


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SecretTest(mn.MultiNodeBase):

    def test_no_secret_is_refused_with_how_to_make_one(self):
        port = mn.free_port()
        env = self.env(mode="free", TORCHELASTIC_RUN_ID="guessable")
        for rank in (0, 1):
            node = self.start_torchrun_node(rank, port, env, self.run_args(None))
            self.assertExits(node, 2, timeout=30)
            self.assertIn("a job on more than one node needs a secret its nodes share", node.stderr)
            self.assertIn("export PARALLELRUN_TOKEN=$(python3 -c 'import secrets; "
                          "print(secrets.token_hex(32))')", node.stderr)
            self.assertIn("--insecure-derived-secret", node.stderr)
        self.assertFalse((self.tmp / "parallelrun-jobs").exists())

    def test_derived_secret_only_when_asked_as_insecure(self):
        port = mn.free_port()
        env = self.env(mode="all", TORCHELASTIC_RUN_ID="e2e-run-7")
        args = self.run_args(None, "--insecure-derived-secret")
        nodes = [self.start_torchrun_node(rank, port, env, args) for rank in range(3)]
        for node in nodes:
            self.assertExits(node, 0)
        # The default job dir is named after the launcher's job id, not the secret.
        self.job_dir = self.tmp / "parallelrun-jobs" / "job-torchrun-e2e-run-7"
        self.assertTrue(self.job_dir.is_dir(), self.describe())
        self.check_job()
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master_log, r"WARNING\|\d+\|job secret derived from "
                                     r"TORCHELASTIC_RUN_ID=e2e-run-7 \(insecure")

    def test_master_writes_a_token_into_the_shared_job_dir(self):
        port = mn.free_port()
        env = self.env(mode="all")
        args = self.run_args("shared")
        # The agents start first: they wait for the master's token.
        agents = [self.start_torchrun_node(rank, port, env, args) for rank in (1, 2)]
        self.wait_until(lambda: all("waiting for the master to write the job's token" in a.stderr
                                    for a in agents), "agents waiting", timeout=30,
                        describe=self.describe)
        master = self.start_torchrun_node(0, port, env, args)
        for node in [master] + agents:
            self.assertExits(node, 0)
        self.check_job()
        token = self.job_dir / ".parallelrun" / "token"
        self.assertEqual(stat.S_IMODE(token.stat().st_mode), 0o600)
        self.assertRegex(token.read_text(), r"^[0-9a-f]{64}\n$")
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("job secret generated into %s (mode 0600)" % token, master_log)

    def test_token_file_open_to_others_is_refused(self):
        token = self.tmp / "token"
        token.write_text("0123456789abcdef\n")
        token.chmod(0o644)
        port = mn.free_port()
        node = self.start_torchrun_node(0, port, self.env(mode="free"),
                                        self.run_args("job", "--token-file", str(token)))
        self.assertExits(node, 2, timeout=30)
        self.assertIn("token file %s: its group or others may read or write it (mode 0644), so "
                      "they could join the job; run chmod 600 %s" % (token, token), node.stderr)
        token.chmod(0o600)
        env = self.env(mode="all", PARALLELRUN_TOKEN_FILE=str(token))
        nodes = [self.start_torchrun_node(rank, port, env, self.run_args("job2"))
                 for rank in range(3)]
        for n in nodes:
            self.assertExits(n, 0)
        self.check_job()


class RankTest(mn.MultiNodeBase):

    def test_two_nodes_with_one_rank(self):
        port = mn.free_port()
        env = self.env(mode="go", PARALLELRUN_TOKEN="rank-e2e-token")
        args = self.run_args()
        good = [self.start_torchrun_node(rank, port, env, args) for rank in (0, 1)]
        master_log = self.job_dir / "logs" / "sys" / "master_role.0.txt"
        self.wait_until(
            lambda: master_log.exists() and "Node 1 connected from" in master_log.read_text(),
            "join of node 1", timeout=mn.DEADLINE, alive=good, describe=self.describe)
        twin = self.start("twin1", [self.parallelrun] + args,
                          {k: str(v) for k, v in dict(env, RANK=1, WORLD_SIZE=3,
                                                      MASTER_ADDR="127.0.0.1",
                                                      MASTER_PORT=port).items()})
        self.assertExits(twin, 2)
        self.assertRegex(twin.stderr, r"refused this agent: node rank 1 has already joined from "
                                      r"127\.0\.0\.1:\d+ \(\S+\); two nodes claim one rank")
        self.assertRegex(master_log.read_text(), r"\|refused 127\.0\.0\.1:\d+: node rank 1 has "
                                                 r"already joined from")
        (self.gate / "go").touch()
        for node in good:
            self.assertExits(node, 0)
        self.check_job(nodes=(0, 1), working=sorted(
            {int(r["Node"]) for r in self.mini_batch_rows()}))


class StrangerTest(mn.MultiNodeBase):

    def test_stalled_strangers_neither_exhaust_the_master_nor_keep_agents_out(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1200
        if hard != resource.RLIM_INFINITY and hard < want + 100:
            self.skipTest("SKIPPED: the descriptor limit (%d) is too low to open %d connections"
                          % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want + 100), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        port = mn.free_port()
        env = self.env(mode="go", PARALLELRUN_TOKEN="stranger-e2e-token")
        args = self.run_args()
        master = self.start_torchrun_node(0, port, env, args)
        master_log = self.job_dir / "logs" / "sys" / "master_role.0.txt"
        self.wait_until(lambda: master_log.exists() and "Listening for" in master_log.read_text(),
                        "the master listening", timeout=30, alive=[master],
                        describe=self.describe)
        before = rss_kib(master.proc.pid)
        strangers = []
        self.addCleanup(lambda: [s.close() for s in strangers])
        for i in range(want):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            # Most of a greeting-sized frame (under the 64 KiB allowed before
            # the handshake): the master holds what it got, waiting for the rest.
            try:
                s.send(b"\x00\xf0\x00\x00" + b"x" * 60000)
            except OSError:
                pass
            strangers.append(s)
        # Real agents join while the strangers hold their connections.
        agents = [self.start_torchrun_node(rank, port, env, args) for rank in (1, 2)]
        self.wait_until(
            lambda: all("Node %d connected from" % r in master_log.read_text() for r in (1, 2)),
            "agents joining past %d strangers" % want, timeout=mn.DEADLINE,
            alive=[master] + agents, describe=self.describe)
        grown = rss_kib(master.proc.pid) - before
        # 1,200 strangers with 60 KB each held ~150 MB before the cap. Now at
        # most max_handshaking (128) of them: under 10 MB.
        self.assertLess(grown, 40 * 1024, "master RSS grew by %d KiB" % grown)
        (self.gate / "go").touch()
        for node in [master] + agents:
            self.assertExits(node, 0)
        # Node 0's workers held leases while the gate was shut: who ran what varies.
        self.check_job(working=sorted({int(r["Node"]) for r in self.mini_batch_rows()}))
        log = master_log.read_text()
        refused = len(re.findall(r"\|(refused|closed) 127\.0\.0\.1:\d+", log))
        self.assertGreater(refused, 0)
        # Rate-limited: 20 lines per 10 s window, then one line counting the rest.
        self.assertLessEqual(refused, 20 * (1 + int(time.monotonic() - master.started) // 10),
                             log[-3000:])


if __name__ == "__main__":
    unittest.main()
