"""End-to-end tests of master failover (issue 12 item 6, lib/job/failover.h):
kill -9 the master of a 3-node loopback job and the next rank takes the
master role from the journal, the other agent reconnects, and the job ends
exactly as a clean run does — the same append_row output, byte for byte, and
every mini-batch done once in processed_mini-batches.csv — with one
logs/sys/master_role.<n>.txt per round.

The moments of the kills are random, from a seed printed on stderr
("failover seed N"); E2E_FAILOVER_SEED=N repeats them. A moment is a count
of mini-batches the entry script has run (a file per worker, a line per
mini-batch), never a time: the test waits for it with a deadline.
"""

import collections
import os
import random
import re
import signal
import sys
import time

import helpers
from test_multinode import MultiNodeBase, free_port

# Each run() sleeps E2E_SLEEP seconds (so that the kills land while workers
# run), appends a line to <gate>/ran_<node>_<pid>.txt, and returns one row
# per file: its name and its content.
ENTRY = r'''
import os
import time

GATE = os.environ["E2E_GATE_DIR"]
SLEEP = float(os.environ.get("E2E_SLEEP", "0.05"))
NODE = os.environ.get("PARALLELRUN_NODE_RANK", "0")
record = None


def init():
    global record
    record = open(os.path.join(GATE, "ran_%s_%d.txt" % (NODE, os.getpid())), "a")


def run(mini_batch):
    time.sleep(SLEEP)
    rows = []
    for path in mini_batch:
        with open(path) as f:
            rows.append("%s %s" % (os.path.basename(path), f.read().strip()))
    record.write("%d\n" % len(rows))
    record.flush()
    return rows
'''

FILES = 48
SEED = int(os.environ.get("E2E_FAILOVER_SEED", str(random.SystemRandom().randrange(1 << 30))))
COLUMNS = ("Mini-batch Id", "Picked Count", "Total", "Succeeded", "Failed", "Status",
           "Mini-batch Detail")


