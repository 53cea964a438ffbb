"""Partitioned input end to end (issue 4; reference §1.2 partition_keys, §3.2).

With partition_keys, every distinct combination of the keys' values is one
mini-batch, and run(mini_batch, mini_batch_context) gets the context with
partition_key_value, minibatch_index and dataset. For files the values come
from the folders (one key per folder level, Hive's key=value, or an MLTable's
extract_columns_from_partition_format, matched against paths relative to the
MLTable's folder); for an MLTable table, from its paths too, the group's files
read whole into one DataFrame; for keys that are table columns, from a
shuffle of the rows.
"""

import glob
import json
import os
import re
import unittest

from helpers import E2ETestCase

# Writes what each mini-batch got to mb_<minibatch_index>.json in $OUT_DIR.
RECORD_CONTEXT = """
import json
import os


def run(mini_batch, mini_batch_context):
    folder = os.environ["OUT_DIR"]
    os.makedirs(folder, exist_ok=True)
    if isinstance(mini_batch, list):
        items = mini_batch
    else:
        items = [{k: (None if v != v else str(v)) for k, v in r.items()}
                 for r in mini_batch.to_dict("records")]
    with open(os.path.join(folder, "mb_%d.json" % mini_batch_context.minibatch_index), "w") as f:
        json.dump({"kv": mini_batch_context.partition_key_value,
                   "index": mini_batch_context.minibatch_index,
                   "dataset_is_mini_batch": mini_batch_context.dataset is mini_batch,
                   "type": type(mini_batch).__name__, "items": items}, f)
    return mini_batch
"""

# run(mini_batch) only: the original's scripts without a context still work.
RECORD_ONE_ARG = """
import json
import os


def run(mini_batch):
    folder = os.environ["OUT_DIR"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "one_%d.json" % os.getpid()), "a") as f:
        f.write(json.dumps(mini_batch) + "\\n")
    return mini_batch
"""

COUNTRIES = {"US": ["ca", "ny", "wa"], "FR": ["idf", "paca"]}


def v2_spec(input_type="uri_folder", mode=None, keys="[country, state]"):
    lines = ["type: parallel", "name: e2e_partitions", "version: 1", "inputs:", "  data:",
             "    type: %s" % input_type]
    if mode:
        lines.append("    mode: %s" % mode)
    lines += ["outputs:", "  result:", "    type: uri_folder", "input_data: ${{inputs.data}}"]
    if keys:
        lines.append("partition_keys: %s" % keys)
    lines += ["max_concurrency_per_instance: 2", "task:", "  type: run_function", "  code: ./src",
              "  entry_script: score.py"]
    return "\n".join(lines) + "\n"


class PartitionCase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.out = self.tmp / "out"

    def start(self, spec_text, script=RECORD_CONTEXT):
        self.write("src/score.py", script)
        return self.write("spec.yaml", spec_text)

    def make_tree(self, root, pattern="{country}/{state}/f{n}.txt", files_per_state=3):
        """Files under root; returns {(country, state): [paths]}."""
        made = {}
        for country, states in COUNTRIES.items():
            for state in states:
                for n in range(files_per_state):
                    rel = pattern.format(country=country, state=state, n=n)
                    path = self.tmp / root / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("%s %s %d\n" % (country, state, n))
                    made.setdefault((country, state), []).append(str(path))
        return made

    def recorded(self):
        """{mini-batch index: what run() recorded}."""
        out = {}
        for path in glob.glob(str(self.out / "mb_*.json")):
            with open(path) as f:
                j = json.load(f)
            out[j["index"]] = j
        return out

    def assertOneMiniBatchPerCombination(self, made, keys=("country", "state")):
        recorded = self.recorded()
        report = {int(r["Mini-batch Id"]): r for r in self.sorted_rows()}
        self.assertEqual(sorted(recorded), sorted(report))
        self.assertEqual(sorted(report), list(range(len(report))))
        expected = {}
        for (country, state), paths in made.items():
            key = tuple({"country": country, "state": state}[k] for k in keys)
            expected.setdefault(key, []).extend(paths)
        got = {}
        for index, j in recorded.items():
            self.assertEqual(list(j["kv"]), list(keys))
            key = tuple(j["kv"][k] for k in keys)
            self.assertNotIn(key, got, "combination %r in two mini-batches" % (key,))
            got[key] = j["items"]
            self.assertTrue(j["dataset_is_mini_batch"])
            self.assertEqual(report[index]["Status"], "RUN_DONE")
            self.assertEqual(int(report[index]["Total"]), len(j["items"]))
        self.assertEqual({k: sorted(v) for k, v in got.items()},
                         {k: sorted(v) for k, v in expected.items()})
        return recorded


