"""End-to-end tests of multi-node jobs: the same `parallelrun run` command started
once per node forms one job (issue 5, DESIGN.md §6, lib/role.h, lib/tcp_link.h).

Every "node" here is a parallelrun process on this machine, talking to the
master over loopback TCP: started by hand with torchrun-style variables, by
`mpirun -np 3` (Open MPI), or (test_netns.py) in separate network namespaces.
The entry script (ENTRY below) records every item it ran with its node rank,
so that each test can check that all items ran exactly once and on which
node, against processed_mini-batches.csv. Its run() can hold a mini-batch
until other nodes have reached a point (files in a gate folder), so that the
tests steer who gets work without fixed sleeps: every wait has a deadline.
"""

import collections
import json
import os
import pathlib
import shutil
import signal
import random
import socket
import subprocess
import time
import unittest

import helpers

# The test entry script. Environment:
#   E2E_GATE_DIR  folder of readiness files (written with a rename: atomic)
#   E2E_MODE      all   run() waits until every node has started a mini-batch,
#                       so that each node gets work however fast the others are
#                 kill  node 2 runs one mini-batch per worker, then says so
#                       (node2_busy) and hangs; the other nodes say that they
#                       started one and wait for "go"
#                 late  nodes other than 2 wait until node 2 has started one
#                 go    every node waits for "go"
#                 free  no waiting
#   E2E_NODES     the number of nodes (mode all)
# Each worker appends "<node> <hex path>" lines to
# <output dir>/paths_node<rank>_<pid>.txt after its run() has done its work,
# and writes pid_node<rank>_<pid> into the gate folder at init().
ENTRY = r'''
import os
import time

NODE = int(os.environ["PARALLELRUN_NODE_RANK"])
OUT = os.environ["AZUREML_BI_OUTPUT_PATH"]
GATE = os.environ["E2E_GATE_DIR"]
MODE = os.environ.get("E2E_MODE", "all")
NODES = int(os.environ.get("E2E_NODES", "3"))
calls = 0
record = None


def touch(name):
    tmp = os.path.join(GATE, ".%s.%d" % (name, os.getpid()))
    with open(tmp, "w") as f:
        f.write(str(os.getpid()))
    os.replace(tmp, os.path.join(GATE, name))


def wait_for(names, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(os.path.exists(os.path.join(GATE, n)) for n in names):
            return
        time.sleep(0.01)


def init():
    global record
    os.makedirs(OUT, exist_ok=True)
    record = open(os.path.join(OUT, "paths_node%d_%d.txt" % (NODE, os.getpid())), "a")
    touch("pid_node%d_%d" % (NODE, os.getpid()))


def run(mini_batch):
    global calls
    calls += 1
    if MODE == "all":
        touch("started_%d" % NODE)
        wait_for(["started_%d" % n for n in range(NODES)])
    elif MODE == "kill":
        if NODE == 2 and calls > 1:
            touch("node2_busy")
            time.sleep(60)  # the test kills this node long before
        elif NODE != 2:
            touch("started_%d" % NODE)
            wait_for(["go"])
    elif MODE == "go":
        wait_for(["go"])
    elif MODE == "late":
        touch("started_%d" % NODE)
        if NODE != 2:
            wait_for(["started_2"])
    for path in mini_batch:
        record.write("%d %s\n" % (NODE, os.fsencode(path).hex()))
    record.flush()
    return list(mini_batch)


def shutdown():
    if record:
        record.close()
'''

FILES = 24
DEADLINE = 60  # seconds for a whole job; each takes a few

# Variables of launchers the test environment must not leak into the nodes.
LAUNCHER_PREFIXES = ("OMPI_", "PMI_", "PMIX_", "SLURM_", "PARALLELRUN_", "AZ_BATCH",
                     "TORCHELASTIC_")
LAUNCHER_NAMES = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                  "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "JOB_COMPLETION_INDEX",
                  "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "AZUREML_RUN_ID"}