class FailoverBase(MultiNodeBase):
    """A job of 3 loopback nodes whose master is killed with SIGKILL."""

    def setUp(self):
        super().setUp()
        self.data = self.tmp / "fdata"
        for i in range(FILES):
            self.write("fdata/f%02d.txt" % i, "item %d\n" % i)
        self.write("failover_entry.py", ENTRY)
        self.spec = self.component_spec(entry="failover_entry.py", relative="failover.yaml")
        self.random = random.Random(SEED)
        sys.stderr.write("failover seed %d (E2E_FAILOVER_SEED=%d repeats it)\n" % (SEED, SEED))

    def job_args(self, name):
        """`run` arguments of a job named `name`: its job dir, output and gate."""
        self.out = self.tmp / ("out_" + name)
        self.gate = self.tmp / ("gate_" + name)
        self.gate.mkdir()
        return self.run_args(name, "--output_action", "append_row", "--append_row_file_name",
                             "result.txt")

    def clean_run(self):
        """A one-node run of the same job: (output bytes, CSV rows as COLUMNS)."""
        args = self.job_args("clean")
        run = self.run_parallelrun(*args, env=dict(self.env(), E2E_SLEEP="0"))
        self.assertExit(run, 0)
        return (self.out / "result.txt").read_bytes(), self.rows(self.job_dir)

    def rows(self, job_dir):
        return sorted(tuple(r[c] for c in COLUMNS) for r in self.mini_batch_rows(job_dir))

    def ran(self):
        """Mini-batches the entry script has run so far, on every node."""
        total = 0
        for path in self.gate.glob("ran_*.txt"):
            total += path.read_text().count("\n")
        return total

    def start_job(self, name, sleep="0.05", token="failover-e2e-token", **env):
        """3 nodes of job `name`; with `token` None the master writes one into
        the job dir and the agents read it there."""
        port = free_port()
        args = self.job_args(name)
        environment = self.env(E2E_SLEEP=sleep, **env)
        if token is not None:
            environment["PARALLELRUN_TOKEN"] = token
        return [self.start_torchrun_node(rank, port, environment, args) for rank in range(3)]

    def master_log(self, round_):
        path = self.logs() / "sys" / ("master_role.%d.txt" % round_)
        return path.read_text(errors="replace") if path.exists() else ""

    def describe(self):
        text = super().describe()
        for n in (1, 2):
            log = self.master_log(n) if hasattr(self, "job_dir") else ""
            if log:
                text += "\n--- master_role.%d.txt (end):\n%s" % (n, log[-4000:])
        return text

    def wait_joined(self, nodes):
        """Both agents have joined the first master."""
        self.wait_until(lambda: all("Node %d connected" % n in self.master_log(0) for n in (1, 2)),
                        "nodes 1 and 2 joining", alive=nodes, describe=self.describe)

    def kill_at(self, node, moment, alive):
        """SIGKILLs `node` once the entry script has run `moment` mini-batches."""
        self.wait_until(lambda: self.ran() >= moment, "%d mini-batches run" % moment,
                        alive=alive, describe=self.describe)
        self.assertIsNone(node.poll(), "the node ended before its kill\n" + self.describe())
        os.kill(node.proc.pid, signal.SIGKILL)
        self.assertExits(node, -signal.SIGKILL)

    def check_like_clean(self, clean, rounds):
        """The job ended as the clean run: output, attempts, result; one master
        log per round, each later one saying who took the role and why."""
        output, rows = clean
        self.assertSucceededReport()
        self.assertEqual((self.out / "result.txt").read_bytes(), output,
                         "append_row output differs from a clean run's\n" + self.describe())
        self.assertEqual(self.rows(self.job_dir), rows,
                         "processed_mini-batches.csv differs from a clean run's\n"
                         + self.describe())
        ids = collections.Counter(int(r[0]) for r in rows)
        self.assertEqual(sorted(ids), list(range(FILES)))
        self.assertEqual(set(ids.values()), {1})
        for n in range(rounds + 1):
            self.assertTrue(self.master_log(n), "no master_role.%d.txt\n%s" % (n, self.describe()))
        self.assertFalse(self.master_log(rounds + 1), "one round too many")
        for n in range(1, rounds + 1):
            first = self.master_log(n).split("\n")[0]
            match = re.search(
                r"\|INFO\|\d+\|role: node %d of 3 \(master, round %d\) took the master role: "
                r"lost the master \(node (\d), 127\.0\.0\.1:\d+, round (\d)\): .*; the job "
                r"dir's lock was free, so that master's process had ended$" % (n, n), first)
            self.assertTrue(match, first)
            # The master this node lost: the last round's, or an earlier one
            # when the last died before this node reached it.
            self.assertLess(int(match.group(1)), n, first)
            self.assertLess(int(match.group(2)), n, first)
        # The last master replayed the journal (an earlier one may have died first).
        self.assertIn("resuming: ", self.master_log(rounds))
        self.assertIn("Job succeeded", (self.logs() / "job_result.txt").read_text())



