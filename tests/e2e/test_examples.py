"""The examples/ folders, run as a newcomer runs them: each run.sh, twice.

Each example makes its data once under a work folder of its own (an
environment variable names it; by default build/examples/<name>), never in
the source tree, and starts from an empty output folder, so that a second
run gives the same result. A run must leave examples/ exactly as it was —
no parallelrun-jobs/, no __pycache__ — since the README's first command
runs an example and its second runs these tests in the same clone.
"""

import os
import subprocess
import unittest

import helpers
from helpers import E2ETestCase

EXAMPLES = helpers.SOURCE_DIR / "examples"


def source_tree():
    return sorted(os.path.join(d, n) for d, _, names in os.walk(EXAMPLES) for n in names)


def python_has(module):
    return subprocess.run([helpers.PYTHON, "-c", "import " + module],
                          capture_output=True).returncode == 0


class ExamplesTest(E2ETestCase):
    def run_example(self, name, env_var, size_var, size, expected_last_line, output):
        """Runs examples/<name>/run.sh twice; returns the output file's lines."""
        before = source_tree()
        work = self.tmp / name
        env = dict(os.environ, PARALLELRUN=self.parallelrun, PARALLELRUN_PYTHON=helpers.PYTHON)
        env[env_var] = str(work)
        env[size_var] = str(size)
        results = []
        for attempt in range(2):
            done = subprocess.run(["/bin/bash", str(EXAMPLES / name / "run.sh"),
                                   "--progress", "none"],
                                  cwd=str(self.tmp), env=env, capture_output=True, text=True,
                                  timeout=helpers.RUN_TIMEOUT)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout.splitlines()[-1],
                             expected_last_line % {"work": work}, done.stdout)
            results.append((work / "out" / output).read_text().splitlines())
        self.assertEqual(results[1], results[0])
        self.assertEqual(len(list((work / "parallelrun-jobs").iterdir())), 2)
        self.assertEqual(source_tree(), before)
        self.assertFalse((EXAMPLES / name / "parallelrun-jobs").exists())
        return results[0]

    def test_table_score(self):
        if not python_has("pandas"):
            self.skipTest("SKIPPED: pandas is not installed in %s (a table input needs it)"
                          % helpers.PYTHON)
        work = self.tmp / "table_score"
        # The readings the script should flag, from the data make_data.py writes.
        subprocess.run([helpers.PYTHON, str(EXAMPLES / "table_score" / "make_data.py"), "600",
                        str(work)], check=True, capture_output=True, timeout=60)
        expected = []
        for path in sorted((work / "readings" / "data").glob("*.csv")):
            for line in path.read_text().splitlines()[1:]:
                sensor, minute, celsius = line.split(",")[:3]
                status = "hot" if float(celsius) > 30 else "ok"
                expected.append("%s %s %s %s" % (sensor, minute, celsius, status))
        hot = sum(1 for line in expected if line.endswith(" hot"))
        self.assertGreater(hot, 0)
        lines = self.run_example("table_score", "TABLE_SCORE_DIR", "TABLE_SCORE_ROWS", 600,
                                 "flagged: %d of 600 readings in %%(work)s/out/flagged.txt" % hot,
                                 "flagged.txt")
        # Every row once, in mini-batch order: the files in name order.
        self.assertEqual(lines, expected)
        # Byte ranges of ~8 KB: the three files of ~6 KB each are one
        # mini-batch each; the report counts rows as items.
        job = sorted((work / "parallelrun-jobs").iterdir())[0]
        rows = self.mini_batch_rows(job)
        self.assertEqual(sum(int(r["Total"]) for r in rows), 600)

    def test_sales_by_store(self):
        if not python_has("pandas"):
            self.skipTest("SKIPPED: pandas is not installed in %s (a table input needs it)"
                          % helpers.PYTHON)
        lines = self.run_example("sales_by_store", "SALES_BY_STORE_DIR", "SALES_BY_STORE_WEEKS",
                                 10, "weeks: 180 lines of 9 stores in %(work)s/out/weeks.txt",
                                 "weeks.txt")
        by_store = {}
        for line in lines:
            region, store, year, week, units, revenue, total = line.split()
            by_store.setdefault((region, store), []).append((float(revenue), float(total)))
        self.assertEqual(sorted(by_store), [
            ("north", "n1"), ("north", "n2"), ("north", "n3"), ("south", "s1"), ("south", "s2"),
            ("west", "w1"), ("west", "w2"), ("west", "w3"), ("west", "w4")])
        for store, weeks in by_store.items():
            # One mini-batch held the store's two files: its total is theirs.
            self.assertEqual(len(weeks), 20, store)
            self.assertEqual({t for _, t in weeks}, {weeks[0][1]})
            self.assertAlmostEqual(sum(r for r, _ in weeks), weeks[0][1], places=1)

    def test_every_example_has_a_run_sh_and_a_test(self):
        # batch_score is run by test_run_files (its scores checked there),
        # pipeline by test_pipeline.
        tested = {"batch_score", "table_score", "sales_by_store", "pipeline"}
        # Launcher files for a cluster, not run.sh: test_slurm submits the
        # sbatch script to a real Slurm; kubernetes_manifest_test (unit
        # tests) and test_kubernetes_manifest resolve every pod's role from
        # the manifest, the latter forming a job of its pods on loopback.
        launchers = {"slurm": "parallelrun.sbatch", "kubernetes": "job.yaml"}
        folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
        self.assertEqual(folders, tested | set(launchers))
        for name in tested:
            self.assertTrue(os.access(EXAMPLES / name / "run.sh", os.X_OK), name)
        for name, launcher in launchers.items():
            self.assertTrue((EXAMPLES / name / launcher).is_file(), name)
        self.assertTrue(os.access(EXAMPLES / "slurm" / "parallelrun.sbatch", os.X_OK))


if __name__ == "__main__":
    unittest.main()
