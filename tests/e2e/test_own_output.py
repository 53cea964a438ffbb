"""End to end: a job never reads what it writes (issue 9, item 9).

The default job dir is never made inside an input folder; a job dir or an
output folder inside an input is left out of its listing, and the terminal
and the master log say so once; an output folder that is an input folder is
a usage error unless --allow-output-in-input says it is meant.
"""

import os
import unittest

from helpers import E2ETestCase


class OwnOutputTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.data = self.tmp / "data"
        self.made = sorted(self.make_files(self.data, ["a.txt", "sub/b.txt"]))
        self.copy_script("record_paths.py")
        self.spec = self.component_spec()

    def listed(self, out_dir):
        """Every path the workers got, sorted."""
        return sorted(p for paths in self.recorded_paths(out_dir).values() for p in paths)

    def test_default_job_dir_is_not_made_inside_the_input(self):
        # `cd data && parallelrun run spec.yaml -i data=.` used to make
        # data/parallelrun-jobs, whose logs the job then listed as input.
        run = self.run_parallelrun("run", self.spec, "-i", "data=.", "-o", "out=../out",
                                   "--progress", "none", cwd=self.data)
        self.assertExit(run, 0)
        self.assertFalse((self.data / "parallelrun-jobs").exists(), repr(run))
        jobs = os.listdir(self.tmp / "parallelrun-jobs")
        self.assertEqual(len(jobs), 1)
        self.assertTrue(jobs[0].startswith("e2e_component-"), jobs)
        real = os.path.realpath(self.tmp)
        self.assertIn("parallelrun: the job dir goes under %s/parallelrun-jobs: ./parallelrun-jobs "
                      "would be inside input data (%s/data), and the job would read its own logs "
                      "(--job-dir chooses another place)\n" % (real, real), run.stderr)
        self.assertEqual(self.listed(self.tmp / "out"),
                         sorted(os.path.join(os.fsencode(self.data), n)
                                for n in (b"a.txt", b"sub/b.txt")))

    def test_output_and_job_dir_inside_the_input_are_left_out(self):
        # What an earlier run left in the output must not become input either.
        self.make_files(self.data / "out", ["earlier_result.txt"])
        run = self.run_job(self.spec, "-i", "data=data", "-o", "out=data/out",
                           job_dir="data/job")
        self.assertExit(run, 0)
        self.assertEqual(self.listed(self.data / "out"),
                         sorted(os.path.join(os.fsencode(self.data), n)
                                for n in (b"a.txt", b"sub/b.txt")))
        warning = ("input data (%s): left out %s, %s, which this job writes (its job dir or an "
                   "output): its files are not input"
                   % (self.data, self.data / "job", self.data / "out"))
        self.assertEqual(run.stderr.count(warning), 1, run.stderr)
        self.assertIn("parallelrun: warning: " + warning + "\n", run.stderr)
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        said = [l for l in master.splitlines() if "|WARNING|" in l and l.endswith("|" + warning)]
        self.assertEqual(len(said), 1, master)
        self.assertEqual(len(self.mini_batch_rows()), 1)  # 2 files, mini_batch_size 10

    def test_output_equal_to_the_input_is_refused(self):
        run = self.run_job(self.spec, "-i", "data=data", "-o", "out=data")
        self.assertUsageError(
            run, "output out (%s) is the folder of input data (%s): the job would read what it "
                 "writes; give -o out another folder, or --allow-output-in-input if that is meant"
                 % (self.data, self.data))
        self.assertFalse(self.job_dir.exists())
        # The same folder by another spelling is the same folder.
        run = self.run_job(self.spec, "-i", "data=data", "-o", "out=data/sub/..")
        self.assertExit(run, 2)
        self.assertIn("is the folder of input data", run.stderr)

    def test_output_equal_to_the_input_when_meant(self):
        for flag in ("--allow-output-in-input", "--allow_output_in_input"):
            with self.subTest(flag=flag):
                run = self.run_job(self.spec, "-i", "data=data", "-o", "out=data", flag,
                                   job_dir="job" + flag)
                self.assertExit(run, 0)
                self.assertNotIn("left out", run.stderr)
                self.assertTrue(self.recorded_paths(self.data))


if __name__ == "__main__":
    unittest.main()
