"""End to end: mistakes on the command line, in the spec or in the entry script.

Each one must exit 2 with one clear message on stderr ("parallelrun: error: "
and then the whole message asserted here), print nothing on stdout, and run
nothing: no job dir (neither --job-dir nor ./parallelrun-jobs), no output
folder, no worker (the entry script would leave a marker file).
"""

import subprocess
import unittest

import helpers
from helpers import E2ETestCase

# An entry script that leaves a marker in the current folder when imported:
# if the marker exists, a worker ran.
MARKER_SCRIPT = """
    import os
    open(os.path.join(os.getcwd(), "worker-ran"), "w").close()

    def run(mini_batch):
        return mini_batch
    """


class BadInputTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.write("score.py", MARKER_SCRIPT)
        (self.tmp / "data").mkdir()
        (self.tmp / "data" / "one.txt").write_text("1")

    def spec(self, entry="score.py", **kwargs):
        return self.component_spec(entry=entry, **kwargs)

    def run_bad(self, *args):
        """Runs `parallelrun run ... ` without --job-dir (cwd = tmp) and checks
        that nothing ran. Returns the Run."""
        run = self.run_parallelrun("run", *args)
        self.assertNothingRan()
        return run

    def assertNothingRan(self):
        self.assertFalse((self.tmp / "parallelrun-jobs").exists(), "a job dir was created")
        self.assertFalse((self.tmp / "job").exists(), "the --job-dir was created")
        self.assertFalse((self.tmp / "out").exists(), "the output folder was created")
        self.assertFalse((self.tmp / "worker-ran").exists(), "a worker ran")

    # ---- inputs --------------------------------------------------------------

    def test_missing_input_folder(self):
        run = self.run_bad(self.spec(), "-i", "data=./nope", "-o", "out=out")
        self.assertUsageError(run, "input data: %s/nope: No such file or directory" % self.tmp)

    def test_required_input_not_given(self):
        run = self.run_bad(self.spec(), "-o", "out=out")
        self.assertUsageError(run, "input data has no value; give it with -i data=PATH")

    def test_unknown_input_name(self):
        run = self.run_bad(self.spec(), "-i", "dta=data", "-o", "out=out")
        self.assertUsageError(run, "-i dta: the spec has no input 'dta' (did you mean 'data'?); "
                                   "its inputs are: data")

    def test_unknown_input_name_far_from_any(self):
        run = self.run_bad(self.spec(), "-i", "data=data", "-i", "zzzzzzzz=1", "-o", "out=out")
        self.assertUsageError(run, "-i zzzzzzzz: the spec has no input 'zzzzzzzz'; its inputs "
                                   "are: data")

    def test_binding_without_equals(self):
        run = self.run_bad(self.spec(), "-i", "data", "-o", "out=out")
        self.assertUsageError(run, "-i data: give NAME=PATH")

    # ---- entry script --------------------------------------------------------

    def test_entry_script_missing(self):
        spec = self.spec(entry="missing.py")
        run = self.run_bad(spec, "-i", "data=data", "-o", "out=out")
        self.assertUsageError(
            run, "%s:14:10: entry script missing.py not found (looked for %s/missing.py)\n"
                 "    entry: missing.py\n"
                 "           ^" % (spec, self.tmp))

    def test_entry_script_syntax_error(self):
        self.write("broken.py", """
            import os

            def run(mini_batch):
                return [p for p in mini_batch if]
            """)
        run = self.run_bad(self.spec(entry="broken.py"), "-i", "data=data", "-o", "out=out")
        # Where the workers' Python puts the error (3.11: at the ']', col 37).
        where = subprocess.run(
            [helpers.PYTHON, "-c", "import sys\ntry: compile(open(sys.argv[1]).read(), 'x', 'exec')\n"
             "except SyntaxError as e: print(e.lineno, e.offset, e.msg)", self.tmp / "broken.py"],
            capture_output=True, text=True, timeout=30).stdout.split(" ", 2)
        self.assertEqual(where[0], "4")
        col = int(where[1])
        self.assertUsageError(
            run, "%s/broken.py:4:%d: SyntaxError in the entry script: %s\n"
                 "      return [p for p in mini_batch if]\n"
                 "  %s^" % (self.tmp, col, where[2].strip(), " " * (col - 1)))

    def test_entry_script_without_run(self):
        self.write("norun.py", """
            def init():
                pass

            def process(mini_batch):
                return mini_batch
            """)
        run = self.run_bad(self.spec(entry="norun.py"), "-i", "data=data", "-o", "out=out")
        self.assertUsageError(
            run, "entry script %s/norun.py does not define run(mini_batch); parallelrun calls "
                 "init() once per worker, run(mini_batch) for every mini-batch and shutdown() "
                 "at the end" % self.tmp)

    # ---- settings ------------------------------------------------------------

    def test_bad_setting_values(self):
        cases = [
            (["--mini-batch-size", "10XB"],
             "setting --mini_batch_size: '10XB' is not valid: give a whole number ≥ 1, "
             "optionally with a unit KB, MB or GB (e.g. 10, 100KB, 1MB)"),
            (["--run-invocation-timeout", "0"],
             "setting --run_invocation_timeout: '0' is not valid: give seconds, more than 0 and "
             "at most 259200 (3 days)"),
            (["--logging-level", "LOUD"],
             "setting --logging_level: 'LOUD' is not valid: give DEBUG, INFO or WARNING"),
            (["--process_count_per_node", "0"],
             "setting --process_count_per_node: '0' is not valid: give a whole number from 1 "
             "to 4096"),
            (["--run_max_try", "-1"],
             "setting --run_max_try: '-1' is not valid: give a whole number from 1 to "
             "2147483647"),
        ]
        spec = self.spec()
        for flags, message in cases:
            with self.subTest(flags=flags):
                run = self.run_bad(spec, "-i", "data=data", "-o", "out=out", *flags)
                self.assertUsageError(run, message)

    def test_whole_number_settings_reject_fractions_exponents_hex_and_negatives(self):
        spec = self.spec()
        cases = []
        for value in ("1.5", "1e2", "0x10", "-2"):
            cases.append((["--error-threshold", value],
                          "setting --error_threshold: '%s' is not valid: give a whole number ≥ -1 "
                          "(-1: any number of failed items)" % value))
            cases.append((["--allowed_failed_count", value],
                          "setting --allowed_failed_count: '%s' is not valid: give a whole number "
                          "≥ -1 (-1: any number)" % value))
            cases.append((["--mini-batch-size", value],
                          "setting --mini_batch_size: '%s' is not valid: give a whole number ≥ 1, "
                          "optionally with a unit KB, MB or GB (e.g. 10, 100KB, 1MB)" % value))
            cases.append((["--run_max_try", value],
                          "setting --run_max_try: '%s' is not valid: give a whole number from 1 "
                          "to 2147483647" % value))
        # A file input's mini_batch_size counts files: a size is a mistake.
        cases.append((["--mini_batch_size", "10MB"],
                      "setting --mini_batch_size: '10MB' is not valid: for a file input it counts "
                      "files: give a whole number ≥ 1 without a unit (KB, MB and GB are for "
                      "tabular inputs)"))
        for flags, message in cases:
            with self.subTest(flags=flags):
                run = self.run_bad(spec, "-i", "data=data", "-o", "out=out", *flags)
                self.assertUsageError(run, message)

    def test_bad_setting_in_v2_spec_points_into_the_file(self):
        spec = self.write("v2.yaml", """
            type: parallel
            inputs:
              data:
                type: uri_folder
            input_data: ${{inputs.data}}
            mini_batch_size: ten
            task:
              entry_script: score.py
            """)
        run = self.run_bad(spec, "-i", "data=data")
        self.assertUsageError(
            run, "%s:6:18: mini_batch_size 'ten' is not valid: give a whole number ≥ 1, "
                 "optionally with a unit KB, MB or GB (e.g. 10, 100KB, 1MB)" % spec)

    # ---- output --------------------------------------------------------------

    def test_output_folder_cannot_be_created(self):
        (self.tmp / "plainfile").write_text("not a folder")
        run = self.run_parallelrun("run", self.spec(), "-i", "data=data",
                                   "-o", "out=plainfile/out", "--job-dir", "job")
        self.assertNothingRan()
        self.assertUsageError(
            run, "output out %s/plainfile/out: cannot create folder: %s/plainfile is not a "
                 "folder" % (self.tmp, self.tmp))

    def test_job_dir_cannot_be_created(self):
        (self.tmp / "plainfile").write_text("not a folder")
        run = self.run_parallelrun("run", self.spec(), "-i", "data=data", "-o", "out=out",
                                   "--job-dir", "plainfile/job")
        self.assertFalse((self.tmp / "worker-ran").exists(), "a worker ran")
        self.assertUsageError(
            run, "job dir %s/plainfile/job: cannot create folder: %s/plainfile is not a "
                 "folder" % (self.tmp, self.tmp))

    def test_job_dir_failure_leaves_no_output_folder(self):
        (self.tmp / "plainfile").write_text("not a folder")
        run = self.run_parallelrun("run", self.spec(), "-i", "data=data", "-o", "out=out",
                                   "--job-dir", "plainfile/job")
        self.assertExit(run, 2)
        self.assertFalse((self.tmp / "out").exists(),
                         "exit 2 (nothing ran) but the output folder was created")

    # ---- spec ----------------------------------------------------------------

    def test_broken_yaml(self):
        spec = self.write("broken.yaml", """
            name: broken
            version: 1
            type: ParallelComponent
            inputs:
              data: {type: path
            outputs:
              out: {type: path}
            parallel:
              input_data: inputs.data
              output_data: outputs.out
              entry: score.py
            """)
        run = self.run_bad(spec, "-i", "data=data", "-o", "out=out")
        self.assertExit(run, 2)
        lines = run.stderr.splitlines()
        self.assertEqual(len(lines), 3, run.stderr)
        self.assertEqual(lines[0], "parallelrun: error: %s:5:9: this '{' is not closed: end "
                         "the mapping with '}' on the same line, or write one 'key: value' per "
                         "line" % spec)
        line, col = map(int, lines[0][len("parallelrun: error: %s:" % spec):].split(":")[:2])
        source = spec.read_text().splitlines()[line - 1]
        self.assertEqual(lines[1], "  " + source)
        self.assertEqual(lines[2], "  " + " " * (col - 1) + "^")
        self.assertEqual(run.stdout, "")

    def test_broken_yaml_exact(self):
        spec = self.write("broken.yaml", """
            name: broken
            version: 1
            type: ParallelComponent
            parallel:
              input_data: inputs.data
              output_data: [outputs.out
              entry: score.py
            """)
        run = self.run_bad(spec, "-i", "data=data", "-o", "out=out")
        self.assertUsageError(
            run, "%s:6:16: this '[' is not closed: end the list with ']' on the same line, "
                 "or write one '- item' per line\n"
                 "    output_data: [outputs.out\n"
                 "                 ^" % spec)

    def test_yaml_indentation_errors_point_at_the_wrong_line(self):
        head = "name: b\nversion: 1\ntype: ParallelComponent\n"
        for text, message, source, caret in [
            ("inputs:\n  data:\n    type: path\n   optional: true\n",
             "7:4: this line is indented 3 spaces, which matches no key above it; indent it like "
             "'type:' (4 spaces) or 'data:' (2 spaces)", "   optional: true", "   ^"),
            # yaml-cpp fails on the line after; the mistake is the missing colon.
            ("inputs:\n  data: {type: path}\noutputs\n  out: {type: path}\n",
             "6:8: 'outputs' needs a colon to be a key: 'outputs:'", "outputs", "       ^"),
        ]:
            with self.subTest(message=message):
                spec = self.tmp / "broken.yaml"
                spec.write_text(head + text)
                run = self.run_parallelrun("validate", spec)
                self.assertUsageError(run, "%s:%s\n  %s\n  %s" % (spec, message, source, caret))

    def test_v1_placeholder_in_a_v2_spec_is_a_warning(self):
        self.write("src/score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.make_files(self.tmp / "data", ["a.txt"])
        spec = self.write("v2.yaml", """
            type: parallel
            name: v2
            version: 1
            inputs:
              data:
                type: uri_folder
            outputs:
              result:
                type: uri_folder
            input_data: ${{inputs.data}}
            task:
              type: run_function
              code: ./src
              entry_script: score.py
              program_arguments: --out {outputs.result} --in ${{inputs.data}}
            """)
        warning = ("%s:15:22: warning: program_arguments has {outputs.result}, the v1 spelling, "
                   "which a v2 spec passes to the entry script as literal text; write "
                   "${{outputs.result}}" % spec)
        run = self.run_parallelrun("run", spec, "-i", "data=data", "-o", "result=out", "--dry-run")
        self.assertExit(run, 0)
        self.assertIn("parallelrun: %s\n" % warning, run.stderr)
        validated = self.run_parallelrun("validate", spec)
        self.assertExit(validated, 0)
        self.assertEqual(validated.stdout.splitlines()[0], warning)

    def test_unknown_key_in_spec(self):
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
              entri: score.py
            """)
        run = self.run_bad(spec, "-i", "data=data", "-o", "out=out")
        self.assertUsageError(
            run, "%s:11:3: unknown key 'entri' in parallel; did you mean 'entry'?\n"
                 "    entri: score.py\n"
                 "    ^" % spec)

    def test_spec_file_missing(self):
        run = self.run_bad("nothere.yaml", "-i", "data=data", "-o", "out=out")
        self.assertUsageError(run, "spec nothere.yaml: No such file or directory")


if __name__ == "__main__":
    unittest.main()
