"""Shared helpers of the end-to-end tests: the binary, temp folders, specs and
entry scripts, running parallelrun with a deadline, reading its reports.

The tests run the built `parallelrun` (path in $PARALLELRUN, set by ctest) with
real Python workers ($PARALLELRUN_PYTHON, Debian's /usr/bin/python3). A test
that cannot find the binary is skipped with the reason; it never passes.
"""

import csv
import glob
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
import unittest

HERE = pathlib.Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
SOURCE_DIR = pathlib.Path(os.environ.get("PARALLELRUN_SOURCE_DIR", HERE.parents[1]))
PYTHON = os.environ.get("PARALLELRUN_PYTHON", "/usr/bin/python3")

# Every run gets this long; a test of ours takes a few seconds at most.
RUN_TIMEOUT = 60

# The columns of processed_mini-batches.csv, in the original's order (reference §4.2).
MINI_BATCH_COLUMNS = [
    "Mini-batch Id", "Picked Count", "Process", "Start Time", "Total", "Succeeded", "Failed",
    "Elapsed Seconds", "Process Seconds", "Run Method Seconds", "Status", "Error Category",
    "Error Message", "Mini-batch Detail", "Node",
]

# Arguments parallelrun passes to every entry script, as the original does.
PREDEFINED_ARGS = [
    "--mini_batch_size", "--error_threshold", "--output_action", "--logging_level",
    "--run_invocation_timeout", "--run_max_try", "--process_count_per_node", "--input_fds_0",
]


def binary():
    """The parallelrun binary, or None when $PARALLELRUN does not name one."""
    path = os.environ.get("PARALLELRUN")
    if path and os.access(path, os.X_OK):
        return path
    return None


class Run:
    """The outcome of one parallelrun invocation."""

    def __init__(self, args, returncode, stdout, stderr):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return "parallelrun %s\n--- exit %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            " ".join(self.args), self.returncode, self.stdout[-3000:], self.stderr[-3000:])


