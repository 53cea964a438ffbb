"""The settings that act on the worker processes themselves (issue 11,
items 1-4): resource_monitor_interval (logs/sys/perf/<node>/), profiling_module
(a profile per worker), nice (the workers' niceness) and the GPUs (one
CUDA_VISIBLE_DEVICES per worker while they last, found with a fake
nvidia-smi on PATH)."""

import csv
import json
import os
import pathlib
import pstats
import re
import stat

from helpers import E2ETestCase

# Each worker records, in init(), who it is and what START made of it; run()
# returns its items, waits (when asked) for the resource monitor to have seen
# it, and dies once on an item named "die" (a state file says it did).
RECORDER = """
    import json, os, sys, time
    from azureml_user.parallel_run import EntryScript

    OUT = os.environ["RECORD_DIR"]

    def init():
        os.makedirs(OUT, exist_ok=True)
        name = EntryScript().agent_name
        # Whole or not at all: a worker still in init() when the work runs
        # out is stopped (SIGKILL) and must leave no half-written record.
        tmp = os.path.join(OUT, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"pid": os.getpid(), "nice": os.nice(0),
                       "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}, f)
        os.replace(tmp, os.path.join(OUT, name + ".json"))

    def busy(n):
        return sum(i * i for i in range(n))

    def run(mini_batch):
        # RECORD_WAIT_FOR=N: no mini-batch ends before N workers have
        # recorded themselves (bounded), so that none is stopped in init().
        want = int(os.environ.get("RECORD_WAIT_FOR", "0"))
        deadline = time.monotonic() + 30
        while (len([n for n in os.listdir(OUT) if n.endswith(".json")]) < want
               and time.monotonic() < deadline):
            time.sleep(0.01)
        for path in mini_batch:
            base = os.path.basename(path)
            if base == "die":
                marker = os.path.join(OUT, "died")
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    os._exit(3)
            if base == "wait_for_monitor":
                # Until a periodic sample of the resource monitor (every 1 s)
                # lists this worker: the machine-wide table is written by
                # those only (the start's may or may not have seen the
                # worker, however loaded the machine). Bounded.
                hours = os.path.join(os.environ["PARALLELRUN_JOB_DIR"], "logs", "sys", "perf",
                                     "0", "processes_cpu_memory_usage")
                mine = ",%d," % os.getpid()
                deadline = time.monotonic() + 60
                seen = False
                while not seen and time.monotonic() < deadline:
                    busy(10000)
                    try:
                        for name in os.listdir(hours):
                            with open(os.path.join(hours, name)) as f:
                                seen = seen or mine in f.read()
                    except OSError:
                        pass
                    time.sleep(0.05)
            if base == "burn":
                busy(2000000)
            busy(1000)
        return mini_batch
    """


