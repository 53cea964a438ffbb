"""End to end: the command line itself — --version, --help, validate,
--dry-run and --progress."""

import os
import re
import subprocess
import unittest

import helpers
from helpers import E2ETestCase

# Every run setting, canonical (driver) spelling; --help must show both.
SETTINGS = [
    "mini_batch_size", "process_count_per_node", "node_count", "error_threshold",
    "allowed_failed_count", "allowed_failed_percent", "run_invocation_timeout", "run_max_try",
    "logging_level", "output_action", "append_row_file_name", "partition_keys",
    "task_overhead_timeout", "progress_update_timeout", "first_task_creation_timeout",
    "resource_monitor_interval", "profiling_module", "nice", "straggler_factor",
    "copy_logs_to_parent",
    "push_metrics_to_parent", "metrics_name_prefix", "cleanup_leaked_queues",
]

MARKER_SCRIPT = """
    import os
    open(os.path.join(os.getcwd(), "worker-ran"), "w").close()

    def init():
        pass

    def run(mini_batch):
        return mini_batch
    """

PROGRESS_LINE = re.compile(r"^parallelrun: \d+:\d\d:\d\d \d+/\d+\+? (\(listing\) )?mini-batches, ")


def project_version():
    text = (helpers.SOURCE_DIR / "CMakeLists.txt").read_text()
    return re.search(r"project\(parallelrun VERSION (\S+)", text).group(1)


class CliTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.write("score.py", MARKER_SCRIPT)
        self.make_files(self.tmp / "data", ["a.txt", "b.txt", "c.txt"])

    def test_version(self):
        run = self.run_parallelrun("--version")
        self.assertExit(run, 0)
        self.assertEqual(run.stdout, "parallelrun %s\n" % project_version())
        self.assertEqual(run.stderr, "")

    def check_settings_listed(self, text):
        for name in SETTINGS:
            with self.subTest(setting=name):
                self.assertRegex(text, r"--%s\b" % re.escape(name.replace("_", "-")))
                self.assertRegex(text, r"--%s\b" % re.escape(name))

    def test_run_help_lists_settings_in_both_spellings(self):
        run = self.run_parallelrun("run", "--help")
        self.assertExit(run, 0)
        self.check_settings_listed(run.stdout)
        for flag in ("--job-dir", "--python", "--progress", "--dry-run", "-i", "-o"):
            self.assertIn(flag, run.stdout)

    def test_help_lists_settings_in_both_spellings(self):
        run = self.run_parallelrun("--help")
        self.assertExit(run, 0)
        self.assertIn("run", run.stdout)
        self.assertIn("validate", run.stdout)
        self.check_settings_listed(run.stdout)

    def test_no_subcommand_is_a_usage_error(self):
        run = self.run_parallelrun()
        self.assertUsageError(run, "give a subcommand (run, resume, validate, jobs, report, "
                                   "tune); 'parallelrun help' says more")

    def test_misspelt_subcommand_gets_a_suggestion(self):
        self.assertUsageError(self.run_parallelrun("runn", "x.yaml"),
                              "unknown subcommand 'runn'; did you mean 'run'?")
        self.assertUsageError(self.run_parallelrun("valdiate", "x.yaml"),
                              "unknown subcommand 'valdiate'; did you mean 'validate'?")
        self.assertUsageError(self.run_parallelrun("x.yaml"),
                              "unknown subcommand 'x.yaml'; to run a spec, say "
                              "'parallelrun run x.yaml'")
        self.assertUsageError(self.run_parallelrun("frobnicate"),
                              "unknown subcommand 'frobnicate'; the subcommands are run, "
                              "resume, validate, jobs, report, tune")

    def test_help_and_version_as_words(self):
        for args in (["help"], ["--help"]):
            with self.subTest(args=args):
                run = self.run_parallelrun(*args)
                self.assertExit(run, 0)
                self.assertIn("Usage: parallelrun [OPTIONS] SUBCOMMAND", run.stdout)
        for args in (["version"], ["-v"], ["--version"]):
            with self.subTest(args=args):
                run = self.run_parallelrun(*args)
                self.assertExit(run, 0)
                self.assertEqual(run.stdout, "parallelrun %s\n" % project_version())
        run = self.run_parallelrun("help", "validate")
        self.assertExit(run, 0)
        self.assertEqual(run.stdout, self.run_parallelrun("validate", "--help").stdout)

    def test_subcommand_help_is_its_own(self):
        run = self.run_parallelrun("validate", "--help")
        self.assertExit(run, 0)
        self.assertTrue(run.stdout.startswith("Check a component spec and its entry script, "),
                        run.stdout)
        self.assertIn("Usage: parallelrun validate [OPTIONS] spec", run.stdout)
        self.assertIn("Print this subcommand's help and exit", run.stdout)
        self.assertNotIn("all subcommands", run.stdout)
        # validate takes run's flags, so that a bound job can be checked;
        # not what only a run does.
        self.assertIn("--mini-batch-size", run.stdout)
        self.assertIn("--set", run.stdout)
        self.assertNotIn("--dry-run", run.stdout)
        self.assertNotIn("--resume", run.stdout)
        # Usage lines name the command, never the path of the binary.
        for args in (["--help"], ["run", "--help"], ["jobs", "--help"]):
            with self.subTest(args=args):
                text = self.run_parallelrun(*args).stdout
                self.assertNotIn(self.parallelrun, text)
                self.assertIn("Usage: parallelrun ", text)

    def test_validate_good_spec(self):
        spec = self.component_spec(entry="score.py")
        run = self.run_parallelrun("validate", spec)
        self.assertExit(run, 0)
        lines = run.stdout.splitlines()
        self.assertEqual(lines[:3], [
            "%s: valid ParallelComponent spec 'e2e_component'" % spec,
            "  input  data (path)  <- split into mini-batches",
            "  output out (path)",
        ])
        self.assertRegex(lines[3], r"^  entry script %s \(defines init: yes\) with Python "
                         r"3\.\d+\.\d+ \(.+\)$" % re.escape(str(self.tmp / "score.py")))
        self.assertEqual(len(lines), 4)
        self.assertFalse((self.tmp / "worker-ran").exists())

    def test_validate_broken_spec(self):
        spec = self.write("typo.yaml", """
            name: typo
            version: 1
            type: ParallelComponent
            inputs:
              data: {type: path}
            outputs:
              out: {type: path}
            parallel:
              input_data: inputs.data
              output_data: outputs.out
              entry: score.py
              mini_batch_size: 10
            """)
        run = self.run_parallelrun("validate", spec)
        self.assertUsageError(
            run, "%s:12:3: unknown key 'mini_batch_size' in parallel; allowed keys: "
                 "input_data, output_data, entry, args\n"
                 "    mini_batch_size: 10\n"
                 "    ^" % spec)

    def test_dry_run_prints_plan_and_runs_nothing(self):
        spec = self.component_spec(entry="score.py", args="--fixed {inputs.data}")
        self.make_files(self.tmp / "data", ["sub/d.txt"])
        run = self.run_parallelrun("run", spec, "-i", "data=data", "-o", "out=out",
                                   "--mini_batch_size", "2", "--process_count_per_node", "2",
                                   "--dry-run", "--extra", "it's")
        self.assertExit(run, 0)
        # The plan is on stdout (`> plan.txt` keeps it); stderr has no more than notes.
        self.assertEqual(run.stderr, "")
        lines = run.stdout.splitlines()
        data, out = self.tmp / "data", self.tmp / "out"
        self.assertEqual(lines[:3], [
            "dry run: nothing was started or created",
            "spec: %s (ParallelComponent 'e2e_component')" % spec,
            lines[2]])
        self.assertRegex(lines[2], r"^would run: 2 workers of Python 3\.\d+\.\d+ \(%s, from "
                         r"PARALLELRUN_PYTHON\)$" % re.escape(helpers.PYTHON))
        self.assertRegex(lines[3], r"^job dir: %s/parallelrun-jobs/e2e_component-\d{8}-\d{6}$"
                         % re.escape(str(self.tmp)))
        self.assertEqual(lines[4:8], [
            "input data: %s: 4 files in 2 mini-batches of 2 files" % data,
            "  mini-batch 0 (2 files, 2 B): a.txt, b.txt",
            "  mini-batch 1 (2 files, 2 B): c.txt, sub/d.txt",
            "output out: %s" % out,
        ])
        self.assertEqual(
            lines[8],
            "entry script: %s --fixed %s --extra 'it'\\''s' "
            "--scoring_module_name %s --mini_batch_size 2 --error_threshold -1 "
            "--output_action summary_only --logging_level INFO --run_invocation_timeout 60 "
            "--run_max_try 3 --output %s --process_count_per_node 2 --input_fds_0 %s"
            % (self.tmp / "score.py", data, self.tmp / "score.py", out, data))
        self.assertEqual(len(lines), 9, lines)
        self.assertNotIn("role", run.stdout)
        self.assertFalse((self.tmp / "parallelrun-jobs").exists())
        self.assertFalse(out.exists())
        self.assertFalse((self.tmp / "worker-ran").exists())

    def test_dry_run_shows_the_first_mini_batches_and_counts_all(self):
        self.make_files(self.tmp / "many", ["f%03d.txt" % i for i in range(95)])
        spec = self.component_spec(entry="score.py")
        run = self.run_parallelrun("run", spec, "-i", "data=many", "--mini_batch_size", "7",
                                   "--dry-run")
        self.assertExit(run, 0)
        lines = run.stdout.splitlines()
        start = lines.index("input data: %s: 95 files in 14 mini-batches of 7 files"
                            % (self.tmp / "many"))
        self.assertEqual(lines[start + 1], "  mini-batch 0 (7 files, 7 B): f000.txt, f001.txt, f002.txt, "
                                           "f003.txt, f004.txt, … (7 in all)")
        self.assertEqual(lines[start + 10][:15], "  mini-batch 9 ")
        self.assertEqual(lines[start + 11], "  … 4 more mini-batches")
        # An output without -o goes to the job dir: the plan says where, and
        # stderr says it is a default.
        job_dir = lines[3][len("job dir: "):]
        self.assertIn("output out: %s/outputs/out" % job_dir, lines)
        self.assertIn("output out has no -o", run.stderr)
        self.assertFalse((self.tmp / "parallelrun-jobs").exists())

    def test_progress_plain(self):
        # A plain progress line comes every few seconds, so the job is held
        # open (run() waits for a release file) until the line is seen.
        self.copy_script("wait_for_release.py")
        spec = self.component_spec(entry="wait_for_release.py")
        release = self.tmp / "release"
        job = self.tmp / "job"
        env = dict(os.environ, PARALLELRUN_PYTHON=helpers.PYTHON, E2E_RELEASE_FILE=str(release))
        proc = subprocess.Popen(
            [self.parallelrun, "run", str(spec), "-i", "data=data", "-o", "out=out",
             "--job-dir", str(job), "--progress", "plain", "--mini_batch_size", "1",
             "--process_count_per_node", "1"],
            cwd=str(self.tmp), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        seen = []
        # Ends at the progress line, or at EOF: run() gives up after 30 s.
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            seen.append(line)
            if PROGRESS_LINE.match(line):
                break
        release.touch()
        try:
            stdout, rest = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("parallelrun did not finish after the release")
        stderr = "\n".join(seen) + "\n" + rest.decode(errors="replace")
        self.assertTrue(any(PROGRESS_LINE.match(l) for l in seen), stderr)
        progress = [l for l in seen if PROGRESS_LINE.match(l)][0]
        self.assertRegex(progress, r"^parallelrun: 0:00:0\d 0/3 mini-batches, 0/3 items ok, "
                                   r"0\.0 items/s, workers: 1 (busy|in init\(\)|starting)$")
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertEqual(stdout, b"")
        self.assertNotIn("\r", stderr)
        self.assertNotIn("\x1b", stderr)
        lines = stderr.splitlines()
        self.assertTrue(all(l.startswith("parallelrun: ") for l in lines), lines)
        self.assertEqual(lines[-1], "parallelrun: job succeeded; job dir %s" % job)
        self.assertEqual(len(self.mini_batch_rows(job)), 3)

    def test_progress_none(self):
        spec = self.component_spec(entry="score.py")
        # run_job passes --progress none.
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--mini_batch_size", "1")
        self.assertExit(run, 0)
        self.assertEqual(run.stdout, "")
        lines = run.stderr.splitlines()
        self.assertFalse(any(PROGRESS_LINE.match(l) for l in lines), run.stderr)
        self.assertNotIn("\r", run.stderr)
        self.assertNotIn("\x1b", run.stderr)
        self.assertEqual(lines[-1], "parallelrun: job succeeded; job dir %s" % self.job_dir)
        self.assertEqual(len(self.mini_batch_rows()), 3)

    def test_one_machine_says_what_runs_in_one_line(self):
        spec = self.component_spec(entry="score.py")
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--process_count_per_node", "2")
        self.assertExit(run, 0)
        lines = run.stderr.splitlines()
        self.assertRegex(lines[0], r"^parallelrun: running 2 workers of Python 3\.\d+\.\d+ "
                         r"\(%s, from PARALLELRUN_PYTHON\); job dir %s$"
                         % (re.escape(helpers.PYTHON), re.escape(str(self.job_dir))))
        # What runs, the summary table, the outcome.
        self.assertEqual(lines[1:7], [
            "parallelrun: summary            mini-batches       items",
            "parallelrun:   succeeded                   1           3",
            "parallelrun:   failed                      0           0",
            "parallelrun:   total                       1           3",
            "parallelrun:   retried                     0           0",
            lines[6]], lines)
        self.assertRegex(lines[6], r"^parallelrun:   attempts 1, elapsed 0:00:\d\d, throughput ")
        self.assertEqual(lines[7:], ["parallelrun: job succeeded; job dir %s" % self.job_dir])
        # Cluster words stay on clusters; the node log still says why.
        self.assertNotIn("role", run.stderr)
        self.assertNotIn("rank", run.stderr)
        node_log = (self.logs() / "sys" / "node" / "0" / "_main.txt").read_text()
        self.assertIn("role: single node", node_log)

    def test_the_end_names_the_log_of_what_the_script_printed(self):
        self.write("chatty.py", """
            import sys

            def init():
                print("hello from init")

            def run(mini_batch):
                return mini_batch
            """)
        spec = self.component_spec(entry="chatty.py")
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--process_count_per_node", "1")
        self.assertExit(run, 0)
        lines = run.stderr.splitlines()
        log = self.logs() / "user" / "stdout" / "0" / "process000.stdout.txt"
        self.assertEqual(lines[-2:], [
            "parallelrun: the entry script printed to stdout: see %s" % log,
            "parallelrun: job succeeded; job dir %s" % self.job_dir])
        self.assertEqual(log.read_text(), "hello from init\n")
        self.assertNotIn("printed to stderr", run.stderr)

        # Several workers: the folder, with the files named. run() waits
        # (bounded) until both workers are past init(): a worker still in
        # init() when the work runs out is stopped and prints nothing.
        self.write("chatty.py", """
            import os, sys, time

            READY = os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], "..", "ready")

            def init():
                print("to stdout")
                print("to stderr", file=sys.stderr)
                os.makedirs(READY, exist_ok=True)
                open(os.path.join(READY, str(os.getpid())), "w").close()

            def run(mini_batch):
                deadline = time.monotonic() + 30
                while len(os.listdir(READY)) < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                return mini_batch
            """)
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--process_count_per_node", "2",
                           job_dir="job2")
        self.assertExit(run, 0)
        logs = self.logs()
        self.assertEqual(run.stderr.splitlines()[-3:-1], [
            "parallelrun: the entry script printed to stdout: see %s/ (2 files: "
            "process000.stdout.txt, process001.stdout.txt)" % (logs / "user" / "stdout" / "0"),
            "parallelrun: the entry script printed to stderr: see %s/ (2 files: "
            "process000.stderr.txt, process001.stderr.txt)" % (logs / "user" / "stderr" / "0")])

    def test_progress_unknown_value(self):
        spec = self.component_spec(entry="score.py")
        run = self.run_parallelrun("run", spec, "-i", "data=data", "-o", "out=out",
                                   "--progress", "fancy")
        self.assertUsageError(run, "--progress 'fancy' is not valid: give auto, bar, plain "
                                   "or none")
        self.assertFalse((self.tmp / "parallelrun-jobs").exists())
        self.assertFalse((self.tmp / "worker-ran").exists())


if __name__ == "__main__":
    unittest.main()
