"""`parallelrun validate` checks what `run` checks before starting workers
(issue 10 item 7): the spec, the bindings given with run's flags (-i, -o,
--set, settings), the settings' ranges, the inputs given, the entry script
in the chosen interpreter — and lists every problem, not only the first. A
spec that does not parse stops the rest. Nothing is started or created.
"""

import os
import unittest

import helpers
from helpers import E2ETestCase


class ValidateTest(E2ETestCase):
    def spec(self, entry="score.py"):
        return self.component_spec(entry=entry, inputs={"data": "path", "model": "path",
                                                         "rate": "Integer"},
                                   input_data="inputs.data")

    def test_a_bound_job_is_checked_like_a_run(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.make_files(self.tmp / "data", ["a.txt"])
        self.make_files(self.tmp / "model", ["m.bin"])
        spec = self.spec()
        run = self.run_parallelrun("validate", spec, "-i", "data=data", "-i", "model=model",
                                   "-i", "rate=3", "--mini_batch_size", "5")
        self.assertExit(run, 0)
        self.assertIn("%s: valid ParallelComponent spec 'e2e_component'" % spec, run.stdout)
        self.assertIn("  bound  data = %s (files)" % (self.tmp / "data"), run.stdout)
        self.assertFalse((self.tmp / "parallelrun-jobs").exists())

    def test_every_independent_problem_is_listed(self):
        # A script that does not compile, an input that does not exist, a
        # parameter that is not a number, two bad settings, a misspelt input.
        self.write("score.py", "def run(mini_batch)\n    return mini_batch\n")
        spec = self.spec()
        run = self.run_parallelrun("validate", spec, "-i", "data=nowhere", "-i", "rate=fast",
                                   "-i", "modle=model", "--mini_batch_size", "0",
                                   "--run_max_try", "x")
        self.assertExit(run, 2)
        self.assertEqual(run.stdout, "")
        lines = run.stderr.splitlines()
        self.assertEqual(lines[0], "parallelrun: error: 6 problems:")
        problems = lines[1:]
        self.assertEqual(problems[0], "  input rate: 'fast' is not an integer")
        self.assertEqual(problems[1], "  -i modle: the spec has no input 'modle' (did you mean "
                                      "'model'?); its inputs are: data, model, rate")
        self.assertTrue(problems[2].startswith("  setting --mini_batch_size: '0' is not valid"),
                        problems[2])
        self.assertTrue(problems[3].startswith("  setting --run_max_try: 'x' is not valid"),
                        problems[3])
        self.assertTrue(problems[4].startswith("  input data: %s" % (self.tmp / "nowhere")),
                        problems[4])
        self.assertIn("score.py", "\n".join(problems[5:]))
        self.assertFalse((self.tmp / "parallelrun-jobs").exists())

    def test_one_problem_is_said_as_itself(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        run = self.run_parallelrun("validate", self.spec(), "--nice", "30")
        self.assertUsageError(run, "setting --nice: '30' is not valid: give a whole number from "
                                   "0 to 20")

    def test_set_is_applied_and_a_yaml_error_stops_the_rest(self):
        self.write("score.py", "def run(mini_batch)\n")  # would be a problem too
        spec = self.write("v2.yaml", """
            type: parallel
            name: v2
            inputs:
              data:
                type: uri_folder
            input_data: ${{inputs.data}}
            task:
              type: run_function
              code: .
              entry_script: score.py
            """)
        broken = self.write("broken.yaml", spec.read_text().replace("task:", "task"))
        run = self.run_parallelrun("validate", broken, "--set", "mini_batch_size=0")
        self.assertExit(run, 2)
        self.assertIn("broken.yaml:", run.stderr)
        self.assertNotIn("problems", run.stderr)
        self.assertNotIn("score.py", run.stderr)
        run = self.run_parallelrun("validate", spec, "--set", "mini_batch_size=0")
        self.assertExit(run, 2)
        self.assertIn("2 problems:", run.stderr)
        self.assertIn("mini_batch_size '0' is not valid", run.stderr)

    def test_unbound_inputs_are_not_a_problem(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        run = self.run_parallelrun("validate", self.spec())
        self.assertExit(run, 0)
        self.assertNotIn("bound", run.stdout)
        self.assertEqual(run.stderr, "")

    def test_a_job_dir_that_holds_a_job_is_a_problem(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.make_files(self.tmp / "data", ["a.txt"])
        spec = self.component_spec(entry="score.py")
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out")
        self.assertExit(run, 0)
        run = self.run_parallelrun("validate", spec, "-i", "data=data", "--job-dir",
                                   self.job_dir)
        self.assertExit(run, 2)
        self.assertIn("resume", run.stderr)

    def test_tabular_partition_and_mode_notes_are_shown(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.write("table/a.csv", "id\n1\n")
        self.write("table/MLTable", "paths:\n  - file: ./a.csv\ntransformations:\n"
                                    "  - read_delimited:\n      header: all_files_same_headers\n")
        spec = self.write("v2.yaml", """
            type: parallel
            name: v2
            inputs:
              data:
                type: mltable
            input_data: ${{inputs.data}}
            resources:
              instance_count: 2
            task:
              type: run_function
              code: .
              entry_script: score.py
            """)
        run = self.run_parallelrun("validate", spec, "-i", "data=table")
        self.assertExit(run, 0)
        self.assertIn("input data (mltable, mode ro_mount) is read as a file list", run.stdout)
        self.assertIn("warning: the spec asks for 2 nodes (instance_count) but no launcher was "
                      "found", run.stdout)
        self.assertIn("  bound  data = %s (an MLTable file list)" % (self.tmp / "table"),
                      run.stdout)
        run = self.run_parallelrun("validate", spec, "-i", "data=table", "--set",
                                   "inputs.data.mode=direct")
        self.assertExit(run, 0)
        self.assertIn("(a table: mini_batch_size in bytes)", run.stdout)


if __name__ == "__main__":
    unittest.main()