def free_port():
    """A TCP port nobody uses right now, below the kernel's ephemeral range
    (32768-60999 here): a port the kernel hands out (bind to 0) is one it
    may give again to any outgoing connection — another test's agent — before
    the master binds it ("Address already in use", seen in CI)."""
    low, _ = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, max(20001, min(low, 32768)))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One started process (a parallelrun node, or mpirun), output in files."""

    def __init__(self, test, name, argv, env, cwd):
        self.name = name
        self.argv = argv
        self.out_path = test.tmp / ("%s.stdout" % name)
        self.err_path = test.tmp / ("%s.stderr" % name)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            # Own session: the clean-up can end what is left of it as a group.
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env, cwd=str(cwd), start_new_session=True)
        self.started = time.monotonic()
        self.ended = None

    @property
    def stdout(self):
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def poll(self):
        code = self.proc.poll()
        if code is not None and self.ended is None:
            self.ended = time.monotonic()
        return code

    def __repr__(self):
        return "%s: %s\n--- exit %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            self.name, " ".join(str(a) for a in self.argv), self.proc.poll(),
            self.stdout[-3000:], self.stderr[-3000:])


class MultiNodeBase(helpers.E2ETestCase):
    """Starts nodes, waits for them with deadlines, checks the job they formed."""

    def setUp(self):
        super().setUp()
        self.nodes = []
        self.addCleanup(self.end_all)
        self.data = self.tmp / "data"
        rels = ["d%d/f%02d.txt" % (i % 3, i) for i in range(FILES)]
        self.items = set(self.make_files(self.data, rels))
        self.write("multinode_entry.py", ENTRY)
        self.spec = self.component_spec(entry="multinode_entry.py")
        self.gate = self.tmp / "gate"
        self.gate.mkdir()
        self.out = self.tmp / "out"

    # ---- processes ----------------------------------------------------------

    def env(self, mode="all", nodes=3, **extra):
        """A clean environment: no launcher variables from outside, the test's own."""
        env = {k: v for k, v in os.environ.items()
               if k not in LAUNCHER_NAMES and not k.startswith(LAUNCHER_PREFIXES)}
        env.update({"PARALLELRUN_PYTHON": helpers.PYTHON, "E2E_GATE_DIR": str(self.gate),
                    "E2E_MODE": mode, "E2E_NODES": str(nodes)})
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run_args(self, job_dir="job", *extra):
        """`run` arguments every node of a job is given (the same on every node)."""
        args = ["run", str(self.spec), "-i", "data=%s" % self.data, "-o", "out=%s" % self.out,
                "--mini-batch-size", "1", "--process-count-per-node", "2", "--progress", "plain"]
        if job_dir is not None:
            self.job_dir = self.tmp / job_dir
            args += ["--job-dir", str(self.job_dir)]
        return args + list(extra)

    def start(self, name, argv, env, cwd=None):
        node = Node(self, name, argv, env, cwd or self.tmp)
        self.nodes.append(node)
        return node

    def start_torchrun_node(self, rank, port, env, args, world=3):
        env = dict(env, RANK=rank, WORLD_SIZE=world, MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        return self.start("node%d" % rank, [self.parallelrun] + args,
                          {k: str(v) for k, v in env.items()})

    def end_all(self):
        """Clean-up: ends whatever a failed test left running (its own processes)."""
        for node in self.nodes:
            if node.poll() is None:
                try:
                    os.killpg(node.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                node.proc.wait()

    def describe(self):
        text = "\n\n".join(repr(n) for n in self.nodes)
        master_log = getattr(self, "job_dir", None)
        if master_log:
            path = pathlib.Path(master_log) / "logs" / "sys" / "master_role.0.txt"
            if path.exists():
                text += "\n--- master log (end):\n" + path.read_text(errors="replace")[-4000:]
        return text

    def wait_exit(self, node, timeout=DEADLINE):
        """The node's exit code; fails the test if it is still running after `timeout` s."""
        self.wait_until(lambda: node.poll() is not None, "exit of %s" % node.name,
                        timeout=max(0, node.started + timeout - time.monotonic()),
                        describe=self.describe)
        return node.proc.returncode

    def assertExits(self, node, code, timeout=DEADLINE):
        self.assertEqual(self.wait_exit(node, timeout), code, self.describe())

    def wait_gate(self, *names, timeout=30, nodes=None):
        """Waits until the gate files `names` exist; fails early if a node died."""
        self.wait_until(lambda: all((self.gate / n).exists() for n in names), str(names),
                        timeout=timeout, alive=nodes or [], describe=self.describe)

    # ---- checks -------------------------------------------------------------

    def recorded(self):
        """[(node, byte path)] that the entry script recorded, all workers."""
        seen = []
        for path in sorted(self.out.glob("paths_node*.txt")):
            for line in path.read_text().split("\n"):
                if line:
                    node, hexpath = line.split(" ")
                    seen.append((int(node), bytes.fromhex(hexpath)))
        return seen

    def check_job(self, job_dir=None, nodes=(0, 1, 2), working=(0, 1, 2), killed=None):
        """The job ran every item exactly once (RUN_DONE once per mini-batch; the
        entry script saw each item once, except on the killed node); mini-batches
        ran on every node in `working` and each row's Node is where the entry
        script ran it; node_summary.csv and logs/sys/node/ cover `nodes`."""
        job_dir = pathlib.Path(job_dir or self.job_dir)
        self.assertSucceededReport(job_dir)
        # Every node made the same folders, from the same table.
        self.assertLogsAsReadmeSays(job_dir, nodes=[str(n) for n in nodes])
        rows = self.mini_batch_rows(job_dir)
        done = [r for r in rows if r["Status"] == "RUN_DONE"]
        others = [r for r in rows if r["Status"] != "RUN_DONE"]
        self.assertEqual(others, [], "attempts that did not succeed")
        ids = collections.Counter(int(r["Mini-batch Id"]) for r in done)
        self.assertEqual(sorted(ids), list(range(FILES)), self.describe())
        self.assertEqual(set(ids.values()), {1}, "a mini-batch succeeded more than once")
        ran_on = {}
        for r in done:
            items = json.loads(r["Mini-batch Detail"])["items"]
            self.assertEqual(len(items), 1, r)
            ran_on[os.fsencode(items[0])] = int(r["Node"])
        self.assertEqual(set(ran_on), self.items)
        self.assertEqual(set(ran_on.values()), set(working),
                         "nodes that ran mini-batches\n" + self.describe())

        recorded = self.recorded()
        by_survivors = collections.Counter(p for n, p in recorded if n != killed)
        by_killed = {p for n, p in recorded if n == killed}
        self.assertEqual(set(by_survivors) | by_killed, self.items)
        self.assertEqual({p for p, c in by_survivors.items() if c != 1}, set(),
                         "items the entry script ran more than once")
        # Each reported row's node is where run() really ran that item.
        for path, node in ran_on.items():
            self.assertIn((node, path), recorded)

        summary = self.summary_rows("node_summary.csv", job_dir)
        self.assertEqual(sorted(int(r["Node"]) for r in summary), sorted(nodes),
                         "node_summary.csv\n" + self.describe())
        attempts = {int(r["Node"]): int(r["Succeeded Mini-batches"]) for r in summary}
        for node in nodes:
            self.assertEqual(attempts[node], sum(1 for v in ran_on.values() if v == node),
                             "node_summary.csv, node %d" % node)
            self.assertTrue((self.logs(job_dir) / "sys" / "node" / str(node)).is_dir())

    def first_log_line(self, job_dir, node):
        """The first line of the node's log (without the time stamp)."""
        path = self.logs(job_dir) / "sys" / "node" / str(node) / "_main.txt"
        first = path.read_text(errors="replace").split("\n", 1)[0]
        return first.split("|", 1)[1] if "|" in first else first


class TorchrunTest(MultiNodeBase):
    """Three nodes by hand with torchrun-style variables on loopback."""

    def test_three_nodes_run_every_item_once(self):
        port = free_port()
        env = self.env(mode="all", PARALLELRUN_TOKEN="multinode-e2e-token")
        args = self.run_args()
        nodes = [self.start_torchrun_node(rank, port, env, args) for rank in range(3)]
        for node in nodes:
            self.assertExits(node, 0)
        self.check_job()
        for rank, node in enumerate(nodes):
            role = ("node %d of 3 (%s) from torchrun variables RANK=%d WORLD_SIZE=3 "
                    "MASTER_ADDR=127.0.0.1 MASTER_PORT=%d"
                    % (rank, "master, listening on 127.0.0.1:%d" % port if rank == 0 else
                       "agent of master 127.0.0.1:%d" % port, rank, port))
            self.assertEqual(self.first_log_line(self.job_dir, rank), "role: " + role)
            self.assertIn("parallelrun: role: %s\n" % role, node.stderr + node.stdout)
        master_first = (self.logs() / "sys" / "master_role.0.txt").read_text().split("\n")[0]
        self.assertTrue(master_first.endswith("|role: node 0 of 3 (master, listening on "
                                              "127.0.0.1:%d) from torchrun variables RANK=0 "
                                              "WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 "
                                              "MASTER_PORT=%d" % (port, port)), master_first)
        self.assertIn("job succeeded (reported by the master)", nodes[1].stderr + nodes[1].stdout)

    def test_dry_run_prints_the_role(self):
        port = free_port()
        for rank, what in [(1, "agent of master 127.0.0.1:%d" % port),
                           (0, "master, listening on 127.0.0.1:%d" % port)]:
            env = dict(self.env(PARALLELRUN_TOKEN="t"), RANK=str(rank), WORLD_SIZE="3",
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            run = self.run_parallelrun(*self.run_args("dry"), "--dry-run", env=env)
            self.assertExit(run, 0)
            self.assertIn("\nrole: node %d of 3 (%s) from torchrun variables "
                          "RANK=%d WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=%d\n"
                          % (rank, what, rank, port), run.stdout, repr(run))
            self.assertFalse(self.job_dir.exists(), "a dry run created the job dir")
            self.assertFalse(self.out.exists())


    def test_the_masters_live_line_counts_every_nodes_workers(self):
        # Every node's two workers wait inside run() for "go": the master's
        # plain progress line (every 5 s) must count all six as busy, the
        # agents' as their Workers messages said.
        port = free_port()
        env = self.env(mode="go", PARALLELRUN_TOKEN="multinode-e2e-token")
        args = self.run_args()
        nodes = [self.start_torchrun_node(rank, port, env, args) for rank in range(3)]
        self.wait_until(lambda: "workers: 6 busy" in nodes[0].stderr,
                        "the master's line with 6 busy workers", timeout=DEADLINE,
                        alive=nodes, describe=self.describe)
        (self.gate / "go").touch()
        for node in nodes:
            self.assertExits(node, 0)
        # The agents' own lines count their own node only.
        self.assertNotIn("workers: 6", nodes[1].stderr + nodes[2].stderr)


class MpirunTest(MultiNodeBase):
    """`mpirun -np 3` on this machine: one agent per MPI process."""

    def test_mpirun_three_processes_form_one_job(self):
        mpirun = shutil.which("mpirun")
        if mpirun is None:
            self.skipTest("SKIPPED: mpirun is not installed (scripts/install-deps installs "
                          "Debian's openmpi-bin)")
        port = free_port()
        env = self.env(mode="all", PARALLELRUN_TOKEN="mpirun-e2e-token")
        # The token as the README says (mpirun -x PARALLELRUN_TOKEN) and no
        # --job-dir: every node names the same job dir after Open MPI's job id.
        argv = [mpirun, "-np", "3", "--oversubscribe", "--allow-run-as-root", "--tag-output",
                "-x", "PARALLELRUN_TOKEN", "-x", "PARALLELRUN_AGENT_PER_PROCESS=1",
                "-x", "PARALLELRUN_MASTER_ADDR=127.0.0.1",
                "-x", "PARALLELRUN_MASTER_PORT=%d" % port,
                "-x", "PARALLELRUN_PYTHON", "-x", "E2E_GATE_DIR", "-x", "E2E_MODE", "-x",
                "E2E_NODES", self.parallelrun] + self.run_args(None)
        node = self.start("mpirun", argv, env)
        self.assertExits(node, 0)
        jobs = list((self.tmp / "parallelrun-jobs").glob("job-*"))
        self.assertEqual(len(jobs), 1, self.describe())
        self.job_dir = jobs[0]
        self.assertRegex(self.job_dir.name, r"^job-(pmix|ompi)-[A-Za-z0-9._-]+$")
        self.check_job()
        output = node.stdout + node.stderr
        for rank in range(3):
            first = self.first_log_line(self.job_dir, rank)
            self.assertTrue(first.startswith("role: node %d of 3 " % rank), first)
            self.assertIn("Open MPI", first)
            self.assertIn("OMPI_COMM_WORLD_RANK=%d" % rank, first)
        # Every rank reports the job's outcome (--tag-output: "[job,rank]<stderr>:").
        self.assertRegex(output, r"\[\d+,0\]<std(out|err)>:\s*parallelrun: job succeeded; job dir")
        for rank in (1, 2):
            self.assertRegex(output, r"\[\d+,%d\]<std(out|err)>:\s*parallelrun: job succeeded "
                                     r"\(reported by the master\)" % rank)
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master_log, r"INFO\|\d+\|job secret from PARALLELRUN_TOKEN\n")


class FaultTest(MultiNodeBase):
    """Nodes that die, come late, never find the master or hold the wrong token."""

    def test_killed_agent_leases_requeue(self):
        port = free_port()
        env = self.env(mode="kill", PARALLELRUN_TOKEN="multinode-e2e-token")
        args = self.run_args()
        nodes = [self.start_torchrun_node(rank, port, env, args) for rank in range(3)]
        # Node 2 has run a mini-batch, holds more in flight, and both its
        # workers are up (their pids, to see that they die with it); nodes 0
        # and 1 hold mini-batches too, so the job cannot end without them.
        self.wait_gate("node2_busy", "started_0", "started_1", nodes=nodes)
        self.wait_until(lambda: len(list(self.gate.glob("pid_node2_*"))) >= 2,
                        "node 2's worker pids", describe=lambda: sorted(os.listdir(self.gate)))
        workers = [int(p.name.rsplit("_", 1)[1]) for p in self.gate.glob("pid_node2_*")]
        self.assertTrue(any(n == 2 for n, _ in self.recorded()))
        os.kill(nodes[2].proc.pid, signal.SIGKILL)
        self.assertExits(nodes[2], -signal.SIGKILL)
        # Its workers die with it (PR_SET_PDEATHSIG), not with the test's clean-up.
        self.wait_until(lambda: not any(pid_alive(pid) for pid in workers),
                        "end of node 2's workers", timeout=10,
                        describe=lambda: "alive: %s" % [p for p in workers if pid_alive(p)])
        (self.gate / "go").touch()
        self.assertExits(nodes[0], 0)
        self.assertExits(nodes[1], 0)
        # Node 2's in-flight leases went to nodes 0 and 1; its finished ones may
        # count for it if their results reached the master before it died.
        done_on = {int(r["Node"]) for r in self.mini_batch_rows() if r["Status"] == "RUN_DONE"}
        self.check_job(working=sorted(done_on), killed=2,
                       nodes=[0, 1, 2] if 2 in done_on else [0, 1])
        self.assertTrue({0, 1} <= done_on, "%s\n%s" % (done_on, self.describe()))
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master_log, r"WARNING\|\d+\|Lost node 2 \(\S+\): .*; its [1-9]\d* leases "
                                     r"are pending again\.")

    def test_killed_master_agents_say_how_to_continue(self):
        port = free_port()
        # Without failover (test_failover.py has it): the agents stop.
        env = self.env(mode="kill", PARALLELRUN_TOKEN="multinode-e2e-token",
                       PARALLELRUN_FAILOVER="0")
        args = self.run_args()
        nodes = [self.start_torchrun_node(rank, port, env, args) for rank in range(3)]
        self.wait_gate("node2_busy", "started_0", "started_1", nodes=nodes)
        os.kill(nodes[0].proc.pid, signal.SIGKILL)
        self.assertExits(nodes[0], -signal.SIGKILL)
        (self.gate / "go").touch()
        for node in nodes[1:]:
            self.assertExits(node, 3)
            self.assertIn("parallelrun: to continue: parallelrun resume %s on the master's node "
                          "(127.0.0.1), with the agents started again as before\n"
                          % self.job_dir, node.stderr)
        # What finished is in the master's journal, from which resume starts.
        self.assertTrue((self.job_dir / "journal").exists())

    def test_late_agent_joins_and_gets_work(self):
        port = free_port()
        env = self.env(mode="late", PARALLELRUN_TOKEN="multinode-e2e-token")
        args = self.run_args()
        first = [self.start_torchrun_node(rank, port, env, args) for rank in (0, 1)]
        # The job is under way on nodes 0 and 1 before node 2 exists.
        self.wait_gate("started_0", "started_1", nodes=first)
        self.assertFalse((self.logs() / "sys" / "node" / "2").exists())
        late = self.start_torchrun_node(2, port, env, args)
        for node in first + [late]:
            self.assertExits(node, 0)
        self.check_job()
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master_log, r"Node 2 connected from 127\.0\.0\.1:\d+ \(2 slots\)\.")

    # The master keeps listening a few seconds after the end while nodes are
    # missing, so a late node learns the outcome instead of retrying.
    def test_agent_after_the_end_exits_with_the_jobs_code(self):
        port = free_port()
        env = self.env(mode="free", PARALLELRUN_TOKEN="multinode-e2e-token",
                       PARALLELRUN_CONNECT_TIMEOUT="5")
        args = self.run_args()
        first = [self.start_torchrun_node(rank, port, env, args) for rank in (0, 1)]
        self.assertExits(first[1], 0)  # the job is over: node 1 has its END
        late = self.start_torchrun_node(2, port, env, args)
        self.assertExits(late, 0, timeout=20)
        self.assertLess(late.ended - late.started, 5, "node 2 did not exit promptly")
        self.assertIn("job succeeded (reported by the master)", late.stderr)
        self.assertExits(first[0], 0)

    def test_agent_without_master_gives_up(self):
        port = free_port()  # nobody listens there
        env = self.env(mode="free", PARALLELRUN_TOKEN="multinode-e2e-token",
                       PARALLELRUN_CONNECT_TIMEOUT="2")
        node = self.start_torchrun_node(1, port, env, self.run_args())
        self.assertExits(node, 3, timeout=20)
        self.assertLess(node.ended - node.started, 15)
        self.assertRegex(node.stderr,
                         r"\nparallelrun: error: cannot reach the master at 127\.0\.0\.1:%d: "
                         r"Connection refused \(tried \d+ times in [0-9.]+ s\)\n$" % port)

    def test_wrong_token_is_refused(self):
        port = free_port()
        # The job waits for "go", given once the bad node has been refused: a
        # node that came after the master's end could not be refused.
        env = self.env(mode="go", PARALLELRUN_TOKEN="multinode-e2e-token")
        args = self.run_args()
        good = [self.start_torchrun_node(rank, port, env, args) for rank in (0, 1)]
        bad = self.start_torchrun_node(2, port, dict(env, PARALLELRUN_TOKEN="not-the-token"), args)
        self.assertExits(bad, 2)
        self.assertTrue(bad.stderr.endswith(
            "\nparallelrun: error: the master at 127.0.0.1:%d refused this agent: "
            "authentication failed\n" % port), repr(bad))
        # Node 1 must have joined before the work is released, or node 0 may
        # finish everything alone on a slow machine.
        master_log = self.logs() / "sys" / "master_role.0.txt"
        self.wait_until(
            lambda: master_log.exists() and "Node 1 connected from" in master_log.read_text(),
            "join of node 1", timeout=DEADLINE, alive=good, describe=self.describe)
        (self.gate / "go").touch()
        for node in good:
            self.assertExits(node, 0)
        self.check_job(nodes=(0, 1), working=sorted(
            {int(r["Node"]) for r in self.mini_batch_rows()}))
        master_log = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master_log, r"\|refused 127\.0\.0\.1:\d+: authentication failed "
                                     r"\(claims node 2\)\n")
        self.assertIn("2 of 3 nodes joined the job.", master_log)


