"""Issue 10: inputs keep their declared mode, and nothing is guessed silently.

- An mltable input is a table in `direct` mode and a file list otherwise,
  whether its path comes from the spec or from -i; `--set
  inputs.NAME.mode=direct` changes it; a file list of an MLTable that could
  be a table says so once, with how to get a table.
- partition_keys on a plain folder map keys to folder levels by position:
  shown as a warning (key → level, with an example path), an error when the
  files lie deeper than the keys.
- A spec asking for several nodes without a launcher says how to launch.
- The dry run shows the real division: partitions with keys and sizes,
  tables as byte ranges.
"""

import os
import re
import unittest

from helpers import E2ETestCase

# Records the type of each mini-batch (list or DataFrame) in $OUT_DIR.
RECORD_TYPE = """
import os


def run(mini_batch):
    folder = os.environ["OUT_DIR"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "type_%d.txt" % os.getpid()), "a") as f:
        f.write(type(mini_batch).__name__ + "\\n")
    return mini_batch
"""


def v2_spec(mode=None, path=None, extra=()):
    lines = ["type: parallel", "name: e2e_modes", "version: 1", "inputs:", "  data:",
             "    type: mltable"]
    if mode:
        lines.append("    mode: %s" % mode)
    if path:
        lines.append("    path: %s" % path)
    lines += ["outputs:", "  result:", "    type: uri_folder", "input_data: ${{inputs.data}}",
              "max_concurrency_per_instance: 1"]
    lines += list(extra)
    lines += ["task:", "  type: run_function", "  code: ./src", "  entry_script: score.py"]
    return "\n".join(lines) + "\n"


class ModeCase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.out = self.tmp / "out"
        self.write("src/score.py", RECORD_TYPE)
        self.write("table/a.csv", "id,x\n1,a\n2,b\n3,c\n")
        self.write("table/MLTable", """
            paths:
              - file: ./a.csv
            transformations:
              - read_delimited:
                  header: all_files_same_headers
        """)

    def types(self):
        found = []
        for name in sorted(os.listdir(self.out)):
            found += (self.out / name).read_text().split()
        return sorted(set(found))