class FilePartitionTest(PartitionCase):
    def test_two_folder_levels_give_one_mini_batch_per_combination(self):
        made = self.make_tree("data")
        (self.tmp / "data" / "README.md").write_text("not in a partition\n")
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.assertOneMiniBatchPerCombination(made)
        self.assertEqual(len(recorded), 5)
        for j in recorded.values():
            self.assertEqual(j["type"], "list")
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("Listed 16 files of input data (%s) in " % (self.tmp / "data"), master)
        self.assertRegex(master, r" seconds \(the lister's CPU: \d+\.\d{3} s\): 5 partitions by "
                                 r"country, state\.")
        self.assertIn("input data (%s): skipped 1 file that does not match the partition format "
                      "(one key per folder level): README.md" % (self.tmp / "data"), master)

    def test_files_not_at_the_partition_depth_are_named_on_the_terminal(self):
        made = self.make_tree("data")
        for rel in ("README.md", "US/notes.txt", "FR/other.txt"):
            (self.tmp / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.tmp / "data" / rel).write_text("not in a partition\n")
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertOneMiniBatchPerCombination(made)
        line = ("input data (%s): skipped 3 files that do not match the partition format (one key "
                "per folder level): FR/other.txt, README.md, US/notes.txt"
                % (self.tmp / "data"))
        self.assertIn("parallelrun: warning: %s\n" % line, run.stderr)
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("|WARNING|", master)
        self.assertIn(line, master)

    def test_run_with_one_argument_still_works(self):
        made = self.make_tree("data")
        spec = self.start(v2_spec(), script=RECORD_ONE_ARG)
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        batches = []
        for path in glob.glob(str(self.out / "one_*.json")):
            with open(path) as f:
                batches += [json.loads(line) for line in f]
        self.assertEqual(sorted(sorted(b) for b in batches),
                         sorted(sorted(paths) for paths in made.values()))

    def test_hive_style_folders_and_the_partition_keys_flag(self):
        made = self.make_tree("data", pattern="country={country}/state={state}/part-{n}.txt")
        spec = self.start(v2_spec(keys=None))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           "--partition_keys", '["country", "state"]',
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertOneMiniBatchPerCombination(made)

    def test_mltable_partition_format_with_keys_spread_over_folders(self):
        # One state's files lie under every country: no group is complete
        # before the listing ends; the groups still come out whole.
        made = {}
        for country in ("US", "FR"):
            for state in ("north", "south"):
                for n in range(2):
                    path = self.tmp / "files" / "data" / country / state / ("f%d.txt" % n)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("x\n")
                    made.setdefault((country, state), []).append(str(path))
        self.write("files/MLTable", """
            paths:
              - folder: ./data
            transformations:
              - extract_columns_from_partition_format: 'data/{country}/{state}/*.txt'
        """)
        spec = self.start(v2_spec(input_type="mltable", mode="ro_mount", keys="[state]"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "files"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.assertOneMiniBatchPerCombination(made, keys=("state",))
        self.assertEqual(sorted(j["kv"]["state"] for j in recorded.values()), ["north", "south"])

    def test_a_key_the_format_lacks_is_a_usage_error(self):
        self.make_tree("files/data")
        self.write("files/MLTable", """
            paths:
              - folder: ./data
            transformations:
              - extract_columns_from_partition_format: '{country}/{state}/*.txt'
        """)
        spec = self.start(v2_spec(input_type="mltable", mode="ro_mount", keys="[city]"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "files"))
        self.assertUsageError(
            run, "partition key 'city' is not a key of input data (its partition format "
                 "'{country}/{state}/*.txt' gives: country, state)")


class TablePartitionTest(PartitionCase):
    def write_table(self):
        """An MLTable of CSV files under {country}/{state}/; returns the rows."""
        rows = []
        for country, states in COUNTRIES.items():
            for state in states:
                for n in range(2):
                    path = self.tmp / "table" / "data" / country / state / ("p%d.csv" % n)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    lines = ["id,amount,note"]
                    for i in range(4):
                        ident = len(rows)
                        rows.append((ident, country, state))
                        lines.append('%d,%d.5,"note ""%d""\nsecond line"' % (ident, i, ident))
                    path.write_text("\n".join(lines) + "\n")
        self.write("table/MLTable", """
            paths:
              - pattern: ./data/**/*.csv
            transformations:
              - read_delimited:
                  header: all_files_same_headers
              - extract_columns_from_partition_format: 'data/{country}/{state}/*.csv'
        """)
        return rows

    def test_a_table_partitioned_by_its_paths_gives_one_frame_per_combination(self):
        rows = self.write_table()
        spec = self.start(v2_spec(input_type="mltable", mode="direct"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEqual(len(recorded), 5)
        seen = {}
        report = {int(r["Mini-batch Id"]): r for r in self.sorted_rows()}
        for index, j in recorded.items():
            self.assertEqual(j["type"], "DataFrame")
            self.assertTrue(j["dataset_is_mini_batch"])
            self.assertEqual(int(report[index]["Total"]), len(j["items"]))
            self.assertEqual(int(report[index]["Total"]), 8)
            for row in j["items"]:
                self.assertEqual(list(row), ["id", "amount", "note", "country", "state"])
                self.assertEqual((row["country"], row["state"]),
                                 (j["kv"]["country"], j["kv"]["state"]))
                self.assertEqual(row["note"], 'note "%s"\nsecond line' % row["id"])
                seen.setdefault(int(row["id"]), []).append((row["country"], row["state"]))
        self.assertEqual(seen, {ident: [(c, s)] for ident, c, s in rows})
        detail = json.loads(report[0]["Mini-batch Detail"])
        self.assertEqual(len(detail["items"]), 2)
        for item in detail["items"]:
            self.assertTrue(item.startswith(str(self.tmp / "table" / "data")), item)
            self.assertTrue(item.endswith(".csv"), item)

    def test_a_table_partitioned_by_two_columns(self):
        # The OJ-sales shape (reference §1.2): one mini-batch per store and
        # brand, the rows of every file that has them.
        data = self.tmp / "sales"
        data.mkdir()
        rows = []
        for f in range(3):
            lines = ["week,store,brand,quantity,note"]
            for i in range(40):
                ident = len(rows)
                store, brand = [2, 5, 8][(i + f) % 3], ["tropicana", "dominicks"][i % 2]
                rows.append((ident, store, brand))
                lines.append('%d,%d,%s,%d,"q ""%d""\nline"' % (ident, store, brand, i, ident))
            (data / ("week%d.csv" % f)).write_text("\n".join(lines) + "\n")
        spec = self.start(v2_spec(input_type="mltable", mode="direct", keys="[store, brand]"))
        run = self.run_job(spec, "-i", "data=%s" % data, env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEqual(len(recorded), 6)
        report = {int(r["Mini-batch Id"]): r for r in self.sorted_rows()}
        self.assertEqual(sorted(report), list(range(6)))
        seen = {}
        for index, j in recorded.items():
            self.assertEqual(j["type"], "DataFrame")
            self.assertEqual(list(j["kv"]), ["store", "brand"])
            self.assertIsInstance(j["kv"]["store"], int)  # a column's typed value
            self.assertEqual(int(report[index]["Total"]), len(j["items"]))
            self.assertEqual(report[index]["Status"], "RUN_DONE")
            for row in j["items"]:
                self.assertEqual((int(row["store"]), row["brand"]),
                                 (j["kv"]["store"], j["kv"]["brand"]))
                self.assertEqual(row["note"], 'q "%s"\nline' % row["week"])
                seen.setdefault(int(row["week"]), []).append(index)
        self.assertEqual(sorted(seen), [r[0] for r in rows])
        self.assertTrue(all(len(v) == 1 for v in seen.values()))
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master, r"Shuffled 120 rows of input data \(%s\) \(3 files, 3 ranges, 2 "
                                 r"processes\) by store, brand into 6 partitions in [0-9.]+ "
                                 r"seconds" % re.escape(str(data)))
        # The shuffle's copy of the rows goes once the job succeeded.
        self.assertIn("Removed the partitions' spill files in %s." % (self.job_dir / "partitions"),
                      master)
        self.assertFalse((self.job_dir / "partitions").exists())
        # The same data gives the same mini-batch ids in every run.
        first = {i: (j["kv"]["store"], j["kv"]["brand"]) for i, j in recorded.items()}
        for path in glob.glob(str(self.out / "mb_*.json")):
            os.remove(path)
        run = self.run_job(spec, "-i", "data=%s" % data, job_dir="job2",
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEqual({i: (j["kv"]["store"], j["kv"]["brand"])
                          for i, j in self.recorded().items()}, first)

    def test_a_column_the_table_lacks_fails_naming_it(self):
        data = self.tmp / "sales"
        data.mkdir()
        (data / "a.csv").write_text("store,brand\n1,x\n")
        spec = self.start(v2_spec(input_type="mltable", mode="direct", keys="[store, color]"))
        run = self.run_job(spec, "-i", "data=%s" % data, env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 1)
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("input data (%s): the shuffle by partition_keys failed (exit code 1): "
                      "cannot partition %s (bytes 12-15): KeyError: \"partition key 'color' not "
                      "among the table's columns (store, brand)\"" % (data, data / "a.csv"),
                      result)


if __name__ == "__main__":
    unittest.main()
