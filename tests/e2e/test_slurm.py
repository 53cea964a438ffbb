"""A real Slurm cluster on this machine (issue 12, item 9): munged, slurmctld
and three slurmd from Debian's packages, started by scripts/slurm-local in
the test's temp folder, and one parallelrun job across its three nodes —
started by `srun -N3 --ntasks-per-node=1`, and by `sbatch` of
examples/slurm/parallelrun.sbatch. Each job must equal a one-node run of the
same data (every item run exactly once, the same mini-batches, the same
counts), and every node must have taken part: its rank from Slurm's
variables, its own logs/sys/node/<rank>, mini-batches in node_summary.csv.

The nodes all run on this host, where the Slurm node names (n1…n3) do not
resolve: the master's address is given as PARALLELRUN_MASTER_ADDR=127.0.0.1,
the ranks come from Slurm. Slurm needs root; without it, or without the
packages, each case is SKIPPED with the reason. The cluster is stopped by the
test's clean-up, whatever happened.
"""

import collections
import json
import os
import shutil
import subprocess
import unittest

import helpers
import test_multinode as mn

SLURM_LOCAL = helpers.SOURCE_DIR / "scripts" / "slurm-local"
SBATCH_SCRIPT = helpers.SOURCE_DIR / "examples" / "slurm" / "parallelrun.sbatch"
NODES = 3
START_TIMEOUT = 120  # slurm-local's own deadline is 60 s for the nodes to be idle