class FailoverTest(FailoverBase):
    """3 nodes on loopback with a shared job dir."""

    def test_master_killed_at_random_moments(self):
        clean = self.clean_run()
        for i in range(3):
            moment = self.random.randrange(0, FILES - 1)  # from before any result to the end
            sys.stderr.write("job %d: kill -9 the master after %d mini-batches\n" % (i, moment))
            # The last job's secret is the token the master wrote into the job
            # dir: the heir and the agent still share it after the failover.
            nodes = self.start_job("job%d" % i, token=None if i == 2 else "failover-e2e-token")
            self.wait_joined(nodes)
            self.kill_at(nodes[0], moment, alive=nodes)
            self.assertExits(nodes[1], 0)
            self.assertExits(nodes[2], 0)
            self.check_like_clean(clean, rounds=1)
            out1 = nodes[1].stdout + nodes[1].stderr
            self.assertRegex(out1, r"node 1: took the master role \(round 1\) from "
                                   r"127\.0\.0\.1:\d+; listening on 127\.0\.0\.1:\d+\n")
            self.assertIn("job succeeded; job dir %s" % self.job_dir, out1)
            out2 = nodes[2].stdout + nodes[2].stderr
            self.assertIn("node 2: connecting to the master at 127.0.0.1:", out2)
            self.assertIn("job succeeded (reported by the master)", out2)
            if i == 2:
                self.assertIn("job secret from %s" % (self.job_dir / ".parallelrun" / "token"),
                              self.master_log(1))
            address = (self.job_dir / ".parallelrun" / "master").read_text()
            self.assertRegex(address, r"^round=1 node=1 host=127\.0\.0\.1 port=\d+ pid=%d "
                                      r"hostname=\S+\n$" % nodes[1].proc.pid)

    def test_second_failover(self):
        clean = self.clean_run()
        nodes = self.start_job("twice", sleep="0.1")
        self.wait_joined(nodes)
        first = self.random.randrange(1, FILES // 3)
        sys.stderr.write("kill -9 the master after %d mini-batches\n" % first)
        self.kill_at(nodes[0], first, alive=nodes)
        address = self.job_dir / ".parallelrun" / "master"
        self.wait_until(lambda: address.exists() and "Node 2 connected" in self.master_log(1),
                        "node 2 joining node 1", alive=nodes[1:], describe=self.describe)
        second = self.ran() + self.random.randrange(1, 6)
        sys.stderr.write("kill -9 the next master after %d mini-batches\n" % second)
        self.kill_at(nodes[1], second, alive=nodes[1:])
        self.assertExits(nodes[2], 0)
        self.check_like_clean(clean, rounds=2)
        self.assertTrue(address.read_text().startswith("round=2 node=2 "), address.read_text())

    def test_the_heir_killed_while_it_takes_over(self):
        clean = self.clean_run()
        nodes = self.start_job("heir", sleep="0.1")
        self.wait_joined(nodes)
        self.kill_at(nodes[0], self.random.randrange(0, FILES // 2), alive=nodes)
        # Node 1 has begun its round (its log exists) but may not listen yet.
        self.wait_until(lambda: self.master_log(1), "master_role.1.txt", alive=nodes[1:],
                        describe=self.describe)
        os.kill(nodes[1].proc.pid, signal.SIGKILL)
        self.assertExits(nodes[1], -signal.SIGKILL)
        self.assertExits(nodes[2], 0)
        self.check_like_clean(clean, rounds=2)

    def test_an_agent_that_starts_after_a_failover_finds_the_new_master(self):
        clean = self.clean_run()
        port = free_port()
        args = self.job_args("late")
        environment = self.env(PARALLELRUN_TOKEN="failover-e2e-token", E2E_SLEEP="0.2")
        nodes = [self.start_torchrun_node(rank, port, environment, args) for rank in (0, 1)]
        self.wait_until(lambda: "Node 1 connected" in self.master_log(0), "node 1 joining",
                        alive=nodes, describe=self.describe)
        self.kill_at(nodes[0], self.random.randrange(1, 6), alive=nodes)
        address = self.job_dir / ".parallelrun" / "master"
        self.wait_until(address.exists, "the new master's address", alive=nodes[1:],
                        describe=self.describe)
        # Node 2 comes up late, told an address where nobody listens (as the
        # launcher's would be on a cluster, the old master's machine gone):
        # only the job dir can tell it where the master is now.
        nodes.append(self.start_torchrun_node(2, free_port(), environment, args))
        self.assertExits(nodes[1], 0)
        self.assertExits(nodes[2], 0)
        self.check_like_clean(clean, rounds=1)
        self.assertIn("Node 2 connected", self.master_log(1))
        new_port = int(address.read_text().split(" port=")[1].split(" ")[0])
        self.assertIn("node 2: connecting to the master at 127.0.0.1:%d\n" % new_port,
                      nodes[2].stderr)
        self.assertRegex(self.first_log_line(self.job_dir, 2),
                         r"; the job's master is node 1 at 127\.0\.0\.1:%d \(round 1, from "
                         r"\.parallelrun/master\)$" % new_port)

    def test_an_agent_still_dialling_a_dead_master_finds_the_new_master(self):
        clean = self.clean_run()
        port = free_port()
        args = self.job_args("dialling")
        environment = self.env(PARALLELRUN_TOKEN="failover-e2e-token", E2E_SLEEP="0.2")
        nodes = [self.start_torchrun_node(rank, port, environment, args) for rank in (0, 1)]
        # Node 2 keeps dialling an address where nobody listens (a master
        # that died before it could be reached), from before the failover.
        nodes.append(self.start_torchrun_node(2, free_port(), environment, args))
        self.wait_until(lambda: "Node 1 connected" in self.master_log(0)
                        and "node 2: connecting to the master" in nodes[2].stderr,
                        "node 1 joining, node 2 dialling", alive=nodes, describe=self.describe)
        self.kill_at(nodes[0], self.random.randrange(1, 6), alive=nodes)
        self.assertExits(nodes[1], 0)
        self.assertExits(nodes[2], 0)
        self.check_like_clean(clean, rounds=1)
        self.assertIn("Node 2 connected", self.master_log(1))
        self.assertRegex(nodes[2].stderr, r"node 2: lost the master \(node 0, 127\.0\.0\.1:\d+, "
                                          r"round 0\): the master at 127\.0\.0\.1:\d+ was "
                                          r"gone before this node reached it; waiting for a "
                                          r"node to take the master role\n")

    def test_failover_off_stops_the_agents(self):
        nodes = self.start_job("off", PARALLELRUN_FAILOVER="0")
        self.wait_joined(nodes)
        self.kill_at(nodes[0], 1, alive=nodes)
        for node in nodes[1:]:
            self.assertExits(node, 3)
            self.assertIn("parallelrun: to continue: parallelrun resume %s on the master's node "
                          "(127.0.0.1), with the agents started again as before\n"
                          % self.job_dir, node.stderr)
        self.assertFalse(self.master_log(1), "a node took the master role")

    def test_a_bad_failover_setting_is_refused(self):
        run = self.run_parallelrun(*self.job_args("bad"), env={"PARALLELRUN_FAILOVER": "maybe"})
        self.assertUsageError(run, "PARALLELRUN_FAILOVER='maybe' is not valid: give 1 or on (the "
                                   "default: another node takes the master role when the "
                                   "master's process dies), or 0 or off")


class NoSharedStorageFailoverTest(FailoverBase):
    """3 nodes on loopback, each with a job dir and an output folder of its
    own, as on machines without shared storage: the master streams its
    journal and accepted rows to a standby (the lowest-ranked agent), which
    takes over when the master is killed; its job dir then holds the job's
    complete report and output."""

    def own_args(self, name, rank):
        """`run` arguments of node `rank` of job `name`: its own job dir and output."""
        return self.run_args(None, "--output_action", "append_row", "--append_row_file_name",
                             "result.txt", "--job-dir", str(self.own_dir(name, rank)))

    def own_dir(self, name, rank):
        return self.tmp / ("%s_job%d" % (name, rank))

    def own_out(self, name, rank):
        return self.tmp / ("%s_out%d" % (name, rank))

    def start_own(self, name, ranks=(0, 1, 2), **env):
        port = free_port()
        self.gate = self.tmp / ("gate_" + name)
        self.gate.mkdir(exist_ok=True)
        environment = self.env(E2E_SLEEP=env.pop("sleep", "0.05"),
                               PARALLELRUN_TOKEN="no-shared-failover-token", **env)
        nodes = []
        for rank in ranks:
            args = self.own_args(name, rank)
            args[args.index("out=%s" % self.out)] = "out=%s" % self.own_out(name, rank)
            nodes.append(self.start_torchrun_node(rank, port, environment, args))
        self.job_dir = self.own_dir(name, 0)
        return nodes

    def log_of(self, name, rank, round_):
        path = self.own_dir(name, rank) / "logs" / "sys" / ("master_role.%d.txt" % round_)
        return path.read_text(errors="replace") if path.exists() else ""

    def node_log(self, name, rank):
        path = self.own_dir(name, rank) / "logs" / "sys" / "node" / str(rank) / "_main.txt"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_standby(self, name, node, nodes, round_=0, master=0, agents=()):
        """Node `node` stands by for the master of `round_` (node `master`),
        and the agents `agents` have heard it (an agent that never reached
        the master cannot learn where the standby is: no shared job dir)."""
        self.wait_until(
            lambda: re.search(r"Node %d \(\S+\) is the standby: it keeps a copy of the journal "
                              r"and of the accepted append_row rows in its own job dir and takes "
                              r"the master role, listening on 127\.0\.0\.1:\d+" % node,
                              self.log_of(name, master, round_))
            and all("the standby is node %d:" % node in self.node_log(name, a) for a in agents),
            "node %d standing by" % node, alive=nodes, describe=self.describe)

    def check_heir(self, clean, name, heir, round_, others=()):
        """Node `heir`'s job dir and output hold the job as a clean run does."""
        output, rows = clean
        job = self.own_dir(name, heir)
        self.job_dir = job
        self.assertSucceededReport(job)
        self.assertEqual((self.own_out(name, heir) / "result.txt").read_bytes(), output,
                         "append_row output differs from a clean run's\n" + self.describe())
        self.assertEqual(self.rows(job), rows,
                         "processed_mini-batches.csv differs from a clean run's\n"
                         + self.describe())
        first = self.log_of(name, heir, round_).split("\n")[0]
        self.assertRegex(first, r"\|INFO\|\d+\|role: node %d of 3 \(master, round %d\) took "
                                r"the master role: lost the master \(node \d, 127\.0\.0\.1:"
                                r"\d+, round %d\): .*; this node was the standby, with a copy "
                                r"of that master's journal \(the nodes share no job dir\), so "
                                r"it takes over$" % (heir, round_, round_ - 1))
        self.assertIn("resuming: ", self.log_of(name, heir, round_))
        self.assertIn("Job succeeded", (job / "logs" / "job_result.txt").read_text())
        # The copy was moved into place: nothing is left in .parallelrun/standby.
        self.assertFalse((job / ".parallelrun" / "standby").exists())
        for rank in others:
            self.assertFalse((self.own_out(name, rank) / "result.txt").exists())
            self.assertFalse((self.own_dir(name, rank) / ".parallelrun" / "standby").exists(),
                             "node %d kept a copy after the job ended" % rank)

    def test_the_standby_takes_over_at_random_moments(self):
        clean = self.clean_run()
        for i in range(2):
            name = "own%d" % i
            nodes = self.start_own(name)
            self.wait_standby(name, 1, nodes, agents=(2,))
            moment = self.random.randrange(0, FILES - 1)
            sys.stderr.write("job %d: kill -9 the master after %d mini-batches\n" % (i, moment))
            self.kill_at(nodes[0], moment, alive=nodes)
            self.assertExits(nodes[1], 0)
            self.assertExits(nodes[2], 0)
            self.check_heir(clean, name, 1, 1, others=(2,))
            self.assertRegex(nodes[1].stderr, r"node 1: lost the master \(node 0, 127\.0\.0\.1:"
                                              r"\d+, round 0\): .*; this node is the standby: "
                                              r"taking the master role\n")
            self.assertIn("node 2: connecting to the master at 127.0.0.1:", nodes[2].stderr)
            self.assertRegex(nodes[2].stderr, r"the standby, node 1, takes over\n")
            self.assertIn("job succeeded (reported by the master)", nodes[2].stderr)

    def test_second_failover_and_a_lost_standby(self):
        """The standby is killed first (node 2 stands by instead); then the
        master (node 2 takes over); node 1 joins node 2's round... and the
        job ends there."""
        clean = self.clean_run()
        name = "twice"
        nodes = self.start_own(name, sleep="0.1")
        self.wait_standby(name, 1, nodes, agents=(2,))
        self.kill_at(nodes[1], self.random.randrange(1, FILES // 4), alive=nodes)
        self.wait_standby(name, 2, [nodes[0], nodes[2]])
        self.assertIn("Node 1 (", self.log_of(name, 0, 0))
        self.assertRegex(self.log_of(name, 0, 0), r"Node 1 \(\S+\) is no longer the standby: its "
                                                  r"node was lost\.")
        self.kill_at(nodes[0], self.ran() + self.random.randrange(1, 6),
                     alive=[nodes[0], nodes[2]])
        self.assertExits(nodes[2], 0)
        self.check_heir(clean, name, 2, 1)

    def test_standby_chain_two_rounds(self):
        clean = self.clean_run()
        name = "chain"
        nodes = self.start_own(name, sleep="0.1")
        self.wait_standby(name, 1, nodes, agents=(2,))
        self.kill_at(nodes[0], self.random.randrange(1, FILES // 3), alive=nodes)
        # Node 1 is master now; node 2 joins it and stands by for it.
        self.wait_standby(name, 2, nodes[1:], round_=1, master=1)
        self.kill_at(nodes[1], self.ran() + self.random.randrange(1, 6), alive=nodes[1:])
        self.assertExits(nodes[2], 0)
        self.check_heir(clean, name, 2, 2)

    def test_master_and_standby_lost_together_stop_the_job(self):
        name = "both"
        nodes = self.start_own(name, sleep="0.2", PARALLELRUN_CONNECT_TIMEOUT="3")
        self.wait_standby(name, 1, nodes, agents=(2,))
        self.wait_until(lambda: self.ran() >= 1, "a mini-batch run", alive=nodes,
                        describe=self.describe)
        # The master first, so that it cannot name another standby; the
        # standby right after, before it can listen.
        os.kill(nodes[0].proc.pid, signal.SIGKILL)
        os.kill(nodes[1].proc.pid, signal.SIGKILL)
        self.assertExits(nodes[0], -signal.SIGKILL)
        self.assertExits(nodes[1], -signal.SIGKILL)
        self.assertExits(nodes[2], 3)
        # Node 2 knew the standby and dialled it, until the connect timeout.
        self.assertRegex(nodes[2].stderr, r"node 2: lost the master \(node 0, 127\.0\.0\.1:\d+, "
                                          r"round 0\): .*; the standby, node 1, takes over\n")
        self.assertRegex(nodes[2].stderr, r"cannot reach the master at 127\.0\.0\.1:\d+")

    def test_failover_off_without_shared_storage_stops_the_agents(self):
        name = "off"
        nodes = self.start_own(name, PARALLELRUN_FAILOVER="0")
        self.wait_until(lambda: all("Node %d connected" % n in self.log_of(name, 0, 0)
                                    for n in (1, 2)),
                        "nodes 1 and 2 joining", alive=nodes, describe=self.describe)
        self.kill_at(nodes[0], 1, alive=nodes)
        for rank in (1, 2):
            self.assertExits(nodes[rank], 3)
            self.assertIn("parallelrun: to continue: parallelrun resume %s on the master's node "
                          "(127.0.0.1), with the agents started again as before\n"
                          % self.own_dir(name, rank), nodes[rank].stderr)
        self.assertNotIn("is the standby", self.log_of(name, 0, 0))


if __name__ == "__main__":
    import unittest
    unittest.main()