class WorkerSettingsCase(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.write("score.py", RECORDER)
        self.spec = self.component_spec(entry="score.py")
        self.records = self.tmp / "records"
        self.bin = self.tmp / "bin"
        self.bin.mkdir()

    def fake_nvidia_smi(self, count):
        path = self.bin / "nvidia-smi"
        lines = "".join("echo 'GPU %d: Fake GPU %d (UUID: GPU-%08d-fake)'\n" % (i, i, i)
                        for i in range(count))
        path.write_text("#!/bin/sh\n[ \"$1\" = -L ] || exit 9\n" + lines)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def run_recorder(self, items, *flags, env=None):
        self.make_files(self.tmp / "data", items)
        environment = {"RECORD_DIR": str(self.records),
                       "PATH": "%s:%s" % (self.bin, os.environ.get("PATH", ""))}
        for var in ("CUDA_VISIBLE_DEVICES", "AZ_BATCHAI_GPU_COUNT_FOUND"):
            environment[var] = None
        environment.update(env or {})
        # helpers' run_parallelrun updates os.environ's copy: None removes.
        return self.run_job(self.spec, "-i", "data=%s" % (self.tmp / "data"),
                            "-o", "out=%s" % (self.tmp / "out"), "--mini_batch_size", "1",
                            *flags, progress="plain", env=environment)

    def recorded(self):
        return {p.stem: json.loads(p.read_text()) for p in sorted(self.records.glob("*.json"))}

    def main_log(self):
        return (self.logs() / "sys" / "node" / "0" / "_main.txt").read_text()

    def csv_rows(self, path):
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            return reader.fieldnames, list(reader)


class GpuTest(WorkerSettingsCase):
    """Item 4."""

    def test_one_gpu_per_worker_while_they_last_the_rest_get_none(self):
        self.fake_nvidia_smi(2)
        run = self.run_recorder(["a", "b", "c"], "--process_count_per_node", "3",
                                env={"RECORD_WAIT_FOR": "3"})
        self.assertExit(run, 0)
        got = {name: r["cuda"] for name, r in self.recorded().items()}
        self.assertEqual(got, {"process000": "0", "process001": "1", "process002": None})
        log = self.main_log()
        smi = self.bin / "nvidia-smi"
        self.assertIn("|2 GPUs (from %s -L): 0, 1; each worker gets one as its "
                      "CUDA_VISIBLE_DEVICES while they last, workers beyond them none (the "
                      "variable is left as inherited)\n" % smi, log)
        pids = {name: r["pid"] for name, r in self.recorded().items()}
        self.assertIn("|process000 started (pid %d); CUDA_VISIBLE_DEVICES=0\n" % pids["process000"], log)
        self.assertIn("|process001 started (pid %d); CUDA_VISIBLE_DEVICES=1\n" % pids["process001"], log)
        self.assertIn("|process002 started (pid %d); no GPU left for it\n" % pids["process002"], log)
        # Who got what comes before any mini-batch.
        self.assertLess(log.index("GPUs (from"), log.index("process000 started"))

    def test_the_gpu_of_a_worker_that_died_goes_to_its_replacement(self):
        run = self.run_recorder(["die"], "--process_count_per_node", "1",
                                env={"AZ_BATCHAI_GPU_COUNT_FOUND": "1"})
        self.assertExit(run, 0)
        got = {name: r["cuda"] for name, r in self.recorded().items()}
        self.assertEqual(got, {"process000": "0", "process001": "0"})
        self.assertIn("|1 GPU (from AZ_BATCHAI_GPU_COUNT_FOUND=1): 0;", self.main_log())

    def test_launcher_cuda_visible_devices_are_shared_out(self):
        run = self.run_recorder(["a", "b"], "--process_count_per_node", "2",
                                env={"CUDA_VISIBLE_DEVICES": "3,GPU-abc", "RECORD_WAIT_FOR": "2"})
        self.assertExit(run, 0)
        got = {name: r["cuda"] for name, r in self.recorded().items()}
        self.assertEqual(got, {"process000": "3", "process001": "GPU-abc"})

    def test_process_count_per_node_defaults_to_one_on_a_gpu_machine(self):
        self.fake_nvidia_smi(2)
        run = self.run_recorder(["a", "b"])
        self.assertExit(run, 0)
        self.assertEqual(list(self.recorded()), ["process000"])
        self.assertIn("2 GPUs (from %s -L): process_count_per_node defaults to 1 as the "
                      "original's does on a GPU machine; give --process_count_per_node 2 for one "
                      "worker per GPU" % (self.bin / "nvidia-smi"), run.stderr)

    def test_no_gpu_no_variable(self):
        run = self.run_recorder(["a"], "--process_count_per_node", "1")
        self.assertExit(run, 0)
        self.assertEqual(self.recorded()["process000"]["cuda"], None)
        self.assertNotIn("GPU", self.main_log())


class NiceTest(WorkerSettingsCase):
    """Item 3: the workers raise their niceness to --nice (never lower it)."""

    def test_workers_run_at_the_given_niceness(self):
        here = os.nice(0)
        run = self.run_recorder(["a", "b"], "--process_count_per_node", "2", "--nice", "7")
        self.assertExit(run, 0)
        self.assertEqual({r["nice"] for r in self.recorded().values()}, {max(here, 7)})

    def test_the_default_is_the_originals_5(self):
        here = os.nice(0)
        run = self.run_recorder(["a"], "--process_count_per_node", "1")
        self.assertExit(run, 0)
        self.assertEqual(self.recorded()["process000"]["nice"], max(here, 5))

    def test_nice_0_leaves_the_workers_as_parallelrun_is(self):
        here = os.nice(0)
        run = self.run_recorder(["a"], "--process_count_per_node", "1", "--nice", "0")
        self.assertExit(run, 0)
        self.assertEqual(self.recorded()["process000"]["nice"], here)


class ProfileTest(WorkerSettingsCase):
    """Item 2: logs/sys/node/<node>/processNNN.profile, read by pstats."""

    def check_profiles(self, module):
        run = self.run_recorder(["a", "b", "c"], "--process_count_per_node", "2",
                                "--profiling_module", module)
        self.assertExit(run, 0)
        node = self.logs() / "sys" / "node" / "0"
        # Every worker whose init() finished wrote one (a worker still in
        # init() when the work ran out is stopped, and writes none).
        inited = re.findall(r"\|(process\d+) init\(\) done in ", self.main_log())
        self.assertTrue(inited)
        self.assertEqual(sorted(p.name for p in node.glob("*.profile")),
                         sorted(name + ".profile" for name in inited))
        functions = set()
        for path in node.glob("*.profile"):
            stats = pstats.Stats(str(path))
            functions |= {(os.path.basename(f), name) for f, _, name in stats.stats}
        # init() of each worker, and run() of at least one, were profiled.
        self.assertIn(("score.py", "init"), functions)
        self.assertIn(("score.py", "run"), functions)
        self.assertIn("|profiling_module %s: each worker writes its profile to "
                      "logs/sys/node/0/processNNN.profile when it ends normally; a worker that is "
                      "killed (a timeout, an interrupt) loses its profile\n" % module,
                      self.main_log())

    def test_cprofile(self):
        self.check_profiles("cProfile")

    def test_report_shows_the_functions_with_the_most_own_time(self):
        # Each worker writes its top list beside its profile; `parallelrun
        # report` sums them: the function that burns the time leads.
        run = self.run_recorder(["a", "burn"], "--process_count_per_node", "1",
                                "--profiling_module", "cProfile")
        self.assertExit(run, 0)
        node = self.logs() / "sys" / "node" / "0"
        with open(node / "process000.profile.top.tsv") as f:
            rows = [line.rstrip("\n").split("\t") for line in f]
        self.assertEqual(rows[0], ["function", "file", "line", "calls", "own_seconds",
                                   "cumulative_seconds"])
        self.assertTrue(all(len(r) == 6 for r in rows))
        self.assertLessEqual(len(rows) - 1, 40)
        own = [float(r[4]) for r in rows[1:]]
        self.assertEqual(own, sorted(own, reverse=True))
        # cProfile counts wall time, so on a loaded machine a wait in the
        # driver may outrank it; the burning generator is near the top.
        burners = [r for r in rows[1:4] if os.path.basename(r[1]) == "score.py"]
        self.assertTrue(burners, rows[:4])
        html = self.tmp / "report.html"
        rep = self.run_parallelrun("report", str(self.job_dir), "-o", str(html))
        self.assertExit(rep, 0)
        text = html.read_text()
        profile = text[text.index('id="profile"'):]
        self.assertIn("<th>own s</th>", profile)
        table = profile[:profile.index("</table>")]
        self.assertIn("<td>%s</td>" % burners[0][0].replace("<", "&lt;").replace(">", "&gt;"),
                      table)
        self.assertIn("score.py:%s</td>" % burners[0][2], table)
        # The top list is not taken for a profile of its own.
        self.assertNotIn("top.tsv", profile)

    def test_profile(self):
        self.check_profiles("profile")

    def test_a_killed_worker_says_it_has_no_profile(self):
        run = self.run_recorder(["die"], "--process_count_per_node", "1",
                                "--profiling_module", "cProfile")
        self.assertExit(run, 0)
        self.assertIn("|process000 ended without writing its profile (it was killed or died)\n",
                      self.main_log())
        node = self.logs() / "sys" / "node" / "0"
        # process000 died (os._exit): no profile; its replacement wrote one.
        self.assertEqual(sorted(p.name for p in node.glob("*.profile")), ["process001.profile"])


NODE_COLUMNS = ["Utc Time", "Cpu Percent", "Memory Total (MB)", "Memory Available (MB)",
                "Memory Used (MB)", "Memory Used Percent", "Disk Io Read Count",
                "Disk Io Write Count", "Disk Io Read (MB)", "Disk Io Write (MB)",
                "Network Sent (MB)", "Network Recv (MB)", "# of TCP Connections",
                "# of UDP Connections"]


class ResourceMonitorTest(WorkerSettingsCase):
    """Item 1: logs/sys/perf/<node>/."""

    def perf(self):
        return self.logs() / "sys" / "perf" / "0"

    def test_samples_at_start_every_interval_and_at_the_end(self):
        run = self.run_recorder(["wait_for_monitor"], "--process_count_per_node", "1",
                                "--resource_monitor_interval", "1")
        self.assertExit(run, 0)
        pid = self.recorded()["process000"]["pid"]
        columns, rows = self.csv_rows(self.perf() / "node_resource_usage.csv")
        self.assertEqual(columns, NODE_COLUMNS)
        self.assertGreaterEqual(len(rows), 2)  # the start and the end, at least
        for row in rows:
            self.assertRegex(row["Utc Time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
            self.assertGreater(float(row["Memory Total (MB)"]), 0)
            self.assertLessEqual(float(row["Cpu Percent"]), 100)
        columns, rows = self.csv_rows(self.perf() / "processes_resource_usage.csv")
        self.assertEqual(columns, ["Utc Time", "Process", "Pid", "Parent Pid", "Name", "Status",
                                   "Cpu Percent", "Memory Used (MB)", "Memory Percent", "Threads"])
        workers = [r for r in rows if r["Pid"] == str(pid)]
        self.assertTrue(workers, rows)
        self.assertIn("process000", {r["Process"] for r in workers})
        # The worker is named as soon as it is started; only a start sample
        # that read /proc in between may have seen it unnamed (a child of
        # parallelrun).
        first = rows[0]["Utc Time"]
        self.assertEqual({r["Process"] for r in workers if r["Utc Time"] != first},
                         {"process000"})
        self.assertIn("parallelrun", {r["Process"] for r in rows})
        columns, rows = self.csv_rows(self.perf() / "node_disk_usage.csv")
        self.assertEqual(columns, ["Utc Time", "Device", "Mount Point", "File System",
                                   "Total (MB)", "Used (MB)", "Free (MB)", "Used Percent"])
        hours = list((self.perf() / "processes_cpu_memory_usage").glob("*.csv"))
        self.assertTrue(hours)
        for path in hours:
            self.assertRegex(path.name, r"^\d{10}\.csv$")
            columns, rows = self.csv_rows(path)
            self.assertEqual(columns, ["Utc Time", "Pid", "Name", "Cpu Percent",
                                       "Memory Used (MB)", "Memory Percent"])
        self.assertIn("|resource monitor: a sample now, every 1 s and at the end, in "
                      "logs/sys/perf/0/\n", self.main_log())

    def test_the_default_600_s_samples_the_start_and_the_end(self):
        run = self.run_recorder(["a"], "--process_count_per_node", "1")
        self.assertExit(run, 0)
        _, rows = self.csv_rows(self.perf() / "node_resource_usage.csv")
        self.assertEqual(len(rows), 2)

    def test_0_turns_it_off(self):
        run = self.run_recorder(["a"], "--process_count_per_node", "1",
                                "--resource_monitor_interval", "0")
        self.assertExit(run, 0)
        self.assertEqual(list(self.perf().rglob("*.csv")), [])
        self.assertIn("|resource monitor: off (resource_monitor_interval 0)\n", self.main_log())