class SlurmTest(mn.MultiNodeBase):

    def setUp(self):
        super().setUp()
        self.cluster = self.tmp / "slurm"
        # Registered before the start: a start that fails half-way is stopped too.
        self.addCleanup(self.stop_cluster)
        start = subprocess.run([str(SLURM_LOCAL), "start", str(self.cluster), str(NODES)],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=START_TIMEOUT)
        if start.returncode == 77:
            reason = start.stderr.strip().split("SKIPPED: ", 1)[-1]
            self.skipTest("SKIPPED: a local Slurm cluster cannot start here: " + reason)
        self.assertEqual(start.returncode, 0, "slurm-local start failed:\n%s%s"
                         % (start.stdout, start.stderr))
        self.port = mn.free_port()

    def stop_cluster(self):
        stop = subprocess.run([str(SLURM_LOCAL), "stop", str(self.cluster)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=START_TIMEOUT)
        self.assertEqual(stop.returncode, 0, stop.stderr)
        # Nothing of the cluster is left running.
        left = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(self.cluster) + "/" in cmdline:
                left.append("%s %s" % (pid, cmdline))
        self.assertEqual(left, [], "daemons left running after slurm-local stop")

    def slurm_env(self, mode="all", **extra):
        """The nodes' environment: the test's (no launcher variables of its
        own), the cluster's config, and the master's address on this host."""
        return {k: str(v) for k, v in self.env(
            mode=mode, nodes=NODES, SLURM_CONF=self.cluster / "slurm.conf",
            PARALLELRUN_MASTER_ADDR="127.0.0.1", PARALLELRUN_MASTER_PORT=self.port,
            PARALLELRUN=self.parallelrun, **extra).items()}

    def describe(self):
        text = super().describe()
        output = self.tmp / "sbatch.out"
        if output.exists():
            text += "\n--- the batch job's output:\n" + output.read_text(errors="replace")[-3000:]
        for log in sorted((self.cluster / "log").glob("*.log")):
            text += "\n--- %s (end):\n%s" % (log.name, log.read_text(errors="replace")[-1500:])
        return text

    # ---- the one-node run the cluster's job must equal ------------------------

    def one_node_run(self):
        """A one-node run of the same data; returns its (mini-batches, items)."""
        out = self.tmp / "out_one_node"
        job_dir = self.tmp / "job_one_node"
        run = self.run_parallelrun(
            "run", self.spec, "-i", "data=%s" % self.data, "-o", "out=%s" % out,
            "--mini-batch-size", "1", "--process-count-per-node", "2", "--progress", "none",
            "--job-dir", job_dir, env={k: None for k in os.environ if k.startswith("SLURM_")}
            | {"E2E_GATE_DIR": str(self.gate), "E2E_MODE": "free"})
        self.assertExit(run, 0)
        return self.outcome(job_dir)

    def outcome(self, job_dir):
        """What a job's report says, without where or when: {mini-batch id: its
        items} of the successful attempts, and the job-wide counts."""
        rows = self.mini_batch_rows(job_dir)
        batches = {int(r["Mini-batch Id"]): json.loads(r["Mini-batch Detail"])["items"]
                   for r in rows if r["Status"] == "RUN_DONE"}
        statuses = collections.Counter(r["Status"] for r in rows)
        processes = self.summary_rows("process_summary.csv", job_dir)
        succeeded = sum(int(p["Succeeded Items"]) for p in processes)
        return batches, statuses, succeeded

    def check_cluster_job(self, job_dir):
        """The job ran on all three Slurm nodes and equals a one-node run."""
        self.check_job(job_dir, nodes=(0, 1, 2), working=(0, 1, 2))
        batches, statuses, succeeded = self.outcome(job_dir)
        one_batches, one_statuses, one_succeeded = self.one_node_run()
        self.assertEqual(statuses, collections.Counter({"RUN_DONE": mn.FILES}))
        self.assertEqual(statuses, one_statuses)
        self.assertEqual(succeeded, mn.FILES)
        self.assertEqual(succeeded, one_succeeded)
        self.assertEqual(batches, one_batches)
        # Slurm's side: every slurmd launched a task of the job.
        for n in range(1, NODES + 1):
            slurmd_log = (self.cluster / "log" / ("slurmd.n%d.log" % n)).read_text()
            self.assertRegex(slurmd_log, r"launch task StepId=\d+\.0 request", "n%d" % n)
        for rank in range(NODES):
            first = self.first_log_line(job_dir, rank)
            self.assertRegex(first, r"^role: node %d of 3 \(.*\) from Slurm variables .*"
                                    r"SLURM_NODEID=%d\b" % (rank, rank), self.describe())

    # ---- cases ------------------------------------------------------------------

    def test_srun_runs_one_job_across_three_nodes(self):
        env = self.slurm_env()
        args = self.run_args("job_srun")
        srun = self.start("srun", ["srun", "-N%d" % NODES, "--ntasks-per-node=1",
                                   self.parallelrun] + args, env)
        self.assertExits(srun, 0)
        self.check_cluster_job(self.job_dir)
        # No PARALLELRUN_TOKEN: the master wrote the job's token into the
        # shared job dir and the agents read it there.
        token = self.job_dir / ".parallelrun" / "token"
        self.assertRegex(token.read_text(), r"^[0-9a-f]{64}\n$")
        master_log = (self.logs(self.job_dir) / "sys" / "master_role.0.txt").read_text()
        self.assertIn("job secret generated into %s (mode 0600)" % token, master_log)

    def test_srun_with_two_tasks_per_node_still_forms_three_nodes(self):
        # Two tasks per node start parallelrun twice on each node; one agent
        # per node is wanted (it runs the workers itself): the second task of
        # each node exits 0 at once, and the job is the same three nodes.
        env = self.slurm_env(PARALLELRUN_TOKEN="slurm-e2e-token")
        args = self.run_args("job_srun2")
        srun = self.start("srun", ["srun", "-N%d" % NODES, "--ntasks-per-node=2",
                                   self.parallelrun] + args, env)
        self.assertExits(srun, 0)
        self.check_cluster_job(self.job_dir)
        # Each node's agent is its first task (local rank 0), whatever its
        # global rank; the other task of each node said so and left.
        for rank in range(NODES):
            first = self.first_log_line(self.job_dir, rank)
            self.assertIn("SLURM_LOCALID=0", first)
            self.assertIn("SLURM_PROCID=%d " % (2 * rank), first)
            self.assertIn("; 2 processes per node collapse to one agent per node", first)
            self.assertIn("parallelrun: role: extra process, local rank 1 of 2 on node %d (exits 0 "
                          "quietly: local rank 0 is the node's agent)" % rank, srun.stderr)
        self.assertFalse((self.job_dir / "logs" / "sys" / "node" / "3").exists())

    def test_sbatch_of_the_example_script_runs_one_job_across_three_nodes(self):
        env = self.slurm_env()
        args = self.run_args("job_sbatch")
        self.assertEqual(args[0], "run")  # the script says `run` itself
        output = self.tmp / "sbatch.out"
        sbatch = self.start("sbatch", ["sbatch", "--wait", "--output=%s" % output,
                                       str(SBATCH_SCRIPT)] + args[1:], env)
        self.assertExits(sbatch, 0)
        self.check_cluster_job(self.job_dir)
        # The script made a token for the job and handed it to every node in
        # PARALLELRUN_TOKEN: none was written into the job dir.
        self.assertFalse((self.job_dir / ".parallelrun" / "token").exists())
        text = output.read_text(errors="replace")
        self.assertIn("job succeeded", text)

        # A job that fails ends the Slurm job with its exit code: here a
        # usage error (2) on every node, for an input that does not exist.
        missing = self.tmp / "no-such-folder"
        args = self.run_args("job_sbatch_bad")
        args[args.index("data=%s" % self.data)] = "data=%s" % missing
        failed_output = self.tmp / "sbatch_bad.out"
        sbatch = self.start("sbatch_bad", ["sbatch", "--wait", "--output=%s" % failed_output,
                                           str(SBATCH_SCRIPT)] + args[1:], env)
        self.assertExits(sbatch, 2)
        text = failed_output.read_text(errors="replace")
        self.assertIn("parallelrun: error: ", text)
        self.assertIn(str(missing), text)

    def test_slurm_local_restarts_and_stops_the_daemons_of_a_deleted_cluster(self):
        def daemons(folder):
            pids = {}
            for name in ["munge/munged.pid", "slurmctld.pid"] + [
                    "slurmd.n%d.pid" % n for n in range(1, NODES + 1)]:
                pids[name] = int((folder / name).read_text().strip())
            return pids

        def slurm_local(*args):
            return subprocess.run([str(SLURM_LOCAL)] + [str(a) for a in args],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=START_TIMEOUT)

        first = daemons(self.cluster)
        # start on a running cluster: it is stopped and started afresh.
        again = slurm_local("start", self.cluster, NODES)
        self.assertEqual(again.returncode, 0, again.stderr)
        second = daemons(self.cluster)
        for name, pid in first.items():
            self.assertTrue(helpers.process_gone(pid), "%s (pid %d) still runs" % (name, pid))
        self.assertEqual(set(first.values()) & set(second.values()), set())
        sinfo = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True,
                               text=True, env=dict(os.environ, SLURM_CONF=str(
                                   self.cluster / "slurm.conf")), timeout=30)
        self.assertEqual(sorted(sinfo.stdout.split("\n"))[1:],
                         ["n%d idle" % n for n in range(1, NODES + 1)], sinfo.stderr)

        # A cluster whose state folder was deleted (a test that was killed)
        # is stopped by the next start, by its daemons' command lines.
        other = self.tmp / "slurm2"
        self.addCleanup(slurm_local, "stop", other)
        subprocess.run(["rm", "-rf", str(self.cluster)], check=True)
        start = slurm_local("start", other, 1)
        self.assertEqual(start.returncode, 0, start.stderr)
        for name, pid in second.items():
            self.assertTrue(helpers.process_gone(pid), "%s (pid %d) still runs" % (name, pid))
        self.assertIn("of a deleted cluster", start.stderr)
        # stop is idempotent: the second finds nothing to stop and says nothing.
        pids = [int((other / n).read_text()) for n in ("munge/munged.pid", "slurmctld.pid",
                                                        "slurmd.n1.pid")]
        for _ in range(2):
            stop = slurm_local("stop", other)
            self.assertEqual((stop.returncode, stop.stderr), (0, ""))
        for pid in pids:
            self.assertTrue(helpers.process_gone(pid), "pid %d still runs" % pid)

        # Folders that are not its own are refused, not emptied.
        foreign = self.tmp / "foreign"
        foreign.mkdir()
        (foreign / "keep.txt").write_text("mine")
        for command in ("start", "stop"):
            refused = slurm_local(command, foreign)
            self.assertEqual(refused.returncode, 1, refused.stderr)
            self.assertIn("slurm-local: %s is not" % foreign, refused.stderr)
        self.assertEqual((foreign / "keep.txt").read_text(), "mine")
        bad = slurm_local("start", self.tmp / "slurm3", "x")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("NODES must be a number from 1 to 99, not 'x'", bad.stderr)


class SlurmLocalWithoutRootTest(helpers.E2ETestCase):
    """slurm-local's contract where Slurm cannot run: exit 77, SKIPPED and why,
    nothing started. Run as an ordinary user (runuser, when this is root)."""

    def test_without_root_it_says_skipped_and_starts_nothing(self):
        folder = self.tmp / "cluster"
        # A copy in the temp folder: the clone itself may be closed to others.
        script = self.tmp / "slurm-local"
        shutil.copy(SLURM_LOCAL, script)
        script.chmod(0o755)
        argv = [str(script), "start", str(folder)]
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                self.skipTest("SKIPPED: runuser is missing, so this root cannot run it as another user")
            self.tmp.chmod(0o777)
            argv = ["runuser", "-u", "nobody", "--"] + argv
        run = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(run.returncode, 77, run.stderr)
        self.assertEqual(run.stderr, "slurm-local: SKIPPED: a local Slurm cluster needs root "
                                     "(slurmd and munged run as root)\n")
        self.assertFalse(folder.exists())


if __name__ == "__main__":
    unittest.main()