class E2ETestCase(unittest.TestCase):
    """Base class: a fresh temp folder per test, and ways to run parallelrun."""

    maxDiff = None

    def setUp(self):
        self.parallelrun = binary()
        if self.parallelrun is None:
            self.skipTest("SKIPPED: $PARALLELRUN does not name the built parallelrun binary; "
                          "run the e2e tests through ctest or set PARALLELRUN")
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="parallelrun-e2e-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    # ---- files --------------------------------------------------------------

    def write(self, relative, text):
        """Writes `text` (dedented) to tmp/relative; returns the path."""
        path = self.tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def copy_script(self, name, dest_dir=None, dest_name=None):
        """Copies tests/e2e/scripts/<name> into tmp (or dest_dir)."""
        dest = pathlib.Path(dest_dir or self.tmp) / (dest_name or name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCRIPTS / name, dest)
        return dest

    def make_files(self, folder, relatives, content=b"x"):
        """Creates the files `relatives` (str or bytes paths) under `folder`."""
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        made = []
        for rel in relatives:
            path = os.path.join(os.fsencode(folder), os.fsencode(rel))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
            made.append(path)
        return made

    def nested_files(self, folder, count):
        """`count` files in a few levels of subfolders; returns their byte paths."""
        rels = []
        for i in range(count):
            depth = i % 3
            parts = ["d%d" % (i % 4)] + ["sub%d" % (i % 2)] * depth
            rels.append(os.path.join(*parts, "f%03d.txt" % i))
        return self.make_files(folder, rels)

    def component_spec(self, entry="record_paths.py", args=None, input_data="inputs.data",
                       inputs=None, relative="component.yaml"):
        """A ParallelComponent spec with input `data` (a folder) and output `out`."""
        inputs = inputs or {"data": "path"}
        lines = ["$schema: https://componentsdk.azureedge.net/jsonschema/ParallelComponent.json",
                 "name: e2e_component", "version: 0.0.1", "type: ParallelComponent",
                 "inputs:"]
        for name, kind in inputs.items():
            lines += ["  %s:" % name, "    type: %s" % kind]
        lines += ["outputs:", "  out:", "    type: path", "parallel:",
                  "  input_data: %s" % input_data, "  output_data: outputs.out",
                  "  entry: %s" % entry]
        if args:
            lines.append("  args: %s" % args)
        return self.write(relative, "\n".join(lines) + "\n")

    # ---- running ------------------------------------------------------------

    def run_parallelrun(self, *args, cwd=None, timeout=RUN_TIMEOUT, env=None):
        """Runs parallelrun with `args`; returns a Run. Fails the test on a hang."""
        environment = dict(os.environ)
        environment["PARALLELRUN_PYTHON"] = PYTHON
        if env:
            environment.update(env)
            # A variable given as None is removed.
            environment = {k: v for k, v in environment.items() if v is not None}
        argv = [self.parallelrun] + [os.fsdecode(a) if isinstance(a, bytes) else str(a)
                                     for a in args]
        try:
            proc = subprocess.run(argv, cwd=str(cwd or self.tmp), env=environment,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.fail("parallelrun %s did not finish in %d s; stderr so far:\n%s"
                      % (" ".join(argv[1:]), timeout,
                         (e.stderr or b"").decode(errors="replace")))
        return Run(argv[1:], proc.returncode, proc.stdout.decode(errors="replace"),
                   proc.stderr.decode(errors="replace"))

    def run_job(self, spec, *args, job_dir="job", progress="none", **kwargs):
        """`parallelrun run spec --job-dir tmp/job_dir --progress none args...`."""
        self.job_dir = self.tmp / job_dir
        return self.run_parallelrun("run", spec, "--job-dir", self.job_dir, "--progress", progress,
                                    *args, **kwargs)

    def assertExit(self, run, code):
        self.assertEqual(run.returncode, code, repr(run))

    def assertUsageError(self, run, message):
        """Exit 2, stderr is exactly the message (after the prefix), nothing on stdout."""
        self.assertExit(run, 2)
        self.assertEqual(run.stderr, "parallelrun: error: %s\n" % message, repr(run))
        self.assertEqual(run.stdout, "")

    # ---- reports ------------------------------------------------------------

    def logs(self, job_dir=None):
        return pathlib.Path(job_dir or self.job_dir) / "logs"

    def mini_batch_rows(self, job_dir=None):
        """processed_mini-batches.csv as a list of dicts, header checked."""
        path = self.logs(job_dir) / "sys" / "job_report" / "processed_mini-batches.csv"
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
            reader = csv.DictReader(f)
            self.assertEqual(reader.fieldnames, MINI_BATCH_COLUMNS)
            return list(reader)

    def sorted_rows(self, job_dir=None):
        """mini_batch_rows() by (Mini-batch Id, Picked Count); the file has them
        in the order attempts finished."""
        return sorted(self.mini_batch_rows(job_dir),
                      key=lambda r: (int(r["Mini-batch Id"]), int(r["Picked Count"])))

    def summary_rows(self, name, job_dir=None):
        """process_summary.csv / node_summary.csv as a list of dicts."""
        path = self.logs(job_dir) / "sys" / "job_report" / name
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def workers_of_node(self, node=0, job_dir=None):
        """(started, not started) worker names from a node's log. Workers are
        forked one after the other: one not forked yet when the work ran out
        is not started, and the node log says so."""
        main = (self.logs(job_dir) / "sys" / "node" / str(node) / "_main.txt").read_text()
        started = re.findall(r"\|(process\d+) started \(pid", main)
        not_started = re.findall(r"\|(process\d+) is not started: no work is left", main)
        return sorted(started), sorted(not_started)

    def job_loop_runs(self, job_dir, node=0):
        """Whether the job's loop runs (it takes stop signals from then on): a
        worker was started. Not the job dir's folders: a new job dir is made
        while Python starts, and a stop signal then undoes the start."""
        main = pathlib.Path(job_dir) / "logs" / "sys" / "node" / str(node) / "_main.txt"
        try:
            return re.search(r"\|process\d+ started \(pid", main.read_text()) is not None
        except FileNotFoundError:
            return False

    def recorded_paths(self, out_dir):
        """{process file name: [byte paths]} written by scripts/record_paths.py."""
        recorded = {}
        for path in sorted(glob.glob(os.path.join(str(out_dir), "paths_*.hex"))):
            with open(path) as f:
                recorded[os.path.basename(path)] = [bytes.fromhex(line) for line in f.read().split()]
        return recorded

    def recorded_argv(self, out_dir):
        """[(process name, argv, env subset)] written by scripts/record_paths.py at init()."""
        seen = []
        for path in sorted(glob.glob(os.path.join(str(out_dir), "argv_*.json"))):
            with open(path) as f:
                seen.append(json.load(f))
        return seen

    def wait_until(self, condition, what, timeout=30, alive=(), describe=lambda: ""):
        """Polls `condition` until it is true; fails the test after `timeout` s, or
        at once when a process in `alive` (Popen-like, with poll()) has exited."""
        deadline = time.monotonic() + timeout
        while not condition():
            for proc in alive:
                if proc.poll() is not None:
                    self.fail("a process exited (%s) while waiting for %s\n%s"
                              % (proc.poll(), what, describe()))
            if time.monotonic() > deadline:
                self.fail("no %s within %d s\n%s" % (what, timeout, describe()))
            time.sleep(0.02)

    def faulty_job(self, items):
        """Sets up a job of faulty.py: one input file per item of `items` ({file
        name: faulty.py's commands}), a state folder; returns the spec path."""
        self.copy_script("faulty.py")
        spec = self.component_spec(entry="faulty.py")
        self.input_dir = self.tmp / "in"
        self.input_dir.mkdir()
        for name, commands in items.items():
            (self.input_dir / name).write_text(commands + "\n")
        self.state = self.tmp / "state"
        self.state.mkdir()
        return spec

    def assertSucceededReport(self, job_dir=None):
        """job_result.txt says the job succeeded; readme and overview exist."""
        logs = self.logs(job_dir)
        result = (logs / "job_result.txt").read_text()
        self.assertTrue(result.startswith("Job succeeded.\n"), result)
        self.assertTrue((logs / "readme.txt").is_file())
        self.assertEqual(len(list(logs.glob("job_progress_overview.[0-9]*.txt"))), 1,
                         sorted(os.listdir(logs)))
        error = logs / "job_error.txt"
        self.assertFalse(error.exists(), "job_error.txt on success:\n%s" %
                         (error.read_text() if error.exists() else ""))
        self.assertLogsAsReadmeSays(job_dir)

    def assertLogsAsReadmeSays(self, job_dir=None, nodes=("0",)):
        """logs/readme.txt (generated from lib/base/job_dir.h's table) and the
        logs agree: every folder it lists under logs/ exists for each of
        `nodes`, and nothing is under logs/ that it does not describe."""
        job = pathlib.Path(job_dir or self.job_dir)
        readme = (job / "logs" / "readme.txt").read_text()
        # An entry's path starts a line; prose and wrapped descriptions do not.
        entries = [line.split(" ")[0] for line in readme.splitlines()
                   if line and not line.startswith(" ") and "/" in line.split(" ")[0]]
        logs_entries = [e for e in entries if e.startswith("logs/")]
        self.assertIn("logs/readme.txt", logs_entries, readme)
        placeholders = {"<node>": r"[0-9]+", "processNNN": r"process[0-9]{3,}", "<n>": r"[0-9]+",
                        "<yyyymmddhh>": r"[0-9]{10}"}

        def regex(pattern):
            out = re.escape(pattern)
            for name, value in placeholders.items():
                out = out.replace(re.escape(name), value)
            return out

        folders, described = set(), []
        for entry in logs_entries:
            parts = entry.rstrip("/").split("/")
            for i in range(1, len(parts)):  # every folder above the entry
                folders.add("/".join(parts[:i]) + "/")
            if entry.endswith("/"):  # a folder entry describes what is inside it
                folders.add(entry)
                described.append(re.compile(regex(entry) + r".*"))
            else:
                described.append(re.compile(regex(entry)))
        described += [re.compile(regex(f)) for f in folders]
        for folder in folders:
            for node in nodes:
                path = job / folder.replace("<node>", node)
                self.assertTrue(path.is_dir(), "%s is in readme.txt but missing" % path)
        for root, dirs, files in os.walk(job / "logs"):
            rel = pathlib.Path(root).relative_to(job).as_posix()
            for name in [d + "/" for d in dirs] + files:
                path = rel + "/" + name
                self.assertTrue(any(d.fullmatch(path) for d in described),
                                "%s is under logs/ but readme.txt does not describe it" % path)


# ---- processes -------------------------------------------------------------

def process_gone(pid):
    """True when `pid` no longer runs (a zombie waiting for its reaper is gone too)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def group_members(pgid):
    """The live pids whose process group is `pgid`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            found.append(int(name))
    return found


def argv_options(argv):
    """The `--name value` / `--name=value` pairs of argv as a dict of lists."""
    found = {}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word.startswith("--"):
            if "=" in word:
                name, value = word.split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                name, value = word, argv[i + 1]
                i += 1
            else:
                name, value = word, None
            found.setdefault(name, []).append(value)
        i += 1
    return found