def pid_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class NodeCountTest(MultiNodeBase):
    """The node_count setting: on the command line it sets the job's node
    count (with PARALLELRUN_NODE_RANK per process); in a spec, where the
    launcher decides, a count this run does not have is said to have no effect."""

    def test_the_node_count_setting_with_explicit_ranks_forms_a_job(self):
        # node_count as the original's run setting (--node_count) with
        # PARALLELRUN_NODE_RANK on each process, no launcher: two nodes form
        # one job (the settings walk, test_settings_walk.py, points here).
        port = free_port()
        env = self.env(mode="all", nodes=2, PARALLELRUN_TOKEN="multinode-e2e-token",
                       PARALLELRUN_MASTER_ADDR="127.0.0.1", PARALLELRUN_MASTER_PORT=port)
        args = self.run_args() + ["--node_count", "2"]
        nodes = [self.start("node%d" % rank, [self.parallelrun] + args,
                            dict(env, PARALLELRUN_NODE_RANK=str(rank))) for rank in range(2)]
        for node in nodes:
            self.assertExits(node, 0)
        self.check_job(nodes=(0, 1), working=(0, 1))
        for rank, node in enumerate(nodes):
            role = self.first_log_line(self.job_dir, rank)
            self.assertTrue(role.startswith("role: node %d of 2 (%s) from explicit settings "
                                            % (rank, "master, listening on 127.0.0.1:%d" % port
                                               if rank == 0 else
                                               "agent of master 127.0.0.1:%d" % port)), role)
            self.assertIn("--node-count=2", role)

    def test_node_count_in_a_spec_without_a_launcher_says_it_has_no_effect(self):
        # In a spec node_count (resources.instance_count) describes the job;
        # a single parallelrun is one node, and says so rather than ignore it.
        spec = self.tmp / "v2.yaml"
        spec.write_text("type: parallel\nname: e2e_nodes\nversion: 1\ninputs:\n  data:\n"
                        "    type: uri_folder\ninput_data: ${{inputs.data}}\n"
                        "resources:\n  instance_count: 3\n"
                        "task:\n  type: run_function\n  code: .\n"
                        "  entry_script: plain_entry.py\n")
        self.write("plain_entry.py", "def run(mini_batch):\n    return mini_batch\n")
        run = self.run_job(spec, "-i", "data=%s" % self.data, "--mini-batch-size", "24",
                           progress="plain", env=self.env(mode="free", nodes=1))
        self.assertExit(run, 0)
        self.assertIn("warning: setting node_count (3, from the spec) has no effect here: this "
                      "run is a single node; the launcher's processes (or --node_count with "
                      "PARALLELRUN_NODE_RANK on each) make a job's nodes\n", run.stderr)


if __name__ == "__main__":
    unittest.main()
