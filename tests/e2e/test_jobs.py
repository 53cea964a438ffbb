"""End to end: `parallelrun jobs` lists the job dirs under ./parallelrun-jobs
(or --root) with their outcome, size and age, and `--clean --keep N` removes
old ones but never one whose job is running."""

import os
import re
import subprocess
import unittest

import helpers
from helpers import E2ETestCase

FAILING_SCRIPT = """
    def run(mini_batch):
        raise ValueError("no")
    """

ROW = r"^(?P<name>\S+)\s+(?P<outcome>\S+(?: \(pid \d+\))?)\s+(?P<size>[\d.]+ [KMG]?B)\s+(?P<age>\d+[smhd])(?P<rest>.*)$"


class JobsTest(E2ETestCase):

    def rows(self, run):
        self.assertExit(run, 0)
        lines = run.stdout.splitlines()
        self.assertRegex(lines[0], r"^JOB\s+OUTCOME\s+SIZE\s+AGE$")
        rows = [re.match(ROW, line) for line in lines[1:-1]]
        self.assertTrue(all(rows), lines)
        return lines[-1], [(m["name"], m["outcome"], m["rest"].strip()) for m in rows]

    def test_lists_outcomes_and_cleans_all_but_running(self):
        self.copy_script("wait_for_release.py")
        self.write("fail.py", FAILING_SCRIPT)
        self.make_files(self.tmp / "data", ["a.txt", "b.txt"])
        ok_spec = self.component_spec(entry="wait_for_release.py", relative="ok.yaml")
        fail_spec = self.component_spec(entry="fail.py", relative="fail.yaml")
        release = self.tmp / "release"
        release.touch()
        env = {"E2E_RELEASE_FILE": str(release)}
        self.assertExit(self.run_parallelrun("run", ok_spec, "-i", "data=data", "--progress", "none",
                                             env=env), 0)
        self.assertExit(self.run_parallelrun("run", fail_spec, "-i", "data=data", "--progress",
                                             "none", "--run_max_try", "1", "--error_threshold", "0"), 1)
        finished = sorted(p.name for p in (self.tmp / "parallelrun-jobs").iterdir())
        self.assertEqual(len(finished), 2)

        # A third job held inside run() until the release file exists again.
        release.unlink()
        proc = subprocess.Popen(
            [self.parallelrun, "run", str(ok_spec), "-i", "data=data", "--progress", "none",
             "--process_count_per_node", "1"],
            cwd=str(self.tmp), env=dict(os.environ, PARALLELRUN_PYTHON=helpers.PYTHON, **env),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def listing():
            return self.rows(self.run_parallelrun("jobs"))

        running = "running (pid %d)" % proc.pid
        self.wait_until(lambda: any(o == running for _, o, _ in listing()[1]),
                        "the held job listed as running", alive=[proc],
                        describe=lambda: self.run_parallelrun("jobs").stdout)
        total, rows = listing()
        self.assertEqual(len(rows), 3, rows)
        by_outcome = {outcome: (name, rest) for name, outcome, rest in rows}
        self.assertEqual(sorted(by_outcome), sorted(["succeeded", "failed", running]))
        self.assertEqual(rows[2][1], running)  # oldest first
        self.assertTrue(by_outcome["failed"][1].startswith("error_threshold"), rows)  # the reason
        self.assertRegex(total, r"^3 job dirs, [\d.]+ [KM]?B in parallelrun-jobs$")

        # --root names another folder; the same listing.
        elsewhere = self.run_parallelrun("jobs", "--root", self.tmp / "parallelrun-jobs", cwd="/")
        self.assertEqual(self.rows(elsewhere)[1], rows)

        clean = self.run_parallelrun("jobs", "--clean", "--keep", "0")
        self.assertExit(clean, 0)
        lines = clean.stdout.splitlines()
        self.assertEqual(len(lines), 4, lines)
        self.assertRegex(lines[0], r"^removed %s \((succeeded|failed), [\d.]+ [KM]?B, \d+[smhd] old\)$"
                         % re.escape(finished[0]))
        self.assertRegex(lines[1], r"^removed %s \((succeeded|failed), " % re.escape(finished[1]))
        held = [name for name, outcome, _ in rows if outcome == running][0]
        self.assertEqual(lines[2], "kept %s: %s" % (held, running))
        self.assertRegex(lines[3], r"^removed 2 job dirs \([\d.]+ [KM]?B\) from parallelrun-jobs; "
                                   r"1 left$")
        self.assertEqual([p.name for p in (self.tmp / "parallelrun-jobs").iterdir()], [held])

        release.touch()
        try:
            proc.wait(timeout=helpers.RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("the held job did not finish after the release")
        self.assertEqual(proc.returncode, 0, proc.stderr.read().decode(errors="replace"))
        self.assertEqual(listing()[1], [(held, "succeeded", "")])

    def test_keep_spares_the_newest(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.make_files(self.tmp / "data", ["a.txt"])
        spec = self.component_spec(entry="score.py")
        for _ in range(3):
            self.assertExit(self.run_parallelrun("run", spec, "-i", "data=data", "--progress",
                                                 "none"), 0)
        names = [name for name, _, _ in self.rows(self.run_parallelrun("jobs"))[1]]
        self.assertEqual(len(names), 3)
        clean = self.run_parallelrun("jobs", "--clean", "--keep", "2")
        self.assertExit(clean, 0)
        self.assertTrue(clean.stdout.startswith("removed %s (succeeded, " % names[0]), clean.stdout)
        self.assertEqual([name for name, _, _ in self.rows(self.run_parallelrun("jobs"))[1]],
                         names[1:])

    def test_no_job_dirs_and_usage_errors(self):
        run = self.run_parallelrun("jobs")
        self.assertExit(run, 0)
        self.assertEqual(run.stdout, "no job dirs: parallelrun-jobs does not exist\n")
        (self.tmp / "parallelrun-jobs").mkdir()
        self.assertEqual(self.run_parallelrun("jobs").stdout, "no job dirs in parallelrun-jobs\n")
        (self.tmp / "plain").write_text("x")
        self.assertUsageError(self.run_parallelrun("jobs", "--root", "plain"),
                              "--root plain: not a folder")
        self.assertUsageError(self.run_parallelrun("jobs", "--clean", "--keep", "-1"),
                              "--keep -1: give the number of newest job dirs to keep (0 or more)")


if __name__ == "__main__":
    unittest.main()