class InputModeTest(ModeCase):
    NOTE = ("parallelrun: input data (mltable, mode %s) is read as a file list: run() gets file "
            "paths; for a table (pandas DataFrames, mini_batch_size in bytes) give it mode: "
            "direct, or --set inputs.data.mode=direct\n")

    def test_direct_mode_from_the_spec_is_kept_when_i_binds_the_path(self):
        spec = self.write("spec.yaml", v2_spec(mode="direct", path="./elsewhere"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEqual(self.types(), ["DataFrame"])
        self.assertNotIn("file list", run.stderr)

    def test_without_direct_an_mltable_is_a_file_list_and_says_so_once(self):
        for mode in (None, "ro_mount", "download"):
            with self.subTest(mode=mode):
                spec = self.write("spec.yaml", v2_spec(mode=mode))
                out = self.tmp / ("out-%s" % mode)
                run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                                   job_dir="job-%s" % mode, env={"OUT_DIR": str(out)})
                self.assertExit(run, 0)
                self.out = out
                self.assertEqual(self.types(), ["list"])
                note = self.NOTE % (mode or "ro_mount")
                self.assertEqual(run.stderr.count(note), 1, run.stderr)

    def test_set_mode_direct_makes_it_a_table(self):
        spec = self.write("spec.yaml", v2_spec(mode="ro_mount"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                           "--set", "inputs.data.mode=direct", env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEqual(self.types(), ["DataFrame"])
        self.assertNotIn("file list", run.stderr)
        # And the other way round.
        spec = self.write("spec2.yaml", v2_spec(mode="direct"))
        out = self.tmp / "out2"
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"), "--set",
                           "inputs.data.mode=ro_mount", job_dir="job2", env={"OUT_DIR": str(out)})
        self.assertExit(run, 0)
        self.out = out
        self.assertEqual(self.types(), ["list"])
        self.assertEqual(run.stderr.count(self.NOTE % "ro_mount"), 1, run.stderr)

    def test_a_file_list_mltable_needs_no_note(self):
        self.write("files/MLTable", "paths:\n  - pattern: ./*.txt\n")
        self.write("files/a.txt", "x\n")
        spec = self.write("spec.yaml", v2_spec(mode="ro_mount"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "files"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEqual(self.types(), ["list"])
        self.assertNotIn("file list", run.stderr)


def folder_spec(keys, extra=()):
    lines = ["type: parallel", "name: e2e_guesses", "version: 1", "inputs:", "  data:",
             "    type: uri_folder", "outputs:", "  result:", "    type: uri_folder",
             "input_data: ${{inputs.data}}", "partition_keys: %s" % keys,
             "max_concurrency_per_instance: 1"] + list(extra)
    lines += ["task:", "  type: run_function", "  code: ./src", "  entry_script: score.py"]
    return "\n".join(lines) + "\n"


PARTITION_SCRIPT = """
def run(mini_batch, mini_batch_context):
    return mini_batch
"""


class FolderKeysTest(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.write("src/score.py", PARTITION_SCRIPT)

    def test_keys_as_deep_as_the_folders_run_with_the_mapping_shown(self):
        # The reference's sample: {user}/{season}/{genres}.wav with keys
        # user, genres. Two folder levels, two keys: genres is the season
        # folder — not what was meant, and the warning shows it.
        for rel in ("u1/summer/rock.wav", "u1/winter/jazz.wav", "u2/summer/rock.wav"):
            self.write("music/" + rel, "x")
        spec = self.write("spec.yaml", folder_spec("[user, genres]"))
        run = self.run_job(spec, "-i", "data=music")
        self.assertExit(run, 0)
        self.assertIn(
            "parallelrun: warning: input data has no partition format: partition_keys are read "
            "from folder levels by position: user = folder level 1 ('u1'), genres = folder "
            "level 2 ('summer'), e.g. u1/summer/rock.wav; if that is not meant, name the folders "
            "key=value (e.g. user=…), or bind the input as an mltable whose MLTable file has "
            "extract_columns_from_partition_format (e.g. '{user}/…')\n", run.stderr)
        self.assertEqual(len(self.mini_batch_rows()), 3)

    def test_files_deeper_than_the_keys_are_an_error(self):
        self.write("music/u1/summer/rock/a.wav", "x")
        spec = self.write("spec.yaml", folder_spec("[user, genres]"))
        run = self.run_job(spec, "-i", "data=music")
        self.assertUsageError(
            run, "input data: partition_keys [user, genres] are read from folder levels, but its "
                 "files lie deeper than that (3 folder levels in u1/summer/rock/a.wav, for 2 "
                 "keys): which levels hold the keys would be a guess; name the folders key=value "
                 "(e.g. user=…), or bind the input as an mltable whose MLTable file has "
                 "extract_columns_from_partition_format (e.g. '{user}/…')")
        self.assertFalse(self.job_dir.exists())

    def test_hive_folders_need_no_warning(self):
        self.write("data/user=u1/genres=rock/a.wav", "x")
        spec = self.write("spec.yaml", folder_spec("[user, genres]"))
        run = self.run_job(spec, "-i", "data=data")
        self.assertExit(run, 0)
        self.assertNotIn("warning", run.stderr)


class NodeCountTest(E2ETestCase):
    def test_instance_count_without_a_launcher_says_how_to_launch(self):
        self.write("src/score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.make_files(self.tmp / "data", ["a.txt", "b.txt"])
        spec = self.write("spec.yaml", folder_spec("[k]").replace(
            "partition_keys: [k]\n", "resources:\n  instance_count: 3\n"))
        run = self.run_job(spec, "-i", "data=data")
        self.assertExit(run, 0)
        line = ("parallelrun: warning: the spec asks for 3 nodes (instance_count) but no launcher "
                "was found: running on this one node; to run on 3 nodes, start this same command "
                "on each node with a launcher, e.g. srun --nodes=3 --ntasks-per-node=1 "
                "parallelrun run … (mpirun and torchrun work too; see \"Running on a cluster\" in "
                "the README)\n")
        self.assertEqual(run.stderr.count(line), 1, run.stderr)
        # --set sets it the same way; the one-node spec says nothing.
        run = self.run_job(spec, "-i", "data=data", "--set", "resources.instance_count=1",
                           job_dir="job2")
        self.assertExit(run, 0)
        self.assertNotIn("instance_count", run.stderr)


class DryRunDivisionTest(E2ETestCase):
    def test_partitions_are_listed_with_keys_and_sizes(self):
        self.write("src/score.py", PARTITION_SCRIPT)
        for country, states in (("FR", ["idf"]), ("US", ["ca", "ny"])):
            for state in states:
                for n in range(2):
                    self.write("data/country=%s/state=%s/f%d.txt" % (country, state, n), "12345")
        spec = self.write("spec.yaml", folder_spec("[country, state]"))
        run = self.run_parallelrun("run", spec, "-i", "data=data", "--dry-run")
        self.assertExit(run, 0)
        data = self.tmp / "data"
        lines = run.stdout.splitlines()
        start = lines.index("input data: %s: 6 files in 3 partitions by country, state (one "
                            "mini-batch each; mini_batch_size is not used)" % data)
        self.assertEqual(lines[start + 1:start + 4], [
            "  mini-batch 0: country=FR, state=idf (2 files, 10 B): country=FR/state=idf/f0.txt, "
            "country=FR/state=idf/f1.txt",
            "  mini-batch 1: country=US, state=ca (2 files, 10 B): country=US/state=ca/f0.txt, "
            "country=US/state=ca/f1.txt",
            "  mini-batch 2: country=US, state=ny (2 files, 10 B): country=US/state=ny/f0.txt, "
            "country=US/state=ny/f1.txt",
        ])

    def test_tables_are_listed_as_byte_ranges(self):
        self.write("src/score.py", "def run(mini_batch):\n    return mini_batch\n")
        rows = "".join("%d,%s\n" % (i, "x" * 40) for i in range(100))
        self.write("table/a.csv", "id,text\n" + rows)
        self.write("table/MLTable", """
            paths:
              - file: ./a.csv
            transformations:
              - read_delimited:
                  header: all_files_same_headers
        """)
        spec = self.write("spec.yaml", v2_spec(mode="direct", extra=['mini_batch_size: "1KB"']))
        run = self.run_parallelrun("run", spec, "-i", "data=table", "--dry-run")
        self.assertExit(run, 0)
        lines = run.stdout.splitlines()
        table = self.tmp / "table"
        ranges = [line for line in lines if line.startswith("  mini-batch ")]
        self.assertGreaterEqual(len(ranges), 4)
        header = [line for line in lines if line.startswith("input data: ")]
        self.assertEqual(header, ["input data: %s: 1 file in %d mini-batches of about 1024 bytes"
                                  % (table, len(ranges))])
        for line in ranges:
            self.assertRegex(line, r"^  mini-batch \d+ \((\d+ B|\d\.\d KB)\): a\.csv "
                                   r"\(bytes \d+-\d+\)$")
        # The ranges cover the file, one after another.
        ends = [tuple(map(int, re.search(r"bytes (\d+)-(\d+)", r).groups())) for r in ranges]
        self.assertIn(ends[0][0], (0, len("id,text\n")))  # the header may be left out
        for (_, end), (begin, _) in zip(ends, ends[1:]):
            self.assertEqual(begin, end + 1)
        self.assertEqual(ends[-1][1], (self.tmp / "table" / "a.csv").stat().st_size - 1)


if __name__ == "__main__":
    unittest.main()
