"""first_task_creation_timeout (reference §1.2 driver knobs, §5 master loop):
the job fails when its first mini-batch does not exist that many seconds after
scheduling started, with the original's message.

A data source that is slow to give its first mini-batch is made without
timing: the input is a table partitioned by a column, so the master shuffles
it with the workers' Python before the first mini-batch exists, and a
sitecustomize on PYTHONPATH makes that shuffle process (argv `shuffle …`)
hang. The shuffle counts as progress (progress_update_timeout does not stop
it), so only first_task_creation_timeout can end the job; with the
sitecustomize absent the same job succeeds (test_partitions.py)."""

import unittest

from helpers import E2ETestCase

SITECUSTOMIZE = """
    import os, sys, time
    if sys.argv[1:2] == ["shuffle"]:
        open(os.path.join(os.environ["E2E_MARK_DIR"], "shuffle_started"), "w").close()
        time.sleep(3600)  # the job kills it long before
    """

SCRIPT = """
    def run(mini_batch):
        return []
    """

SPEC = """\
type: parallel
name: e2e_first_task
version: 1
inputs:
  data:
    type: mltable
    mode: direct
input_data: ${{inputs.data}}
partition_keys: [store]
max_concurrency_per_instance: 1
task:
  type: run_function
  code: ./src
  entry_script: score.py
"""


class FirstTaskCreationTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.write("src/score.py", SCRIPT)
        self.spec = self.write("spec.yaml", SPEC)
        self.write("site/sitecustomize.py", SITECUSTOMIZE)
        self.marks = self.tmp / "marks"
        self.marks.mkdir()
        self.data = self.tmp / "sales"
        self.data.mkdir()
        (self.data / "a.csv").write_text("store,brand\n1,x\n2,y\n")

    def test_a_first_mini_batch_that_takes_too_long_fails_the_job_naming_the_setting(self):
        run = self.run_job(self.spec, "-i", "data=%s" % self.data,
                           "--first_task_creation_timeout", "1",
                           env={"PYTHONPATH": str(self.tmp / "site"),
                                "E2E_MARK_DIR": str(self.marks)},
                           progress="plain")
        self.assertExit(run, 1)
        # The hang was the shuffle's, as the test means it to be.
        self.assertTrue((self.marks / "shuffle_started").exists(), run)
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("First task creation is taking longer than 1 seconds "
                      "(first_task_creation_timeout): no mini-batch was formed from input 0 "
                      "(data) in ", result)
        self.assertIn("This is usually caused by slow data source initialization; give a "
                      "larger --first_task_creation_timeout if the input needs more time",
                      result)
        self.assertIn("stopping: First task creation is taking longer than 1 seconds", run.stderr)


if __name__ == "__main__":
    unittest.main()
